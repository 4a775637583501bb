package handlers

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"

	"omnisocial/apispec"
	"omnisocial/providers"
	"omnisocial/store"
	"omnisocial/views"
)

// apiAuth admits a request carrying a workspace API key, or else a
// logged-in session. A key acts on its own workspace with an admin's rights;
// when a key is sent, the session cookie is ignored.
func (s *server) apiAuth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		auth := c.Request().Header.Get("Authorization")
		if auth == "" {
			if !viewerOf(c).loggedIn {
				return echo.NewHTTPError(http.StatusUnauthorized, "Send a workspace API key as 'Authorization: Bearer osk_…', or log in.")
			}
			return next(c)
		}
		key, ok := strings.CutPrefix(auth, "Bearer ")
		if !ok {
			return echo.NewHTTPError(http.StatusUnauthorized, "The Authorization header must be 'Bearer' followed by a workspace API key.")
		}
		k, err := s.Store.APIKey(c.Request().Context(), strings.TrimSpace(key))
		if errors.Is(err, store.ErrNotFound) {
			return echo.NewHTTPError(http.StatusUnauthorized, "This API key is not valid or was revoked.")
		}
		if err != nil {
			return err
		}
		m, err := s.Store.WorkspaceMembership(c.Request().Context(), k.WorkspaceID)
		if err != nil {
			return err
		}
		m.Role = store.RoleAdmin
		c.Set(viewerKey, &viewer{member: m, loggedIn: true, apiKey: true, keyID: k.KeyID, readOnly: k.ReadOnly})
		if err := s.keyLimits.take(c, k.KeyID, s.Now()); err != nil {
			return err
		}
		return next(c)
	}
}

// apiKeyRequest: a request authenticated by an API key carries no cookie a
// forger could borrow, so CSRF does not apply to it.
func apiKeyRequest(c echo.Context) bool {
	return strings.HasPrefix(c.Request().URL.Path, "/api/") && c.Request().Header.Get("Authorization") != ""
}

