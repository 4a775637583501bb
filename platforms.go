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
	apps := providers.Apps{
		Meta: providers.MetaConfig{AppID: cfg.MetaAppID, AppSecret: cfg.MetaAppSecret, GraphVersion: cfg.MetaGraphVersion,
			DialogBase: cfg.MetaDialogURL, GraphBase: cfg.MetaGraphURL, HTTPClient: client},
		TikTok: providers.TikTokConfig{ClientKey: cfg.TikTokClientKey, ClientSecret: cfg.TikTokSecret,
			AuthBase: cfg.TikTokAuthURL, APIBase: cfg.TikTokAPIURL, PKCE: cfg.TikTokPKCE, HTTPClient: client},
		Instagram: providers.InstagramLoginConfig{AppID: cfg.InstagramAppID, AppSecret: cfg.InstagramSecret,
			AuthBase: cfg.InstagramAuthURL, APIBase: cfg.InstagramAPIURL, GraphBase: cfg.InstagramGraph,
			GraphVersion: cfg.MetaGraphVersion, HTTPClient: client},
	}
	if sb != nil {
		// Server-side calls reach the sandbox in process: no loopback
		// round trip, and it works whatever the public base URL is.
		inProcess := sb.Client(20 * time.Second)
		metaID, metaSecret, tiktokKey, tiktokSecret := sb.Credentials()
		if cfg.MetaAppID == "" {
			apps.Meta.AppID, apps.Meta.AppSecret = metaID, vault.NewToken(metaSecret)
			apps.Meta.DialogBase, apps.Meta.GraphBase = base+"/sandbox/www.facebook.com", base+"/sandbox/graph.facebook.com"
			apps.Meta.HTTPClient = inProcess
		}
		if cfg.TikTokClientKey == "" {
			apps.TikTok.ClientKey, apps.TikTok.ClientSecret = tiktokKey, vault.NewToken(tiktokSecret)
			apps.TikTok.AuthBase, apps.TikTok.APIBase = base+"/sandbox/www.tiktok.com", base+"/sandbox/open.tiktokapis.com"
			apps.TikTok.HTTPClient = inProcess
		}
		if cfg.InstagramAppID == "" {
			id, secret := sb.InstagramCredentials()
			apps.Instagram.AppID, apps.Instagram.AppSecret = id, vault.NewToken(secret)
			apps.Instagram.AuthBase, apps.Instagram.APIBase = base+"/sandbox/www.instagram.com", base+"/sandbox/api.instagram.com"
			apps.Instagram.GraphBase, apps.Instagram.HTTPClient = base+"/sandbox/graph.instagram.com", inProcess
		}
		onSandbox = sandboxed(cfg)
	}
	provs = providers.All(apps, base)
	for _, p := range providers.Platforms() {
		if u, err := url.Parse(provs[p].AuthBase()); err == nil && u.Host != cfg.BaseURL.Host {
			formActions = append(formActions, u.Scheme+"://"+u.Host)
		}
	}
	return provs, onSandbox, formActions, apps.Meta.AppSecret
}

// appConfig says whether cfg holds the app credentials of p's sign-in, and
// in which variables an administrator sets them.
func appConfig(cfg config, p providers.Platform) (set bool, vars []string) {
	switch p {
	case providers.TikTok:
		return cfg.TikTokClientKey != "", []string{"OMNISOCIAL_TIKTOK_CLIENT_KEY", "OMNISOCIAL_TIKTOK_CLIENT_SECRET"}
	case providers.IGLogin:
		return cfg.InstagramAppID != "", []string{"OMNISOCIAL_INSTAGRAM_APP_ID", "OMNISOCIAL_INSTAGRAM_APP_SECRET"}
	}
	return cfg.MetaAppID != "", []string{"OMNISOCIAL_FACEBOOK_APP_ID", "OMNISOCIAL_FACEBOOK_APP_SECRET"}
}

// sandboxed lists the platforms without app credentials, which the sandbox
// serves when it is mounted.
func sandboxed(cfg config) []string {
	var out []string
	for _, p := range providers.Platforms() {
		if set, _ := appConfig(cfg, p); !set {
			out = append(out, string(p))
		}
	}
	return out
}
