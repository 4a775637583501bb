package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"omnisocial/vault"
)

// Tokens are an account's credentials, opened. They exist only in store,
// providers and refresh; pages and the API never see them.
type Tokens struct {
	Access        vault.Token
	Refresh       vault.Token // TikTok only
	User          vault.Token // Meta: the long-lived user token behind a Page token
	Expiry        time.Time   // zero: does not expire
	RefreshExpiry time.Time
}

// Token columns, bound into each ciphertext's associated data.
const (
	colAccess  = "access_token"
	colRefresh = "refresh_token"
	colUser    = "user_token"
)

type sealedTokens struct{ access, refresh, user []byte }

// seal binds each token to the account id and its column, so a ciphertext
// copied to another row or column does not open.
func (s *Store) seal(id string, t Tokens) (sealedTokens, error) {
	var out sealedTokens
	var err error
	if out.access, err = s.box.Seal(t.Access, id, colAccess); err != nil {
		return out, err
	}
	if !t.Refresh.IsZero() {
		if out.refresh, err = s.box.Seal(t.Refresh, id, colRefresh); err != nil {
			return out, err
		}
	}
	if !t.User.IsZero() {
		if out.user, err = s.box.Seal(t.User, id, colUser); err != nil {
			return out, err
		}
	}
	return out, nil
}

func (s *Store) open(id string, st sealedTokens) (Tokens, error) {
	var t Tokens
	var err error
	if t.Access, err = s.box.Open(st.access, id, colAccess); err != nil {
		return t, fmt.Errorf("store: account %s %s: %w", id, colAccess, err)
	}
	if st.refresh != nil {
		if t.Refresh, err = s.box.Open(st.refresh, id, colRefresh); err != nil {
			return t, fmt.Errorf("store: account %s %s: %w", id, colRefresh, err)
		}
	}
	if st.user != nil {
		if t.User, err = s.box.Open(st.user, id, colUser); err != nil {
			return t, fmt.Errorf("store: account %s %s: %w", id, colUser, err)
		}
	}
	return t, nil
}

// Tokens opens an account's credentials.
func (s *Store) Tokens(ctx context.Context, id string) (Tokens, error) {
	return s.tokens(ctx, cachedReader{s}, id)
}

func (s *Store) tokens(ctx context.Context, q querier, id string) (Tokens, error) {
	var st sealedTokens
	var exp, rexp sql.NullInt64
	err := q.QueryRowContext(ctx, `SELECT access_token, refresh_token, user_token, token_expires_at, refresh_expires_at
		FROM social_accounts WHERE id = ?`, id).Scan(&st.access, &st.refresh, &st.user, &exp, &rexp)
	if errors.Is(err, sql.ErrNoRows) {
		return Tokens{}, ErrNotFound
	}
	if err != nil {
		return Tokens{}, err
	}
	t, err := s.open(id, st)
	t.Expiry, t.RefreshExpiry = fromNull(exp), fromNull(rexp)
	return t, err
}
