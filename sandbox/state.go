package sandbox

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Lifetimes as PLATFORMS.md gives them (§1.2–1.6, §3.1). Token lifetimes are
// multiplied by settings.Scale; code lifetimes are not (a code is exchanged at
// once, and a demo wants to watch tokens, not codes, run out).
const (
	codeLife         = 10 * time.Minute
	metaShortLife    = time.Hour             // code exchange ("short-lived, about 1 h")
	metaLongLife     = 5183944 * time.Second // fb_exchange_token (≈ 60 days)
	metaPageLife     = time.Hour             // Page token derived from a short-lived user token
	metaDataAccess   = 90 * 24 * time.Hour   // data_access_expires_at
	ttCurrentAccess  = 2 * time.Hour         // TikTok, current doc
	ttCurrentRefresh = 180 * 24 * time.Hour  //
	ttClassicAccess  = 24 * time.Hour        // TikTok, classic doc
	ttClassicRefresh = 365 * 24 * time.Hour  //
	stateVersion     = 1
)

// tokenRec is one issued access, refresh or Page token. Records are never
// deleted (except by reset): the control API must list rotated-away tokens too.
type tokenRec struct {
	Seq       int64     `json:"seq"`
	Value     string    `json:"token"`
	Platform  string    `json:"platform"` // "facebook" | "tiktok" | "instagram"
	Kind      string    `json:"kind"`     // "access" | "refresh" | "page"
	Persona   string    `json:"persona"`
	Grant     string    `json:"grant"`
	PageID    string    `json:"page_id,omitempty"`
	LongLived bool      `json:"long_lived,omitempty"`
	Scopes    []string  `json:"scopes,omitempty"` // TikTok: the scopes of this token chain
	IssuedAt  time.Time `json:"issued_at"`
	ExpiresAt time.Time `json:"expires_at"` // zero = never
	// Dead is why the token stopped working before its expiry: "revoked" or "rotated".
	Dead string `json:"dead,omitempty"`
	// Reused counts the times a rotated-away refresh token was presented again.
	Reused int `json:"reused,omitempty"`
	// PageTokens caches the Page tokens derived from a user token, so repeated
	// /me/accounts calls hand out the same Page token as Facebook does.
	PageTokens map[string]string `json:"page_tokens,omitempty"`
}

// codeRec is one authorization code.
type codeRec struct {
	Seq         int64     `json:"seq"`
	Value       string    `json:"code"`
	Platform    string    `json:"platform"`
	Persona     string    `json:"persona"`
	Grant       string    `json:"grant"`
	RedirectURI string    `json:"redirect_uri"`
	Challenge   string    `json:"code_challenge,omitempty"`
	Scopes      []string  `json:"scopes,omitempty"` // TikTok: the granted subset
	IssuedAt    time.Time `json:"issued_at"`
	ExpiresAt   time.Time `json:"expires_at"`
	Used        bool      `json:"used,omitempty"`
}

// grantRec is one person's authorization of the app (Facebook: the app
// installation with its permissions and selected Pages; TikTok: the connected
// app). Revoking it kills every token issued under it at once (O(1)); the next
// consent starts a new grant.
type grantRec struct {
	ID         string    `json:"id"`
	Platform   string    `json:"platform"` // "meta" | "tiktok"
	Persona    string    `json:"persona"`
	Granted    []string  `json:"granted,omitempty"`
	Declined   []string  `json:"declined,omitempty"`
	Pages      []string  `json:"pages,omitempty"`
	ConsentAt  time.Time `json:"consent_at"`
	DataAccess time.Time `json:"data_access_expires_at"`
	Revoked    bool      `json:"revoked,omitempty"`
}

type autoConsent struct {
	Enabled bool     `json:"enabled"`
	Persona string   `json:"persona,omitempty"`
	Decline []string `json:"decline,omitempty"`
	Pages   []string `json:"pages,omitempty"`
	Deny    bool     `json:"deny,omitempty"`
}

