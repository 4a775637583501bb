// Package sandbox is a local emulator of the Facebook Graph API and Facebook
// Login (Instagram through Pages with a linked instagram_business_account),
// of the Instagram API with Instagram Login (iglogin.go) and of TikTok Login
// Kit v2 with its open API, written from PLATFORMS.md.
//
// Every real host is mirrored under /sandbox/{host} with its path unchanged,
// so switching an adapter to the sandbox is only a change of base URL. A JSON
// control API under /sandbox/control/ lets tests revoke, expire, rotate,
// inject faults and list every token issued.
//
// It shares no code with the production adapters on purpose: the two are
// independent readings of PLATFORMS.md, so a misreading in one shows up as a
// failure against the other.
package sandbox

import (
	"encoding/json"
	"errors"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// Credentials the development configuration uses on both sides.
const (
	DevMetaAppID          = "100000000000001"
	DevMetaAppSecret      = "sandbox-meta-secret"
	DevTikTokClientKey    = "sbawsandboxkey01"
	DevTikTokClientSecret = "sandbox-tiktok-secret"
	// The Instagram app id and secret of the same Meta app: Business Login
	// for Instagram uses its own pair, not the Facebook app's.
	DevInstagramAppID     = "900000000000002"
	DevInstagramAppSecret = "sandbox-instagram-secret"
)

// appName is what the consent dialogs and debug_token call the client app.
const appName = "OmniSocial"

// Options configures a Sandbox. Empty credentials default to the Dev* values.
type Options struct {
	StatePath          string // JSON file for persistence; "" = in-memory only
	MetaAppID          string // the only client_id the Meta endpoints accept
	MetaAppSecret      string
	TikTokClientKey    string // the only client_key TikTok accepts
	TikTokClientSecret string
	InstagramAppID     string // the only client_id Instagram Login accepts
	InstagramAppSecret string
	Now                func() time.Time // nil = time.Now
	Logger             *slog.Logger     // nil = discard

	// The control API lists every token and changes how the platforms
	// behave, so outside a developer's machine it is locked: with
	// ControlToken set, every control call needs "Authorization: Bearer
	// <ControlToken>"; with ControlOff, it answers 404 as if absent. Both
	// zero: open, for tests and development mode.
	ControlToken string
	ControlOff   bool
}

// Sandbox is the emulator. It is an http.Handler for every path under /sandbox/.
type Sandbox struct {
	opts Options
	now  func() time.Time
	log  *slog.Logger
	mux  *http.ServeMux
	tmpl *template.Template

	mu     sync.Mutex // guards everything below
	st     *state
	faults []*fault
	stats  map[string]int64
	rng    *rand.Rand
	dirty  bool
	// timeoutCap bounds "timeout" faults; a field so tests can shorten it.
	timeoutCap time.Duration

	writeMu   sync.Mutex // serialises state file writes
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// New builds a sandbox. It loads StatePath if the file exists, and otherwise
// starts from the seeded state (personas, no tokens, default settings).
func New(o Options) (*Sandbox, error) {
	if o.MetaAppID == "" {
		o.MetaAppID = DevMetaAppID
	}
	if o.MetaAppSecret == "" {
		o.MetaAppSecret = DevMetaAppSecret
	}
	if o.TikTokClientKey == "" {
		o.TikTokClientKey = DevTikTokClientKey
	}
	if o.TikTokClientSecret == "" {
		o.TikTokClientSecret = DevTikTokClientSecret
	}
	if o.InstagramAppID == "" {
		o.InstagramAppID = DevInstagramAppID
	}
	if o.InstagramAppSecret == "" {
		o.InstagramAppSecret = DevInstagramAppSecret
	}
	s := &Sandbox{
		opts:       o,
		now:        o.Now,
		log:        o.Logger,
		st:         newState(),
		stats:      map[string]int64{},
		rng:        rand.New(rand.NewPCG(1, 2)),
		stop:       make(chan struct{}),
		timeoutCap: defaultTimeoutCap,
		done:       make(chan struct{}),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	tmpl, err := template.ParseFS(assets, "consent.html")
	if err != nil {
		return nil, err
	}
	s.tmpl = tmpl
	if o.StatePath != "" {
		st, err := loadState(o.StatePath)
		switch {
		case err == nil:
			s.st = st
		case errors.Is(err, fs.ErrNotExist):
			s.dirty = true // write the seeded state on the first flush
		default:
			return nil, err
		}
		go s.flushLoop()
	} else {
		close(s.done)
	}
	s.routes()
	return s, nil
}

func (s *Sandbox) routes() *http.ServeMux {
	m := http.NewServeMux()
	s.mux = m
	// Meta. The Graph host gets one handler that parses its own paths, because
	// Graph paths are node ids and edges rather than fixed routes.
	m.HandleFunc("GET /sandbox/www.facebook.com/{ver}/dialog/oauth", s.metaDialog)
	m.HandleFunc("POST /sandbox/www.facebook.com/{ver}/dialog/oauth", s.metaDialog)
	m.HandleFunc("GET /sandbox/www.facebook.com/dialog/oauth", s.metaDialog) // unversioned, as on facebook.com
	m.HandleFunc("POST /sandbox/www.facebook.com/dialog/oauth", s.metaDialog)
	m.HandleFunc("/sandbox/graph.facebook.com/", s.graph)

	// TikTok. The trailing slashes are part of the real paths.
	m.HandleFunc("GET /sandbox/www.tiktok.com/v2/auth/authorize/{$}", s.tiktokAuthorize)
	m.HandleFunc("POST /sandbox/www.tiktok.com/v2/auth/authorize/{$}", s.tiktokAuthorize)
	m.HandleFunc("POST /sandbox/open.tiktokapis.com/v2/oauth/token/{$}", s.tiktokToken)
	m.HandleFunc("POST /sandbox/open.tiktokapis.com/v2/oauth/revoke/{$}", s.tiktokRevoke)
	m.HandleFunc("GET /sandbox/open.tiktokapis.com/v2/user/info/{$}", s.tiktokUserInfo)

	// Instagram API with Instagram Login (iglogin.go). graph.instagram.com
	// parses its own paths, as graph.facebook.com does.
	m.HandleFunc("GET /sandbox/www.instagram.com/oauth/authorize", s.igAuthorize)
	m.HandleFunc("POST /sandbox/www.instagram.com/oauth/authorize", s.igAuthorize)
	m.HandleFunc("GET /sandbox/api.instagram.com/oauth/authorize", s.igAuthorize) // the reference's older host
	m.HandleFunc("POST /sandbox/api.instagram.com/oauth/authorize", s.igAuthorize)
	m.HandleFunc("POST /sandbox/api.instagram.com/oauth/access_token", s.igToken)
	m.HandleFunc("/sandbox/graph.instagram.com/", s.igGraph)

	m.HandleFunc("GET /sandbox/static/consent.css", serveCSS)
	m.HandleFunc("GET /sandbox/static/favicon.svg", serveFavicon)

	ctl := http.NewServeMux()
	m.Handle("/sandbox/control/", s.guardControl(ctl))
	m = ctl
	m.HandleFunc("POST /sandbox/control/reset", s.ctlReset)
	m.HandleFunc("POST /sandbox/control/autoconsent", s.ctlAutoConsent)
	m.HandleFunc("POST /sandbox/control/revoke", s.ctlRevoke)
	m.HandleFunc("POST /sandbox/control/expire", s.ctlExpire)
	m.HandleFunc("POST /sandbox/control/tiktok", s.ctlTikTok)
	m.HandleFunc("POST /sandbox/control/meta", s.ctlMeta)
	m.HandleFunc("POST /sandbox/control/instagram", s.ctlInstagram)
	m.HandleFunc("POST /sandbox/control/lifetimes", s.ctlLifetimes)
	m.HandleFunc("GET /sandbox/control/faults", s.ctlFaultList)
	m.HandleFunc("POST /sandbox/control/faults", s.ctlFaultAdd)
	m.HandleFunc("DELETE /sandbox/control/faults", s.ctlFaultClear)
	m.HandleFunc("GET /sandbox/control/tokens", s.ctlTokens)
	m.HandleFunc("GET /sandbox/control/personas", s.ctlPersonas)
	m.HandleFunc("GET /sandbox/control/stats", s.ctlStats)
	m.HandleFunc("DELETE /sandbox/control/stats", s.ctlStatsClear)
	m.HandleFunc("GET /sandbox/control/settings", s.ctlSettings)
	m.HandleFunc("POST /sandbox/control/signed_request", s.ctlSignedRequest)
	m.HandleFunc("/sandbox/control/", func(w http.ResponseWriter, r *http.Request) {
		ctlError(w, http.StatusNotFound, "no such control endpoint")
	})
	return s.mux
}

// ServeHTTP serves every path under /sandbox/.
func (s *Sandbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// Close stops the background writer and flushes the state to StatePath.
func (s *Sandbox) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.done
		err = s.flush()
	})
	return err
}

// flushLoop writes the state about once a second when it changed. Writing on
// every request would make the file system the bottleneck of benchmarks.
func (s *Sandbox) flushLoop() {
	defer close(s.done)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if err := s.flush(); err != nil {
				s.log.Error("sandbox: saving state", "path", s.opts.StatePath, "err", err)
			}
		}
	}
}

