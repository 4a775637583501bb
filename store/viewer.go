package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// A membership's columns and scan, defined once for every read of them
// (Memberships, Membership, UserWithMemberships, SessionWithUser): a
// column added to memberCols and memberScan reaches them all. The outer
// joins let the viewer's reads say "no workspace" with a NULL row; the
// foreign keys (memberships → workspaces → plans) make them inner ones for
// every membership.
const (
	memberCols  = `w.id, w.name, w.plan, ` + accountsVersion + `, m.role, p.max_accounts, coalesce(m.last_used_at, 0)`
	memberJoins = `LEFT JOIN workspaces w ON w.id = m.workspace_id LEFT JOIN plans p ON p.name = w.plan`
)

// memberScan holds one row of memberCols; every column may be NULL.
type memberScan struct {
	wsID, version, maxAccounts, used sql.NullInt64
	wsName, plan, role               sql.NullString
}

func (v *memberScan) dest() []any {
	return []any{&v.wsID, &v.wsName, &v.plan, &v.version, &v.role, &v.maxAccounts, &v.used}
}

// membership is the row's workspace, if it has one.
func (v *memberScan) membership() (Membership, bool) {
	if !v.wsID.Valid || !v.plan.Valid || !v.maxAccounts.Valid {
		return Membership{}, false
	}
	m := Membership{Workspace: Workspace{ID: v.wsID.Int64, Name: v.wsName.String, Plan: v.plan.String, AccountsVersion: v.version.Int64},
		Role: Role(v.role.String), MaxAccounts: int(v.maxAccounts.Int64)}
	if v.used.Int64 > 0 {
		m.LastUsedAt = time.Unix(v.used.Int64, 0)
	}
	return m, true
}

// What a logged-in request reads about the person asking: the user, then a
// row per workspace (a single NULL one for a user in none). A session whose
// user has gone has NULL user columns too.
const (
	viewerCols  = `u.id, u.email, u.name, u.password_hash, ` + memberCols
	viewerJoins = `LEFT JOIN memberships m ON m.user_id = u.id ` + memberJoins
)

type viewerScan struct {
	userID            sql.NullInt64
	email, name, hash sql.NullString
	memberScan
}

func (v *viewerScan) dest() []any {
	return append([]any{&v.userID, &v.email, &v.name, &v.hash}, v.memberScan.dest()...)
}

func (v *viewerScan) user() User {
	return User{ID: v.userID.Int64, Email: v.email.String, Name: v.name.String, PasswordHash: v.hash.String}
}

// readViewer reads the rows of a query that selects lead (the same values
// on every row) and then viewerCols, ordered by workspace. found is false
// when there was no row at all.
func readViewer(rows *sql.Rows, lead ...any) (u User, ms []Membership, found bool, err error) {
	defer rows.Close()
	var v viewerScan
	dest := append(lead, v.dest()...)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return User{}, nil, false, err
		}
		found = true
		if u.ID == 0 {
			u = v.user()
		}
		if m, ok := v.membership(); ok {
			ms = append(ms, m)
		}
	}
	return u, ms, found, rows.Err()
}

// UserWithMemberships reads a user and the workspaces they belong to,
// oldest first, in one round trip. A user who does not exist is
// ErrNotFound; one in no workspace comes back with none. It reads what User
// and Memberships read, at one moment, so a membership removed a moment
// ago is gone.
func (s *Store) UserWithMemberships(ctx context.Context, userID int64) (User, []Membership, error) {
	rows, err := s.query(ctx, "SELECT "+viewerCols+" FROM users u "+viewerJoins+" WHERE u.id = ? ORDER BY w.id", userID)
	if err != nil {
		return User{}, nil, fmt.Errorf("store: user with memberships: %w", err)
	}
	u, ms, _, err := readViewer(rows)
	if err != nil {
		return User{}, nil, fmt.Errorf("store: user with memberships: %w", err)
	}
	if u.ID == 0 {
		return User{}, nil, ErrNotFound
	}
	return u, ms, nil
}

// SessionWithUser reads a session together with the user it names and
// that user's workspaces, oldest first: all a logged-in request needs
// before its handler runs, in one round trip. A session that does not
// exist is ErrNotFound. One before log-in, or whose user has gone, comes
// back with a zero User and no workspaces.
func (s *Store) SessionWithUser(ctx context.Context, idHash []byte) (Session, User, []Membership, error) {
	se := Session{IDHash: idHash}
	var uid sql.NullInt64
	var created, seen int64
	rows, err := s.query(ctx, `SELECT s.user_id, s.data, s.created_at, s.last_seen_at, `+viewerCols+`
		FROM sessions s LEFT JOIN users u ON u.id = s.user_id `+viewerJoins+`
		WHERE s.id_hash = ? ORDER BY w.id`, idHash)
	if err != nil {
		return se, User{}, nil, fmt.Errorf("store: session: %w", err)
	}
	u, ms, found, err := readViewer(rows, &uid, &se.Data, &created, &seen)
	if err != nil {
		return se, User{}, nil, fmt.Errorf("store: session: %w", err)
	}
	if !found {
		return se, User{}, nil, ErrNotFound
	}
	se.UserID, se.CreatedAt, se.LastSeenAt = uid.Int64, time.Unix(created, 0), time.Unix(seen, 0)
	return se, u, ms, nil
}