type settings struct {
	Rotation    bool        `json:"rotation"`
	Mode        string      `json:"mode"` // "current" | "classic"
	Scale       float64     `json:"scale"`
	AutoConsent autoConsent `json:"autoconsent"`
	// TikTokPKCE is the code_challenge encoding the token endpoint checks:
	// "hex" (TikTok's documented form, the default) or "s256" (RFC 7636).
	TikTokPKCE string `json:"tiktok_pkce"`
	// TikTokRevokeBody is what a successful revoke answers: "empty" (the
	// doc: "returns an empty response body", the default) or "object" ({},
	// the doc's example).
	TikTokRevokeBody string `json:"tiktok_revoke_body"`
	// MetaRevokeBody is what DELETE /me/permissions answers on success:
	// "true" (the bare JSON true of the reference, the default) or
	// "object" ({"success":true}, seen in some answers).
	MetaRevokeBody string `json:"meta_revoke_body"`
	// DebugTokenIDs is how debug_token writes app_id and user_id:
	// "string" (current examples, the default) or "number" (older ones).
	DebugTokenIDs string `json:"debug_token_ids"`
	// PageSize caps every Graph list's page (0: Facebook's own limits), so
	// tests see paging with a handful of items.
	PageSize int `json:"page_size,omitempty"`
	// InstagramTokenShape is how api.instagram.com/oauth/access_token
	// answers: "data" ({"data":[{…}]}, Business Login's document, the
	// default) or "flat" ({access_token,user_id,permissions}, seen in practice).
	InstagramTokenShape string `json:"instagram_token_shape"`
}

// state is everything that survives a restart. Faults and call counts are
// test scaffolding and deliberately are not persisted.
type state struct {
	Version  int                  `json:"version"`
	Seq      int64                `json:"seq"`
	Tokens   map[string]*tokenRec `json:"tokens"`
	Codes    map[string]*codeRec  `json:"codes"`
	Grants   map[string]*grantRec `json:"grants"`
	Active   map[string]string    `json:"active"` // "meta:dana" → live grant id
	Settings settings             `json:"settings"`
}

// defaultSettings are the documented behaviours (PLATFORMS.md §8); the
// control API switches each to its documented alternative.
func defaultSettings() settings {
	return settings{Rotation: true, Mode: "current", Scale: 1, TikTokPKCE: "hex",
		TikTokRevokeBody: "empty", MetaRevokeBody: "true", DebugTokenIDs: "string", InstagramTokenShape: "data"}
}

func newState() *state {
	return &state{
		Version:  stateVersion,
		Tokens:   map[string]*tokenRec{},
		Codes:    map[string]*codeRec{},
		Grants:   map[string]*grantRec{},
		Active:   map[string]string{},
		Settings: defaultSettings(),
	}
}

// snapshot deep-copies the state so it can be encoded without holding the
// lock: encoding a large state takes far longer than copying it.
func (st *state) snapshot() *state {
	c := *st
	c.Tokens = make(map[string]*tokenRec, len(st.Tokens))
	for k, t := range st.Tokens {
		t2 := *t
		t2.Scopes = slices.Clone(t.Scopes)
		t2.PageTokens = maps.Clone(t.PageTokens)
		c.Tokens[k] = &t2
	}
	c.Codes = make(map[string]*codeRec, len(st.Codes))
	for k, v := range st.Codes {
		v2 := *v
		v2.Scopes = slices.Clone(v.Scopes)
		c.Codes[k] = &v2
	}
	c.Grants = make(map[string]*grantRec, len(st.Grants))
	for k, g := range st.Grants {
		g2 := *g
		g2.Granted, g2.Declined, g2.Pages = slices.Clone(g.Granted), slices.Clone(g.Declined), slices.Clone(g.Pages)
		c.Grants[k] = &g2
	}
	c.Active = maps.Clone(st.Active)
	c.Settings.AutoConsent.Decline = slices.Clone(st.Settings.AutoConsent.Decline)
	c.Settings.AutoConsent.Pages = slices.Clone(st.Settings.AutoConsent.Pages)
	return &c
}

func (st *state) next() int64 { st.Seq++; return st.Seq }

// scaled applies the lifetime scale; never below one second.
func (st *state) scaled(d time.Duration) time.Duration {
	d = time.Duration(float64(d) * st.Settings.Scale)
	if d < time.Second {
		d = time.Second
	}
	return d
}

func (st *state) tiktokLives() (access, refresh time.Duration) {
	if st.Settings.Mode == "classic" {
		return st.scaled(ttClassicAccess), st.scaled(ttClassicRefresh)
	}
	return st.scaled(ttCurrentAccess), st.scaled(ttCurrentRefresh)
}

// dead reports why a token no longer works: "" (alive), "revoked", "rotated"
// or "expired".
func (st *state) dead(t *tokenRec, now time.Time) string {
	if t.Dead != "" {
		return t.Dead
	}
	if g := st.Grants[t.Grant]; g == nil || g.Revoked {
		return "revoked"
	}
	if !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt) {
		return "expired"
	}
	return ""
}