func (s *Sandbox) flush() error {
	if s.opts.StatePath == "" {
		return nil
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.mu.Lock()
	if !s.dirty {
		s.mu.Unlock()
		return nil
	}
	snap := s.st.snapshot()
	s.dirty = false
	s.mu.Unlock()
	b, err := json.Marshal(snap)
	if err == nil {
		err = writeFileAtomic(s.opts.StatePath, b)
	}
	if err != nil {
		s.mu.Lock()
		s.dirty = true // try again on the next tick
		s.mu.Unlock()
	}
	return err
}

// ---- small helpers shared by the platform files --------------------------

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Credentials are the client credentials this sandbox accepts (the Dev*
// constants unless Options named others), for the adapters that talk to it.
func (s *Sandbox) Credentials() (metaAppID, metaAppSecret, tiktokClientKey, tiktokClientSecret string) {
	return s.opts.MetaAppID, s.opts.MetaAppSecret, s.opts.TikTokClientKey, s.opts.TikTokClientSecret
}

// InstagramCredentials are the Instagram app id and secret Instagram Login
// accepts (DevInstagramAppID/Secret unless Options named others).
func (s *Sandbox) InstagramCredentials() (appID, appSecret string) {
	return s.opts.InstagramAppID, s.opts.InstagramAppSecret
}
