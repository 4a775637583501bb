package handlers

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/gob"
	"errors"
	"net/http"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"

	"omnisocial/store"
)

// Sessions saved as gob still load (decodeGobSession).
func init() {
	gob.Register([]any{})
	gob.Register(flash{})
}

// sessionStore is a gorilla/sessions Store kept server-side: the cookie
// carries only a signed random id, the row holds the values. Logging out
// deletes the row, so a copied cookie is worthless afterwards (ASVS 7.4.1),
// which a cookie-only store cannot promise.
type sessionStore struct {
	st    *store.Store
	codec securecookie.Codec
	opts  sessions.Options
	idle  time.Duration
	max   time.Duration
	now   func() time.Time
}

func newSessionStore(st *store.Store, hashKey []byte, secure bool, idle, max time.Duration, now func() time.Time) *sessionStore {
	codec := securecookie.New(hashKey, nil)
	codec.MaxAge(int(max / time.Second))
	return &sessionStore{
		st:    st,
		codec: codec,
		opts: sessions.Options{
			Path:     "/",
			MaxAge:   int(max / time.Second),
			HttpOnly: true,
			Secure:   secure,
			// Lax, not Strict: the platform sends the person back to the
			// OAuth callback cross-site, and the session must come along.
			SameSite: http.SameSiteLaxMode,
		},
		idle: idle,
		max:  max,
		now:  now,
	}
}

// cookieName gets the __Host- prefix under https: the browser then refuses
// the cookie unless it is Secure, host-only and Path=/ (ASVS 3.3.1).
func (s *sessionStore) cookieName() string {
	if s.opts.Secure {
		return "__Host-omnisocial"
	}
	return "omnisocial"
}

func (s *sessionStore) Get(r *http.Request, name string) (*sessions.Session, error) {
	return sessions.GetRegistry(r).Get(s, name)
}

// New loads the session named by the request's cookie (sessions.Store).
func (s *sessionStore) New(r *http.Request, name string) (*sessions.Session, error) {
	sess, _, err := s.load(r, name)
	return sess, err
}

// sessionUser is the person a session names, read with it: a zero user if
// it names nobody (before log-in) or someone who has gone.
type sessionUser struct {
	user     store.User
	memberOf []store.Membership
}

// load is New, also handing back the session's user and their workspaces,
// which the same query read: a logged-in request makes one round trip for
// all of it. A missing, forged, expired or ended session yields a fresh
// anonymous one, never an error page.
func (s *sessionStore) load(r *http.Request, name string) (*sessions.Session, sessionUser, error) {
	sess := sessions.NewSession(s, name)
	opts := s.opts
	sess.Options = &opts
	sess.IsNew = true
	c, err := r.Cookie(name)
	if err != nil {
		return sess, sessionUser{}, nil
	}
	var id string
	if s.codec.Decode(name, c.Value, &id) != nil {
		return sess, sessionUser{}, nil
	}
	ctx := r.Context()
	row, user, memberOf, err := s.st.SessionWithUser(ctx, hashID(id))
	if errors.Is(err, store.ErrNotFound) {
		return sess, sessionUser{}, nil
	}
	if err != nil {
		return sess, sessionUser{}, err
	}
	now := s.now()
	if now.Sub(row.LastSeenAt) > s.idle || now.Sub(row.CreatedAt) > s.max {
		return sess, sessionUser{}, s.st.DeleteSession(ctx, row.IDHash)
	}
	if err := decodeSession(row.Data, sess.Values); err != nil {
		clear(sess.Values) // a half-read session is none
		return sess, sessionUser{}, nil
	}
	sess.ID = id
	sess.IsNew = false
	if now.Sub(row.LastSeenAt) > s.touchEvery() {
		if err := s.st.TouchSession(ctx, row.IDHash); err != nil {
			return sess, sessionUser{}, err
		}
	}
	return sess, sessionUser{user: user, memberOf: memberOf}, nil
}

// touchEvery is how stale last-seen may get before a request rewrites it:
// a quarter of the idle limit, at most a minute. Rarer writes would log out
// people active under a short limit (20 s, clicking every 15 s); a write per
// request would cost the default hour a write per page. So the idle limit
// holds to within a quarter of its length, never longer than configured.
func (s *sessionStore) touchEvery() time.Duration {
	return min(time.Minute, s.idle/4)
}

func (s *sessionStore) Save(r *http.Request, w http.ResponseWriter, sess *sessions.Session) error {
	ctx := r.Context()
	if sess.Options.MaxAge < 0 {
		if sess.ID != "" {
			if err := s.st.DeleteSession(ctx, hashID(sess.ID)); err != nil {
				return err
			}
		}
		http.SetCookie(w, sessions.NewCookie(sess.Name(), "", sess.Options))
		return nil
	}
	if sess.ID == "" {
		sess.ID = newID()
	}
	data, err := encodeSession(sess.Values)
	if err != nil {
		return err
	}
	uid, _ := sess.Values[keyUser].(int64)
	if err := s.st.SaveSession(ctx, store.Session{IDHash: hashID(sess.ID), UserID: uid, Data: data}); err != nil {
		return err
	}
	encoded, err := s.codec.Encode(sess.Name(), sess.ID)
	if err != nil {
		return err
	}
	http.SetCookie(w, sessions.NewCookie(sess.Name(), encoded, sess.Options))
	return nil
}

// renew gives a session a new id (the old row is deleted), so an id known
// before log-in is useless after it (session fixation, ASVS 7.2.4).
func (s *sessionStore) renew(r *http.Request, sess *sessions.Session) error {
	if sess.ID != "" {
		if err := s.st.DeleteSession(r.Context(), hashID(sess.ID)); err != nil {
			return err
		}
	}
	sess.ID = ""
	sess.IsNew = true
	return nil
}

// newID is a random, URL-safe identifier: 32 bytes from crypto/rand
// (session ids, CSRF tokens, OAuth states).
func newID() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashID(id string) []byte {
	h := sha256.Sum256([]byte(id))
	return h[:]
}

// Session keys.
const (
	keyUser      = "uid"
	keyWorkspace = "ws"
	keyFlash     = "flash"
)

type flash struct{ Kind, Text string }
