package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"omnisocial/providers"
)

// Mail kinds.
const (
	MailReauth = "reauth" // accounts of one sign-in need re-auth
	MailDigest = "digest" // the daily list of accounts expiring soon
)

// Mail is one e-mail alert owed.
type Mail struct {
	ID          int64
	WorkspaceID int64
	Kind, Key   string
	AccountID   string // reauth: the account whose transition queued it
	Attempts    int
	CreatedAt   time.Time
}

// queueReauthMail owes the workspace's owners and admins one message about
// the sign-in behind accountID, in the transaction that marked it
// needs_reauth. One pending message per workspace and sign-in: a storm of
// its accounts is one message, composed when sent. Grouped as the banner
// groups: a sign-in that serves several platforms (Facebook's: its Pages
// and Instagram accounts) is one group; otherwise each account is its own.
func queueReauthMail(ctx context.Context, tx *Tx, ws int64, accountID string, at time.Time) error {
	var platform, subject string
	err := tx.QueryRowContext(ctx, "SELECT coalesce(nullif(login, ''), platform), grant_subject FROM social_accounts WHERE id = ?", accountID).Scan(&platform, &subject)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store: queue mail: %w", err)
	}
	_, err = tx.ExecContext(ctx, `INSERT OR IGNORE INTO mail_outbox (workspace_id, kind, key, account_id, next_attempt_at, created_at)
		VALUES (?, 'reauth', ?, ?, ?, ?)`, ws, reauthGroup(platform, subject, accountID), accountID, at.Unix(), at.Unix())
	if err != nil {
		return fmt.Errorf("store: queue mail: %w", err)
	}
	return nil
}

func reauthGroup(platform, subject, accountID string) string {
	if providers.Describe(providers.Platform(platform)).SharesSignIn() && subject != "" {
		return "meta:" + subject
	}
	return "account:" + accountID
}

// ReauthGroup is the key an account's re-auth mail is grouped under.
func ReauthGroup(a Account) string { return reauthGroup(string(a.Provider()), a.GrantSubject, a.ID) }

