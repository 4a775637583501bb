package main

import (
	"net/http"
	"net/url"
	"time"

	"omnisocial/providers"
	"omnisocial/sandbox"
	"omnisocial/vault"
)

// platforms builds the adapters. A platform without credentials talks to
// the sandbox when it is mounted (development mode or a demo install), and
// is shown as not configured otherwise.
func platforms(cfg config, sb *sandbox.Sandbox) (provs map[providers.Platform]providers.Provider, onSandbox, formActions []string, metaSecret vault.Token) {
	base := cfg.BaseURL.String()
	client := &http.Client{Timeout: 20 * time.Second}
	meta := providers.Config{
		MetaAppID: cfg.MetaAppID, MetaAppSecret: cfg.MetaAppSecret, MetaGraphVersion: cfg.MetaGraphVersion,
		MetaDialogBase: cfg.MetaDialogURL, MetaGraphBase: cfg.MetaGraphURL, HTTPClient: client,
	}
	tiktok := providers.Config{
		TikTokClientKey: cfg.TikTokClientKey, TikTokClientSecret: cfg.TikTokSecret,
		TikTokAuthBase: cfg.TikTokAuthURL, TikTokAPIBase: cfg.TikTokAPIURL, TikTokPKCE: cfg.TikTokPKCE, HTTPClient: client,
	}
	if sb != nil {
		// Server-side calls reach the sandbox in process: no loopback
		// round trip, and it works whatever the public base URL is.
		inProcess := sb.Client(20 * time.Second)
		metaID, metaSecret, tiktokKey, tiktokSecret := sb.Credentials()
		if cfg.MetaAppID == "" {
			meta.MetaAppID, meta.MetaAppSecret = metaID, vault.NewToken(metaSecret)
			meta.MetaDialogBase, meta.MetaGraphBase = base+"/sandbox/www.facebook.com", base+"/sandbox/graph.facebook.com"
			meta.HTTPClient = inProcess
			onSandbox = append(onSandbox, "facebook", "instagram")
		}
		if cfg.TikTokClientKey == "" {
			tiktok.TikTokClientKey, tiktok.TikTokClientSecret = tiktokKey, vault.NewToken(tiktokSecret)
			tiktok.TikTokAuthBase, tiktok.TikTokAPIBase = base+"/sandbox/www.tiktok.com", base+"/sandbox/open.tiktokapis.com"
			tiktok.HTTPClient = inProcess
			onSandbox = append(onSandbox, "tiktok")
		}
	}
	provs = map[providers.Platform]providers.Provider{}
	for _, p := range providers.Platforms() {
		c := meta
		if p == providers.TikTok {
			c = tiktok
		}
		c.RedirectURL = base + "/oauth/" + string(p) + "/callback"
		provs[p] = providers.New(p, c)
		authBase := c.MetaDialogBase
		if p == providers.TikTok {
			authBase = c.TikTokAuthBase
		}
		if u, err := url.Parse(authBase); err == nil && u.Host != cfg.BaseURL.Host {
			formActions = append(formActions, u.Scheme+"://"+u.Host)
		}
	}
	return provs, onSandbox, formActions, meta.MetaAppSecret
}