type apiAccount struct {
	ID             string         `json:"id"`
	Platform       string         `json:"platform"`
	PlatformUserID string         `json:"platform_user_id"`
	Username       string         `json:"username"`
	DisplayName    string         `json:"display_name"`
	AvatarURL      string         `json:"avatar_url"`
	Status         string         `json:"status"`
	StatusReason   string         `json:"status_reason,omitempty"`
	Scopes         []string       `json:"scopes"`
	MissingScopes  []string       `json:"missing_scopes"`
	TokenExpiresAt *time.Time     `json:"token_expires_at"`
	RenewableUntil *time.Time     `json:"renewable_until"`
	LastSyncedAt   *time.Time     `json:"last_synced_at"`
	NextCheckAt    *time.Time     `json:"next_check_at"`
	LastError      string         `json:"last_error,omitempty"`
	ConnectedBy    string         `json:"connected_by"`
	ConnectedAt    time.Time      `json:"connected_at"`
	Metadata       map[string]any `json:"metadata"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func (s *server) apiView(a store.Account) apiAccount { return s.apiAccount(a, s.accountView(a, false)) }

// apiAccount is a as the API gives it, v being its accountView.
func (s *server) apiAccount(a store.Account, v views.AccountView) apiAccount {
	missing := providers.Missing(a.Provider(), a.Scopes)
	if missing == nil {
		missing = []string{}
	}
	out := apiAccount{
		ID: a.ID, Platform: a.Platform, PlatformUserID: a.PlatformUserID, Username: a.Username, DisplayName: a.DisplayName,
		AvatarURL: v.AvatarURL, Status: v.Status, StatusReason: v.Problem, Scopes: a.Scopes, MissingScopes: missing,
		TokenExpiresAt: timePtr(a.TokenExpiresAt), RenewableUntil: timePtr(renewalDeadline(a)), LastSyncedAt: timePtr(a.LastSyncedAt),
		NextCheckAt: timePtr(a.NextCheckAt), LastError: a.LastError, ConnectedBy: a.ConnectedBy, ConnectedAt: a.ConnectedAt.UTC(),
		Metadata: a.Metadata,
	}
	if out.Scopes == nil {
		out.Scopes = []string{}
	}
	return out
}

// apiPage is one page of the account list.
type apiPage struct {
	Accounts   []apiAccount `json:"accounts"`
	NextCursor *string      `json:"next_cursor"`
	Used       int          `json:"used"`
	Max        int          `json:"max"`
}

const (
	defaultPageSize = 50
	maxPageSize     = 100
)

// handleAPIAccounts lists a workspace's accounts a page at a time, in a
// stable order (platform, name, id). The cursor names the last account of
// the page, so a page never repeats or skips an account that stayed while
// others were added or removed.
func (s *server) handleAPIAccounts(c echo.Context) error {
	v := viewerOf(c)
	q := c.QueryParams()
	limit := defaultPageSize
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > maxPageSize {
			return echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("limit must be a whole number from 1 to %d.", maxPageSize))
		}
		limit = n
	}
	platform := q.Get("platform")
	if platform != "" && !slices.Contains(providers.AccountPlatforms(), providers.Platform(platform)) {
		return echo.NewHTTPError(http.StatusBadRequest, "platform must be facebook, instagram or tiktok.")
	}
	status := q.Get("status")
	if status != "" && !slices.Contains(apiStatuses, status) {
		return echo.NewHTTPError(http.StatusBadRequest, "status must be one of "+strings.Join(apiStatuses, ", ")+".")
	}
	var after *pageKey
	if cur := q.Get("cursor"); cur != "" {
		k, err := decodeCursor(cur)
		if err != nil {
			return echo.NewHTTPError(http.StatusBadRequest, "cursor is not one this API gave out: pass next_cursor from the previous page unchanged.")
		}
		after = &k
	}
	l, err := s.accountList(c.Request().Context(), v.member, listAPI)
	if err != nil {
		return err
	}
	var shown []int
	cursor, size := []byte("null"), 128
	var last pageKey
	for i, a := range l.accts {
		if platform != "" && a.Platform != platform || status != "" && l.views[i].Status != status {
			continue
		}
		key := keyOf(a)
		if after != nil && !after.less(key) {
			continue
		}
		if len(shown) == limit {
			cursor, _ = json.Marshal(encodeCursor(last))
			break
		}
		shown, last, size = append(shown, i), key, size+len(l.rows[i].parts[0])+1
	}
	// The page is written from each account's kept JSON, as json.Marshal
	// would write an apiPage.
	b := append(make([]byte, 0, size), `{"accounts":[`...)
	for n, i := range shown {
		if n > 0 {
			b = append(b, ',')
		}
		b = append(b, l.rows[i].parts[0]...)
	}
	b = fmt.Appendf(b, `],"next_cursor":%s,"used":%d,"max":%d}`, cursor, len(l.accts), v.member.MaxAccounts)
	return conditionalBlob(c, b)
}

// apiStatuses are the values of an account's status in the API.
var apiStatuses = []string{statusActive, statusExpiring, statusLimited, statusNeedsReauth}

// pageKey is an account's place in the list's order, as SQLite sorts it:
// platform, then the name lowercased in ASCII (SQLite's lower()), then id,
// each compared bytewise.
type pageKey struct {
	Platform string `json:"p"`
	Name     string `json:"n"`
	ID       string `json:"i"`
}

func keyOf(a store.Account) pageKey {
	name := []byte(a.DisplayName)
	for i, b := range name {
		if 'A' <= b && b <= 'Z' {
			name[i] = b + ('a' - 'A')
		}
	}
	return pageKey{a.Platform, string(name), a.ID}
}

func (k pageKey) less(o pageKey) bool {
	if k.Platform != o.Platform {
		return k.Platform < o.Platform
	}
	if k.Name != o.Name {
		return k.Name < o.Name
	}
	return k.ID < o.ID
}

// Cursors are opaque to clients: base64url of the key, which they are not
// to parse (its shape may change between versions).
func encodeCursor(k pageKey) string {
	b, _ := json.Marshal(k)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (pageKey, error) {
	var k pageKey
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return k, err
	}
	if err := json.Unmarshal(b, &k); err != nil {
		return k, err
	}
	if k.Platform == "" || k.ID == "" {
		return k, errors.New("incomplete cursor")
	}
	return k, nil
}

// conditionalJSON answers with v and a strong ETag of its bytes, or 304
// Not Modified when the client already holds exactly those bytes. The
// answer may be kept by the client, not by shared caches, and must be
// revalidated each time.
func conditionalJSON(c echo.Context, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return conditionalBlob(c, b)
}

// conditionalBlob is conditionalJSON for JSON written already.
func conditionalBlob(c echo.Context, b []byte) error {
	sum := sha256.Sum256(b)
	etag := `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`
	h := c.Response().Header()
	h.Set("ETag", etag)
	h.Set("Cache-Control", "private, no-cache")
	h.Add("Vary", "Authorization")
	if etagMatches(c.Request().Header.Get("If-None-Match"), etag) {
		return c.NoContent(http.StatusNotModified)
	}
	return c.JSONBlob(http.StatusOK, b)
}

// etagMatches is If-None-Match's weak comparison (RFC 9110 §13.1.2).
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

func (s *server) handleAPIAccount(c echo.Context) error {
	a, err := s.Store.Account(c.Request().Context(), viewerOf(c).member.ID, c.Param("id"))
	if err != nil {
		return err
	}
	return conditionalJSON(c, s.apiView(a))
}

// handleOpenAPI serves the API's description (apispec), the one the tests
// validate every answer against.
func handleOpenAPI(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "public, max-age=300")
	return c.Blob(http.StatusOK, "application/json", apispec.JSON)
}

func (s *server) handleAPIDisconnect(c echo.Context) error {
	v := viewerOf(c)
	if v.readOnly {
		return echo.NewHTTPError(http.StatusForbidden, "This API key is read-only: it lists and reads accounts but cannot disconnect them. Use a read-write key (Settings › API keys).")
	}
	if !canManage(v) {
		return echo.NewHTTPError(http.StatusForbidden, "Only owners and admins of this workspace can disconnect accounts.")
	}
	ctx := c.Request().Context()
	a, err := s.disconnect(ctx, v, c.Param("id"))
	if err != nil {
		return err
	}
	s.Log.Info("account disconnected", "account_id", a.ID, "platform", a.Platform, "via", "api")
	return c.NoContent(http.StatusNoContent)
}

// keyLimits rate-limits API keys, each with its own token bucket: a busy
// service cannot starve another. Sessions are people at a browser and are
// not limited here.
type keyLimits struct {
	mu    sync.Mutex
	rate  rate.Limit
	burst int
	keys  map[int64]*rate.Limiter
}

func newKeyLimits(perSecond float64, burst int) *keyLimits {
	return &keyLimits{rate: rate.Limit(perSecond), burst: burst, keys: map[int64]*rate.Limiter{}}
}

// take spends one request of key's budget and says so in RateLimit-*
// headers (the IETF draft's fields: the bucket's size, what is left, and
// seconds until it is full again); over budget it answers 429 with
// Retry-After, the seconds until the next request is allowed.
func (l *keyLimits) take(c echo.Context, key int64, now time.Time) error {
	l.mu.Lock()
	lim, ok := l.keys[key]
	if !ok {
		lim = rate.NewLimiter(l.rate, l.burst)
		l.keys[key] = lim
	}
	allowed := lim.AllowN(now, 1)
	left := lim.TokensAt(now)
	l.mu.Unlock()
	h := c.Response().Header()
	h.Set("RateLimit-Limit", strconv.Itoa(l.burst))
	h.Set("RateLimit-Remaining", strconv.Itoa(max(int(math.Floor(left)), 0)))
	h.Set("RateLimit-Reset", strconv.Itoa(int(math.Ceil((float64(l.burst)-left)/float64(l.rate)))))
	h.Set("RateLimit-Policy", fmt.Sprintf("%d;w=%d", l.burst, int(math.Ceil(float64(l.burst)/float64(l.rate)))))
	if allowed {
		return nil
	}
	wait := int(math.Ceil((1 - left) / float64(l.rate)))
	h.Set("Retry-After", strconv.Itoa(max(wait, 1)))
	return echo.NewHTTPError(http.StatusTooManyRequests,
		fmt.Sprintf("This API key sent more than %d requests in a burst (%g a second on average). Wait %d seconds, as Retry-After says.", l.burst, float64(l.rate), max(wait, 1)))
}
