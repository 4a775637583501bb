package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"omnisocial/store"
	"omnisocial/vault"
)

// config is everything the environment decides. loadConfig fills it from
// getenv alone, so tests pass a map instead of touching os.Environ.
type config struct {
	Addr    string
	DBPath  string
	BaseURL *url.URL
	Dev     bool
	Sandbox bool // mount the platform emulator under /sandbox
	// SandboxControlToken opens the sandbox's control API outside
	// development mode (bearer); empty there means the API is off.
	SandboxControlToken vault.Token
	Signup              string
	Proxies             []*net.IPNet

	EncryptionKey    []byte
	OldEncryptionKey []byte // only while `rotate-key` runs
	SessionSecret    []byte
	SessionIdle      time.Duration
	SessionMax       time.Duration
	PlanLimits       map[string]int

	MetaAppID        string
	MetaAppSecret    vault.Token
	MetaGraphVersion string
	MetaDialogURL    string
	MetaGraphURL     string
	InstagramAppID   string
	InstagramSecret  vault.Token
	InstagramAuthURL string
	InstagramAPIURL  string
	InstagramGraph   string
	TikTokClientKey  string
	TikTokSecret     vault.Token
	TikTokAuthURL    string
	TikTokAPIURL     string
	TikTokPKCE       string // code_challenge encoding: hex or s256

	RefreshEvery        time.Duration
	RefreshBatch        int
	RefreshWorkers      int
	RefreshRate         float64 // calls per second per platform
	ExpiryWarning       time.Duration
	HistoryDays         int
	LogLevel, LogFormat string

	APIRate           float64 // requests a second per API key, on average
	APIBurst          int     // requests an API key may send at once
	WebhookPauseAfter time.Duration
	MetricsToken      vault.Token // /metrics is off without it
	SMTP              *url.URL    // nil: no e-mail; holds a password, never logged
	MailFrom          string
}

// setting is one environment variable: its default and what it means. The
// README's configuration table is this list.
type setting struct{ name, def, doc string }