// QueueDigests owes each workspace with accounts whose access ends before
// until (and that do not need re-auth already) one digest for day; a day's
// digest is queued once, whatever the restarts.
func (s *Store) QueueDigests(ctx context.Context, day string, now, until time.Time) (int, error) {
	accts, err := s.listAccounts(ctx, "a.status != 'needs_reauth'")
	if err != nil {
		return 0, err
	}
	wss := map[int64]bool{}
	for _, a := range accts {
		if d := a.RenewalDeadline(); !d.IsZero() && d.After(now) && d.Before(until) {
			wss[a.WorkspaceID] = true
		}
	}
	n := 0
	err = s.write(context.WithoutCancel(ctx), func(ctx context.Context, tx *Tx) error {
		n = 0
		if _, err := tx.ExecContext(ctx, "DELETE FROM mail_outbox WHERE kind = 'digest' AND state = 'sent' AND created_at < ?", now.AddDate(0, 0, -7).Unix()); err != nil {
			return err
		}
		for ws := range wss {
			res, err := tx.ExecContext(ctx, `INSERT INTO mail_outbox (workspace_id, kind, key, next_attempt_at, created_at)
				SELECT ?, 'digest', ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM mail_outbox WHERE workspace_id = ? AND kind = 'digest' AND key = ?)`,
				ws, day, now.Unix(), now.Unix(), ws, day)
			if err != nil {
				return err
			}
			k, _ := res.RowsAffected()
			n += int(k)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: queue digests: %w", err)
	}
	return n, nil
}

// DueMail lists pending messages due at now, oldest first.
func (s *Store) DueMail(ctx context.Context, now time.Time, limit int) ([]Mail, error) {
	rows, err := s.query(ctx, `SELECT id, workspace_id, kind, key, account_id, attempts, created_at FROM mail_outbox
		WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?`, now.Unix(), limit)
	if err != nil {
		return nil, fmt.Errorf("store: due mail: %w", err)
	}
	defer rows.Close()
	var out []Mail
	for rows.Next() {
		var m Mail
		var at int64
		if err := rows.Scan(&m.ID, &m.WorkspaceID, &m.Kind, &m.Key, &m.AccountID, &m.Attempts, &at); err != nil {
			return nil, err
		}
		m.CreatedAt = time.Unix(at, 0)
		out = append(out, m)
	}
	return out, rows.Err()
}

// MailDone removes a message sent (or no longer needed); a digest is kept
// a week as sent, so a restart the same day does not send it again.
func (s *Store) MailDone(ctx context.Context, id int64) error {
	return s.write(context.WithoutCancel(ctx), func(ctx context.Context, tx *Tx) error {
		if _, err := tx.ExecContext(ctx, "UPDATE mail_outbox SET state = 'sent' WHERE id = ? AND kind = 'digest'", id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "DELETE FROM mail_outbox WHERE id = ? AND kind != 'digest'", id)
		return err
	})
}

// MailRetry keeps a message that failed for another try at next, or gives
// it up (state failed) when giveUp.
func (s *Store) MailRetry(ctx context.Context, id int64, next time.Time, reason string, giveUp bool) error {
	return s.write(context.WithoutCancel(ctx), func(ctx context.Context, tx *Tx) error {
		state := "pending"
		if giveUp {
			state = "failed"
		}
		_, err := tx.ExecContext(ctx, `UPDATE mail_outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?, state = ?
			WHERE id = ?`, reason, next.Unix(), state, id)
		return err
	})
}

// MailOwed counts pending messages.
func (s *Store) MailOwed(ctx context.Context) (int, error) {
	var n int
	err := s.queryRow(ctx, "SELECT count(*) FROM mail_outbox WHERE state = 'pending'").Scan(&n)
	return n, err
}

// AlertRecipients are the e-mails of the workspace's owners and admins who
// have not turned alerts off.
func (s *Store) AlertRecipients(ctx context.Context, workspaceID int64) ([]string, error) {
	rows, err := s.query(ctx, `SELECT u.email FROM memberships m JOIN users u ON u.id = m.user_id
		WHERE m.workspace_id = ? AND m.role IN ('owner', 'admin') AND u.mail_alerts = 1 ORDER BY u.email`, workspaceID)
	if err != nil {
		return nil, fmt.Errorf("store: alert recipients: %w", err)
	}
	return collect(rows, nil, func(r *sql.Rows) (e string, err error) { return e, r.Scan(&e) })
}

// SetMailAlerts turns a person's e-mail alerts on or off.
func (s *Store) SetMailAlerts(ctx context.Context, userID int64, on bool) error {
	_, err := s.exec(ctx, "UPDATE users SET mail_alerts = ? WHERE id = ?", on, userID)
	return err
}

// MailAlerts reports whether a person gets e-mail alerts.
func (s *Store) MailAlerts(ctx context.Context, userID int64) (bool, error) {
	var on bool
	err := s.queryRow(ctx, "SELECT mail_alerts FROM users WHERE id = ?", userID).Scan(&on)
	return on, err
}

// ExpiringAccounts lists the workspace's accounts (not needing re-auth)
// whose access ends between now and until, unless someone signs in again.
func (s *Store) ExpiringAccounts(ctx context.Context, workspaceID int64, now, until time.Time) ([]Account, error) {
	accts, err := s.listAccounts(ctx, "a.workspace_id = ? AND a.status != 'needs_reauth'", workspaceID)
	if err != nil {
		return nil, err
	}
	var out []Account
	for _, a := range accts {
		if d := a.RenewalDeadline(); !d.IsZero() && d.After(now) && d.Before(until) {
			out = append(out, a)
		}
	}
	return out, nil
}

// WorkspaceName is a workspace's name.
func (s *Store) WorkspaceName(ctx context.Context, id int64) (string, error) {
	var name string
	err := s.queryRow(ctx, "SELECT name FROM workspaces WHERE id = ?", id).Scan(&name)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	return name, err
}

// RenewalDeadline is when the account's access ends unless someone signs
// in again (zero: it renews itself): a rotated refresh token's end, or a
// validated sign-in's user token and data access.
func (a Account) RenewalDeadline() time.Time {
	var d time.Time
	earliest := func(t time.Time) {
		if !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	switch providers.Describe(a.Provider()).Renewal {
	case providers.Rotated:
		earliest(a.RefreshExpiresAt)
	default:
		for _, k := range []string{providers.MetaUserTokenExpiry, providers.MetaDataAccessUntil} {
			if s, ok := a.Metadata[k].(string); ok {
				if t, err := time.Parse(time.RFC3339, s); err == nil {
					earliest(t)
				}
			}
		}
		earliest(a.TokenExpiresAt)
	}
	return d
}