// grantFor returns the live grant of a persona on a platform, creating one
// when there is none (first consent, or after a revocation).
func (st *state) grantFor(platform, persona string, now time.Time) *grantRec {
	key := platform + ":" + persona
	if g := st.Grants[st.Active[key]]; g != nil && !g.Revoked {
		return g
	}
	g := &grantRec{ID: fmt.Sprintf("g%d", st.next()), Platform: platform, Persona: persona, ConsentAt: now}
	st.Grants[g.ID] = g
	st.Active[key] = g.ID
	return g
}

func (st *state) addToken(t *tokenRec) *tokenRec {
	t.Seq = st.next()
	st.Tokens[t.Value] = t
	return t
}

func (st *state) addCode(c *codeRec) *codeRec {
	c.Seq = st.next()
	st.Codes[c.Value] = c
	return c
}

// secondsLeft is an `expires_in` value: whole seconds, never negative.
func secondsLeft(exp, now time.Time) int64 {
	s := math.Round(exp.Sub(now).Seconds())
	if s < 0 {
		return 0
	}
	return int64(s)
}

// ---- random values -------------------------------------------------------

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func randomFrom(alphabet string, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("sandbox: crypto/rand: " + err.Error()) // never happens on supported platforms
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

func randomDigits(n int) string { return randomFrom("0123456789", n) }

// Token shapes follow PLATFORMS.md §0: Facebook "EAA…", TikTok "act."/"rft.".
// TikTok values carry "!" (and codes "*") like real ones, so adapters that
// forget to URL-encode them fail here first.
func newMetaToken() string { return "EAAB" + randomFrom(alnum, 180) }
func newMetaCode() string {
	b := make([]byte, 240)
	_, _ = rand.Read(b)
	return "AQ" + base64.RawURLEncoding.EncodeToString(b)
}
func newTikTokAccess() string  { return "act." + randomFrom(alnum, 60) + "!" + randomDigits(4) + ".va" }
func newTikTokRefresh() string { return "rft." + randomFrom(alnum, 60) + "!" + randomDigits(4) + ".va" }
func newTikTokCode() string {
	return randomFrom(alnum, 48) + "*" + randomFrom(alnum, 12) + "!" + randomDigits(4) + ".va"
}
func newTraceID() string { return randomFrom(alnum, 11) }
func newLogID(now time.Time) string {
	return now.UTC().Format("20060102150405") + randomFrom("0123456789ABCDEF", 18)
}

// ---- persistence -----------------------------------------------------------

func loadState(path string) (*state, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	st := newState()
	if err := json.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("sandbox: state %s: %w", path, err)
	}
	if st.Version != stateVersion {
		return nil, fmt.Errorf("sandbox: state %s: version %d, want %d", path, st.Version, stateVersion)
	}
	if st.Settings.Scale <= 0 {
		st.Settings.Scale = 1
	}
	// A state file from before a setting gets its default.
	def := defaultSettings()
	for _, f := range []struct {
		v *string
		d string
	}{{&st.Settings.TikTokPKCE, def.TikTokPKCE},
		{&st.Settings.TikTokRevokeBody, def.TikTokRevokeBody}, {&st.Settings.MetaRevokeBody, def.MetaRevokeBody},
		{&st.Settings.DebugTokenIDs, def.DebugTokenIDs}, {&st.Settings.InstagramTokenShape, def.InstagramTokenShape}} {
		if *f.v == "" {
			*f.v = f.d
		}
	}
	if st.Tokens == nil {
		st.Tokens = map[string]*tokenRec{}
	}
	if st.Codes == nil {
		st.Codes = map[string]*codeRec{}
	}
	if st.Grants == nil {
		st.Grants = map[string]*grantRec{}
	}
	if st.Active == nil {
		st.Active = map[string]string{}
	}
	return st, nil
}

// writeFileAtomic writes via a temp file in the same directory, fsyncs and
// renames, so a crash leaves either the old or the new state, never half.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	// The folder is the database's on SQLite, made by then; on PostgreSQL
	// nothing else makes it.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".sandbox-state-*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // make the rename durable; best effort
		d.Close()
	}
	return nil
}

// autoConsent reads the consent windows' automatic answer.
func (s *Sandbox) autoConsent() autoConsent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.Settings.AutoConsent
}