var settings = []setting{
	{"OMNISOCIAL_ADDR", ":8080", "address to listen on"},
	{"OMNISOCIAL_DB", "./data/omnisocial.db", "the database: a SQLite file (created if missing), or a postgres:// URL shared by every replica (see Running with PostgreSQL)"},
	{"OMNISOCIAL_BASE_URL", "http://localhost:8080", "public URL of the app; OAuth redirect URIs are built from it"},
	{"OMNISOCIAL_DEV", "false", "development mode: generates missing secrets into a file beside the database and talks to the built-in sandbox; webhooks may use http and reach this machine"},
	{"OMNISOCIAL_TRUSTED_PROXIES", "", "comma-separated CIDRs of reverse proxies whose X-Forwarded-For is believed (for the log-in limiter and logs); empty: use the connection's address"},
	{"OMNISOCIAL_SANDBOX", "false", "mount the platform sandbox under /sandbox outside development mode (demo installs)"},
	{"OMNISOCIAL_SANDBOX_CONTROL_TOKEN", "", "bearer token (at least 32 characters) that opens the sandbox's control API outside development mode; without it the control API is off there"},
	{"OMNISOCIAL_ENCRYPTION_KEY", "", "64 hex characters (32 bytes) that encrypt tokens; `omnisocial keygen` makes one. Required"},
	{"OMNISOCIAL_ENCRYPTION_KEY_OLD", "", "the previous key, only while `omnisocial rotate-key` re-encrypts"},
	{"OMNISOCIAL_SESSION_SECRET", "", "64 hex characters that sign session cookies. Required"},
	{"OMNISOCIAL_SESSION_IDLE", "1h", "log out after this long without activity"},
	{"OMNISOCIAL_SESSION_MAX", "12h", "log out this long after log-in, whatever the activity"},
	{"OMNISOCIAL_SIGNUP", "open", "`open`: anyone can sign up; `closed`: only the first user, then people join by invitation"},
	{"OMNISOCIAL_PLAN_LIMITS", "free=3,pro=10,business=50", "connected accounts allowed per plan"},
	{"OMNISOCIAL_FACEBOOK_APP_ID", "", "Meta app id (Facebook and Instagram)"},
	{"OMNISOCIAL_FACEBOOK_APP_SECRET", "", "Meta app secret"},
	{"OMNISOCIAL_FACEBOOK_GRAPH_VERSION", "v26.0", "Graph API version"},
	{"OMNISOCIAL_FACEBOOK_DIALOG_URL", "https://www.facebook.com", "base URL of the Facebook login dialog"},
	{"OMNISOCIAL_FACEBOOK_GRAPH_URL", "https://graph.facebook.com", "base URL of the Graph API"},
	{"OMNISOCIAL_INSTAGRAM_APP_ID", "", "Instagram app ID of the Meta app (App Dashboard › Instagram › API setup with Instagram login), for Instagram accounts without a Facebook Page"},
	{"OMNISOCIAL_INSTAGRAM_APP_SECRET", "", "Instagram app secret of the Meta app"},
	{"OMNISOCIAL_INSTAGRAM_AUTH_URL", "https://www.instagram.com", "base URL of the Instagram login window"},
	{"OMNISOCIAL_INSTAGRAM_API_URL", "https://api.instagram.com", "base URL of the Instagram code exchange"},
	{"OMNISOCIAL_INSTAGRAM_GRAPH_URL", "https://graph.instagram.com", "base URL of the Instagram Graph API"},
	{"OMNISOCIAL_TIKTOK_CLIENT_KEY", "", "TikTok Login Kit client key"},
	{"OMNISOCIAL_TIKTOK_CLIENT_SECRET", "", "TikTok Login Kit client secret"},
	{"OMNISOCIAL_TIKTOK_AUTH_URL", "https://www.tiktok.com", "base URL of the TikTok authorize page"},
	{"OMNISOCIAL_TIKTOK_API_URL", "https://open.tiktokapis.com", "base URL of the TikTok open API"},
	{"OMNISOCIAL_TIKTOK_PKCE", "hex", "how the TikTok PKCE code_challenge is encoded: `hex` (SHA-256 in hex, as TikTok's Login Kit documents) or `s256` (RFC 7636 base64url)"},
	{"OMNISOCIAL_REFRESH_INTERVAL", "30s", "how often the token-refresh job looks for due accounts"},
	{"OMNISOCIAL_REFRESH_BATCH", "200", "accounts claimed per run"},
	{"OMNISOCIAL_REFRESH_WORKERS", "8", "accounts worked at once"},
	{"OMNISOCIAL_REFRESH_RATE", "20", "platform calls per second, per platform"},
	{"OMNISOCIAL_EXPIRY_WARNING", "168h", "flag tokens that cannot renew themselves this long before they expire"},
	{"OMNISOCIAL_HISTORY_DAYS", "30", "days of routine refresh history kept per account; connections, failures, permission changes and disconnections are kept for the account's life"},
	{"OMNISOCIAL_API_RATE", "10", "API requests a second each API key may send, on average (answered 429 with Retry-After beyond it)"},
	{"OMNISOCIAL_API_BURST", "50", "API requests an API key may send at once before OMNISOCIAL_API_RATE applies (the RateLimit-Limit header)"},
	{"OMNISOCIAL_WEBHOOK_PAUSE_AFTER", "72h", "a webhook endpoint whose every delivery failed this long is paused, and its workspace's owners and admins told"},
	{"OMNISOCIAL_METRICS_TOKEN", "", "bearer token (at least 32 characters) a Prometheus scraper sends to GET /metrics; without it /metrics is off (404)"},
	{"OMNISOCIAL_SMTP_URL", "", "SMTP server for e-mail alerts, such as smtp://user:pass@mail.example.com:587 (STARTTLS when the server offers it); empty: no e-mail"},
	{"OMNISOCIAL_MAIL_FROM", "", "the From address of e-mail alerts, such as OmniSocial <alerts@example.com>; required with OMNISOCIAL_SMTP_URL"},
	{"OMNISOCIAL_LOG_LEVEL", "info", "debug, info, warn or error"},
	{"OMNISOCIAL_LOG_FORMAT", "text", "text or json"},
}

