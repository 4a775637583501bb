package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"omnisocial/providers"
	"slices"
	"strings"
	"time"
)

// Connect asks to manage accounts found by one authorization.
type Connect struct {
	WorkspaceID int64
	UserID      int64
	Platform    string
	// Login is the provider whose sign-in this is, when it is not the
	// platform's own (Instagram accounts through Instagram Login).
	Login        string
	Subject      string
	SubjectName  string
	Accounts     []Discovered
	OnlyExisting bool // reconnect: renew accounts already here, add none
	// SignIn lists the platforms that share this sign-in; with it, a grant
	// of which nothing was kept is owed a revocation (SPEC §13).
	SignIn []string
	// Link, when set, is the owner link this sign-in came through: spent in
	// the same transaction, and named in each account's history.
	Link string
}

// ConnectResult says what happened to each account asked for.
type ConnectResult struct {
	Added    []string // display names
	Renewed  []string
	Rejected []Rejection
}

type Rejection struct{ Name, Reason string }

// Connect stores the chosen accounts in one transaction. An account already
// in the workspace is renewed in place (same id and history; a refresh token
// is never replaced by an empty one). New accounts are added while the plan
// has room; the count is read inside the same transaction on the single
// writer, so two people confirming at once cannot exceed the plan.
func (s *Store) Connect(ctx context.Context, c Connect) (ConnectResult, error) {
	// c.Platform may name the provider (instagram_login): the accounts are
	// on the platform it connects, held by that login.
	if c.Login == "" {
		c.Login = c.Platform
	}
	c.Platform = string(providers.StoredAs(providers.Platform(c.Platform)))
	var k connecting
	err := s.write(ctx, func(ctx context.Context, tx *Tx) error {
		k = connecting{s: s, tx: tx, c: c, now: s.now()}
		if err := tx.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM social_accounts WHERE workspace_id = w.id), p.max_accounts
			FROM workspaces w JOIN plans p ON p.name = w.plan WHERE w.id = ?`, c.WorkspaceID).Scan(&k.used, &k.max); err != nil {
			return fmt.Errorf("store: plan: %w", err)
		}
		for _, d := range c.Accounts {
			if err := k.account(ctx, d); err != nil {
				return err
			}
		}
		si := SignIn{Subject: c.Subject, Platforms: c.SignIn}
		if len(k.res.Added)+len(k.res.Renewed) > 0 {
			// A link is spent only by a sign-in that kept something.
			if c.Link != "" {
				if err := useOwnerLink(ctx, tx, c.Link, c.SubjectName, k.now); err != nil {
					return err
				}
			}
			return cancelRevocations(ctx, tx, si)
		}
		if len(c.Accounts) > 0 {
			d := c.Accounts[0]
			return s.queueRevocation(ctx, tx, c.Platform, si, d.PlatformUserID, d.Tokens, "received but none of its accounts was kept")
		}
		return nil
	})
	if err == nil {
		s.wakeWebhooks(k.queued)
	}
	return k.res, err
}

// connecting is one try of Connect's transaction, and what it did so far.
type connecting struct {
	s         *Store
	tx        *Tx
	c         Connect
	now       time.Time
	used, max int // accounts in the workspace, and the plan's limit
	res       ConnectResult
	queued    int // webhook messages
}

// account renews d if the workspace has it, or else adds it.
func (k *connecting) account(ctx context.Context, d Discovered) error {
	c := k.c
	var id, oldScopes, oldLogin string
	err := k.tx.QueryRowContext(ctx, "SELECT id, scopes, login FROM social_accounts WHERE workspace_id = ? AND platform = ? AND platform_user_id = ?",
		c.WorkspaceID, c.Platform, d.PlatformUserID).Scan(&id, &oldScopes, &oldLogin)
	switch {
	case err == nil:
		return k.renew(ctx, id, oldScopes, oldLogin, d)
	case !errors.Is(err, sql.ErrNoRows):
		return err
	case c.OnlyExisting:
		return nil
	}
	return k.add(ctx, d)
}

func (k *connecting) renew(ctx context.Context, id, oldScopes, oldLogin string, d Discovered) error {
	switched := oldLogin != "" && oldLogin != k.c.login()
	var old Tokens
	var oldSubject string
	if switched {
		// The tokens of the login it leaves are owed a revocation once no
		// account uses that sign-in: read them before they are replaced.
		var err error
		if old, err = k.s.tokens(ctx, k.tx, id); err != nil {
			return err
		}
		if err := k.tx.QueryRowContext(ctx, "SELECT grant_subject FROM social_accounts WHERE id = ?", id).Scan(&oldSubject); err != nil {
			return err
		}
	}
	if err := k.s.renew(ctx, k.tx, id, k.c, d, k.now); err != nil {
		return err
	}
	if switched {
		si := SignIn{Subject: oldSubject, Platforms: providers.SignInPlatforms(providers.Platform(oldLogin))}
		if err := k.s.queueRevocation(ctx, k.tx, oldLogin, si, d.PlatformUserID, old, "the account moved to another login"); err != nil {
			return err
		}
	}
	k.res.Renewed = append(k.res.Renewed, d.DisplayName)
	said := "Tokens, permissions and profile renewed"
	if oldLogin != "" && oldLogin != k.c.login() {
		said += "; now kept by its " + providers.Describe(providers.Platform(k.c.login())).SignIn + " login instead of " +
			providers.Describe(providers.Platform(oldLogin)).SignIn + "'s"
	}
	if err := k.history(ctx, id, d.DisplayName, "reconnected", EventReconnected, said); err != nil {
		return err
	}
	if change := scopeChange(strings.Fields(oldScopes), d.Scopes); change != "" {
		return k.history(ctx, id, d.DisplayName, "permissions_changed", EventPermissionsChanged, change)
	}
	return nil
}

// add adds d as a new account, unless this person connected it in another
// workspace or the plan has no room: then it is rejected, with the reason.
func (k *connecting) add(ctx context.Context, d Discovered) error {
	c, name := k.c, d.DisplayName
	var elsewhere string
	err := k.tx.QueryRowContext(ctx, `SELECT w.name FROM social_accounts a JOIN workspaces w ON w.id = a.workspace_id
		WHERE a.user_id = ? AND a.platform = ? AND a.platform_user_id = ?`, c.UserID, c.Platform, d.PlatformUserID).Scan(&elsewhere)
	if err == nil {
		k.res.Rejected = append(k.res.Rejected, Rejection{name, "you already connected it in the workspace " + elsewhere})
		return nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if k.used >= k.max {
		k.res.Rejected = append(k.res.Rejected, Rejection{name, fmt.Sprintf("the plan allows %d accounts and all are in use", k.max)})
		return nil
	}
	id := NewID()
	if err := k.s.insertAccount(ctx, k.tx, id, c, d, k.now); err != nil {
		return err
	}
	k.used++
	k.res.Added = append(k.res.Added, name)
	return k.history(ctx, id, name, "connected", EventConnected, "Scopes granted: "+strings.Join(d.Scopes, ", "))
}

// history writes an account event and queues its webhook messages.
func (k *connecting) history(ctx context.Context, id, name, kind, event, detail string) error {
	said := detail
	if k.c.Link != "" && (kind == "connected" || kind == "reconnected") {
		said += " through the login owner's link, signed in as " + k.c.SubjectName
	}
	if err := addEvent(ctx, k.tx, k.c.WorkspaceID, id, name, k.c.UserID, kind, said, k.now); err != nil {
		return err
	}
	n, err := k.s.emit(ctx, k.tx, k.c.WorkspaceID, id, event, detail, nil, k.s.now())
	k.queued += n
	return err
}

func (s *Store) insertAccount(ctx context.Context, tx *Tx, id string, c Connect, d Discovered, now time.Time) error {
	st, meta, err := s.sealAccount(id, d)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO social_accounts (id, workspace_id, user_id, platform, platform_user_id, username,
		display_name, avatar_url, access_token, refresh_token, user_token, scopes, token_expires_at, refresh_expires_at, metadata,
		status, last_error, last_synced_at, next_check_at, grant_subject, grant_subject_name, connected_at, updated_at, login)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		id, c.WorkspaceID, c.UserID, c.Platform, d.PlatformUserID, d.Username, d.DisplayName, d.AvatarURL,
		st.access, st.refresh, st.user, strings.Join(d.Scopes, " "), nullTime(d.Tokens.Expiry), nullTime(d.Tokens.RefreshExpiry),
		meta, statusOr(d.Status), d.Problem, now.Unix(), nextCheck(d, now), c.Subject, c.SubjectName, now.Unix(), now.Unix(), c.login())
	if isUnique(err) {
		return fmt.Errorf("store: account %s/%s: %w", c.Platform, d.PlatformUserID, ErrConflict)
	}
	return err
}

// renew writes fresh tokens into an existing row. Bumping version and
// clearing the lease fences off a refresh that was in flight with the old
// tokens: its late write will find its attempt id gone.
func (s *Store) renew(ctx context.Context, tx *Tx, id string, c Connect, d Discovered, now time.Time) error {
	st, meta, err := s.sealAccount(id, d)
	if err != nil {
		return err
	}
	// Another login's tokens are all replaced: what the new login does not
	// hold (a Facebook user token, say) must not outlive the switch.
	_, err = tx.ExecContext(ctx, `UPDATE social_accounts SET username = ?, display_name = ?, avatar_url = ?,
		access_token = ?, refresh_token = CASE WHEN login = ? THEN coalesce(?, refresh_token) ELSE ? END,
		user_token = CASE WHEN login = ? THEN coalesce(?, user_token) ELSE ? END,
		refresh_expires_at = CASE WHEN ? = 0 AND login = ? THEN refresh_expires_at ELSE ? END, login = ?,
		scopes = ?, token_expires_at = ?, metadata = ?, status = ?, last_error = ?, last_synced_at = ?, next_check_at = ?,
		grant_subject = ?, grant_subject_name = ?, updated_at = ?, version = version + 1, lease_until = NULL, attempt_id = NULL,
		failures = 0, last_outcome = 'reconnected'
		WHERE id = ?`,
		d.Username, d.DisplayName, d.AvatarURL, st.access, c.login(), st.refresh, st.refresh, c.login(), st.user, st.user,
		len(st.refresh), c.login(), nullTime(d.Tokens.RefreshExpiry), c.login(),
		strings.Join(d.Scopes, " "), nullTime(d.Tokens.Expiry), meta, statusOr(d.Status), d.Problem, now.Unix(), nextCheck(d, now),
		c.Subject, c.SubjectName, now.Unix(), id)
	return err
}

// sealAccount is what insertAccount and renew write of d: its tokens
// sealed for the account id, and its metadata as JSON.
func (s *Store) sealAccount(id string, d Discovered) (sealedTokens, string, error) {
	st, err := s.seal(id, d.Tokens)
	if err != nil {
		return st, "", err
	}
	meta, err := json.Marshal(orEmpty(d.Metadata))
	return st, string(meta), err
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func statusOr(s Status) Status {
	if s == "" {
		return StatusActive
	}
	return s
}

func nextCheck(d Discovered, now time.Time) int64 {
	if d.NextCheckAt.IsZero() {
		return now.Add(time.Hour).Unix()
	}
	return d.NextCheckAt.Unix()
}

// scopeChange describes what a new authorization granted or took away.
func scopeChange(before, after []string) string {
	var added, removed []string
	for _, s := range after {
		if !slices.Contains(before, s) {
			added = append(added, s)
		}
	}
	for _, s := range before {
		if !slices.Contains(after, s) {
			removed = append(removed, s)
		}
	}
	var parts []string
	if len(added) > 0 {
		parts = append(parts, "Granted: "+strings.Join(added, ", "))
	}
	if len(removed) > 0 {
		parts = append(parts, "Removed: "+strings.Join(removed, ", "))
	}
	return strings.Join(parts, ". ")
}

// login is the provider that holds the tokens: c.Login, or the platform's own.
func (c Connect) login() string {
	if c.Login != "" {
		return c.Login
	}
	return c.Platform
}