// loadConfig reads and checks every setting, reporting all problems at once,
// each naming its variable.
func loadConfig(getenv func(string) string) (config, error) {
	get := func(name string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		for _, s := range settings {
			if s.name == name {
				return s.def
			}
		}
		panic("config: unknown setting " + name)
	}
	var c config
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s %s", name, fmt.Sprintf(format, args...)))
	}
	boolean := func(name string) bool {
		b, err := strconv.ParseBool(get(name))
		if err != nil {
			bad(name, "must be true or false, got %q", get(name))
		}
		return b
	}
	duration := func(name string) time.Duration {
		d, err := time.ParseDuration(get(name))
		if err != nil || d <= 0 {
			bad(name, "must be a positive duration such as 30s or 2h, got %q", get(name))
		}
		return d
	}
	integer := func(name string) int {
		n, err := strconv.Atoi(get(name))
		if err != nil || n <= 0 {
			bad(name, "must be a positive whole number, got %q", get(name))
		}
		return n
	}
	hexKey := func(name string, required bool) []byte {
		v := get(name)
		if v == "" {
			if required {
				bad(name, "is required: set it to 64 hex characters (run `omnisocial keygen` to make one)")
			}
			return nil
		}
		k, err := vault.ParseKey(v)
		if err != nil {
			bad(name, "%v", err)
		}
		return k
	}

	c.Addr = get("OMNISOCIAL_ADDR")
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		bad("OMNISOCIAL_ADDR", "must be host:port such as :8080, got %q", c.Addr)
	}
	for _, cidr := range strings.Split(get("OMNISOCIAL_TRUSTED_PROXIES"), ",") {
		if cidr = strings.TrimSpace(cidr); cidr == "" {
			continue
		}
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			bad("OMNISOCIAL_TRUSTED_PROXIES", "must be CIDRs such as 10.0.0.0/8, got %q", cidr)
			continue
		}
		c.Proxies = append(c.Proxies, n)
	}
	c.DBPath = get("OMNISOCIAL_DB")
	c.Dev = boolean("OMNISOCIAL_DEV")
	base := get("OMNISOCIAL_BASE_URL")
	if c.Dev && strings.TrimSpace(getenv("OMNISOCIAL_BASE_URL")) == "" {
		// Development on another port: OMNISOCIAL_ADDR alone moves the
		// base URL too, so the OAuth redirects come back to this server.
		base = devBaseURL(c.Addr)
	}
	u, err := url.Parse(strings.TrimRight(base, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		bad("OMNISOCIAL_BASE_URL", "must be an absolute http(s) URL without query, got %q", base)
	}
	c.BaseURL = u
	c.Sandbox = boolean("OMNISOCIAL_SANDBOX") || c.Dev
	c.SandboxControlToken = vault.NewToken(get("OMNISOCIAL_SANDBOX_CONTROL_TOKEN"))
	if n := len(c.SandboxControlToken.Reveal()); n > 0 && n < 32 {
		bad("OMNISOCIAL_SANDBOX_CONTROL_TOKEN", "must be at least 32 characters (`omnisocial keygen` makes one), got %d", n)
	}
	if c.Dev {
		errs = append(errs, devConflicts(getenv)...)
	}
	switch c.Signup = get("OMNISOCIAL_SIGNUP"); c.Signup {
	case "open", "closed":
	default:
		bad("OMNISOCIAL_SIGNUP", "must be open or closed, got %q", c.Signup)
	}
	// Development mode may fill these in from its secrets file before
	// loadConfig runs; outside it they are required.
	c.EncryptionKey = hexKey("OMNISOCIAL_ENCRYPTION_KEY", true)
	c.OldEncryptionKey = hexKey("OMNISOCIAL_ENCRYPTION_KEY_OLD", false)
	c.SessionSecret = hexKey("OMNISOCIAL_SESSION_SECRET", true)
	// A key of one repeated byte is a placeholder, and one secret serving
	// as both keys undoes the separation of what they protect.
	for name, k := range map[string][]byte{"OMNISOCIAL_ENCRYPTION_KEY": c.EncryptionKey, "OMNISOCIAL_ENCRYPTION_KEY_OLD": c.OldEncryptionKey, "OMNISOCIAL_SESSION_SECRET": c.SessionSecret} {
		if len(k) > 0 && bytes.Count(k, k[:1]) == len(k) {
			bad(name, "is a placeholder (one byte repeated, such as all zeros): run `omnisocial keygen` for a real key")
		}
	}
	if len(c.EncryptionKey) > 0 && bytes.Equal(c.EncryptionKey, c.SessionSecret) {
		bad("OMNISOCIAL_SESSION_SECRET", "must differ from OMNISOCIAL_ENCRYPTION_KEY: run `omnisocial keygen` once for each")
	}
	if len(c.EncryptionKey) > 0 && bytes.Equal(c.EncryptionKey, c.OldEncryptionKey) {
		bad("OMNISOCIAL_ENCRYPTION_KEY_OLD", "is the same as OMNISOCIAL_ENCRYPTION_KEY: give the previous key, or unset it")
	}
	c.SessionIdle = duration("OMNISOCIAL_SESSION_IDLE")
	c.SessionMax = duration("OMNISOCIAL_SESSION_MAX")
	c.PlanLimits = map[string]int{}
	for _, kv := range strings.Split(get("OMNISOCIAL_PLAN_LIMITS"), ",") {
		name, n, ok := strings.Cut(strings.TrimSpace(kv), "=")
		max, err := strconv.Atoi(n)
		if !ok || name == "" || err != nil || max < 0 {
			bad("OMNISOCIAL_PLAN_LIMITS", "must look like free=3,pro=10, got %q", kv)
			break
		}
		c.PlanLimits[name] = max
	}

	c.MetaAppID = get("OMNISOCIAL_FACEBOOK_APP_ID")
	c.MetaAppSecret = vault.NewToken(get("OMNISOCIAL_FACEBOOK_APP_SECRET"))
	if (c.MetaAppID == "") != c.MetaAppSecret.IsZero() {
		bad("OMNISOCIAL_FACEBOOK_APP_ID", "and OMNISOCIAL_FACEBOOK_APP_SECRET must be set together")
	}
	c.MetaGraphVersion = get("OMNISOCIAL_FACEBOOK_GRAPH_VERSION")
	c.MetaDialogURL = get("OMNISOCIAL_FACEBOOK_DIALOG_URL")
	c.MetaGraphURL = get("OMNISOCIAL_FACEBOOK_GRAPH_URL")
	c.InstagramAppID = get("OMNISOCIAL_INSTAGRAM_APP_ID")
	c.InstagramSecret = vault.NewToken(get("OMNISOCIAL_INSTAGRAM_APP_SECRET"))
	if (c.InstagramAppID == "") != c.InstagramSecret.IsZero() {
		bad("OMNISOCIAL_INSTAGRAM_APP_ID", "and OMNISOCIAL_INSTAGRAM_APP_SECRET must be set together")
	}
	c.TikTokClientKey = get("OMNISOCIAL_TIKTOK_CLIENT_KEY")
	c.TikTokSecret = vault.NewToken(get("OMNISOCIAL_TIKTOK_CLIENT_SECRET"))
	if (c.TikTokClientKey == "") != c.TikTokSecret.IsZero() {
		bad("OMNISOCIAL_TIKTOK_CLIENT_KEY", "and OMNISOCIAL_TIKTOK_CLIENT_SECRET must be set together")
	}
	for _, name := range []string{"OMNISOCIAL_FACEBOOK_DIALOG_URL", "OMNISOCIAL_FACEBOOK_GRAPH_URL", "OMNISOCIAL_TIKTOK_AUTH_URL", "OMNISOCIAL_TIKTOK_API_URL",
		"OMNISOCIAL_INSTAGRAM_AUTH_URL", "OMNISOCIAL_INSTAGRAM_API_URL", "OMNISOCIAL_INSTAGRAM_GRAPH_URL"} {
		if u, err := url.Parse(get(name)); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			bad(name, "must be an absolute URL, got %q", get(name))
		}
	}
	c.InstagramAuthURL, c.InstagramAPIURL = get("OMNISOCIAL_INSTAGRAM_AUTH_URL"), get("OMNISOCIAL_INSTAGRAM_API_URL")
	c.InstagramGraph = get("OMNISOCIAL_INSTAGRAM_GRAPH_URL")
	c.TikTokAuthURL = get("OMNISOCIAL_TIKTOK_AUTH_URL")
	c.TikTokAPIURL = get("OMNISOCIAL_TIKTOK_API_URL")
	switch c.TikTokPKCE = get("OMNISOCIAL_TIKTOK_PKCE"); c.TikTokPKCE {
	case "hex", "s256":
	default:
		bad("OMNISOCIAL_TIKTOK_PKCE", "must be hex or s256, got %q", c.TikTokPKCE)
	}

	c.RefreshEvery = duration("OMNISOCIAL_REFRESH_INTERVAL")
	c.RefreshBatch = integer("OMNISOCIAL_REFRESH_BATCH")
	c.RefreshWorkers = integer("OMNISOCIAL_REFRESH_WORKERS")
	c.RefreshRate = float64(integer("OMNISOCIAL_REFRESH_RATE"))
	c.ExpiryWarning = duration("OMNISOCIAL_EXPIRY_WARNING")
	c.HistoryDays = integer("OMNISOCIAL_HISTORY_DAYS")
	c.APIRate = float64(integer("OMNISOCIAL_API_RATE"))
	c.APIBurst = integer("OMNISOCIAL_API_BURST")
	c.WebhookPauseAfter = duration("OMNISOCIAL_WEBHOOK_PAUSE_AFTER")
	c.MetricsToken = vault.NewToken(get("OMNISOCIAL_METRICS_TOKEN"))
	if n := len(c.MetricsToken.Reveal()); n > 0 && n < 32 {
		bad("OMNISOCIAL_METRICS_TOKEN", "must be at least 32 characters (`omnisocial keygen` makes one), got %d", n)
	}
	if v := get("OMNISOCIAL_SMTP_URL"); v != "" {
		u, err := url.Parse(v)
		if err != nil || u.Scheme != "smtp" || u.Hostname() == "" {
			// Never the value: it may hold a password.
			bad("OMNISOCIAL_SMTP_URL", "must look like smtp://user:pass@host:587")
		} else {
			c.SMTP = u
		}
		c.MailFrom = get("OMNISOCIAL_MAIL_FROM")
		if _, err := mail.ParseAddress(c.MailFrom); err != nil {
			bad("OMNISOCIAL_MAIL_FROM", "must be an e-mail address such as OmniSocial <alerts@example.com> when OMNISOCIAL_SMTP_URL is set, got %q", c.MailFrom)
		}
	}
	c.LogLevel = get("OMNISOCIAL_LOG_LEVEL")
	if !map[string]bool{"debug": true, "info": true, "warn": true, "error": true}[c.LogLevel] {
		bad("OMNISOCIAL_LOG_LEVEL", "must be debug, info, warn or error, got %q", c.LogLevel)
	}
	c.LogFormat = get("OMNISOCIAL_LOG_FORMAT")
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("OMNISOCIAL_LOG_FORMAT", "must be text or json, got %q", c.LogFormat)
	}
	return c, errors.Join(errs...)
}

// dataDir is the folder for the files that live beside the database (the
// development secrets, the sandbox's state): the SQLite file's folder, or
// ./data when the database is PostgreSQL's.
func dataDir(db string) string {
	if db == "" || store.IsPostgres(db) {
		return "data"
	}
	return filepath.Dir(strings.TrimPrefix(db, "sqlite://"))
}

func (c config) dataDir() string { return dataDir(c.DBPath) }
