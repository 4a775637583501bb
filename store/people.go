package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ValidRole reports whether r is a known role.
func ValidRole(r Role) bool { return r == RoleOwner || r == RoleAdmin || r == RoleMember }

// CanManage reports whether a role may connect, reconnect and disconnect.
func CanManage(role Role) bool { return role == RoleOwner || role == RoleAdmin }

type User struct {
	ID           int64
	Email        string
	Name         string
	PasswordHash string
}

type Workspace struct {
	ID   int64
	Name string
	Plan string
	// AccountsVersion moves with every change to the workspace's accounts
	// (schema.sql's triggers): what was made of them under one version
	// still holds while it reads the same.
	AccountsVersion int64
}

// accountsVersion reads a workspace w's AccountsVersion: the sum of its
// shards, each of which only grows, so any change committed moves it.
const accountsVersion = `CAST((SELECT coalesce(sum(v.version), 0) FROM account_versions v WHERE v.workspace_id = w.id) AS BIGINT)`

// Membership is a user's place in a workspace, with the plan's room.
type Membership struct {
	Workspace
	Role        Role
	MaxAccounts int
	LastUsedAt  time.Time // when the person last chose it; zero: never
}

// ErrSignupClosed means self-signup is off and the install already has users.
var ErrSignupClosed = errors.New("store: sign-up is closed")

// SignUp creates a user who owns a new workspace, in one transaction. When
// closed is true it succeeds only on a fresh install (the first user must be
// able to get in); the count is read inside the transaction, so two people
// racing for "first" cannot both win.
func (s *Store) SignUp(ctx context.Context, u User, workspace, plan string, closed bool) (User, Workspace, error) {
	var ws Workspace
	err := s.write(ctx, func(ctx context.Context, tx *Tx) error {
		if closed {
			var n int
			if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM users").Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return ErrSignupClosed
			}
		}
		var err error
		if u, err = insertUser(ctx, tx, u, s.now().Unix()); err != nil {
			return err
		}
		ws, err = insertWorkspace(ctx, tx, workspace, plan, s.now().Unix())
		if err != nil {
			return err
		}
		return insertMember(ctx, tx, ws.ID, u.ID, RoleOwner, s.now().Unix())
	})
	return u, ws, err
}

// AddUser creates a user as a member of an existing workspace, or adds an
// existing user (matched by e-mail; the password is then left unchanged).
func (s *Store) AddUser(ctx context.Context, u User, workspaceID int64, role Role) (User, error) {
	if !ValidRole(role) {
		return u, fmt.Errorf("store: unknown role %q", role)
	}
	err := s.write(ctx, func(ctx context.Context, tx *Tx) error {
		existing, err := userBy(ctx, tx, "email = ?", u.Email)
		switch {
		case err == nil:
			u = existing
		case errors.Is(err, ErrNotFound):
			if u, err = insertUser(ctx, tx, u, s.now().Unix()); err != nil {
				return err
			}
		default:
			return err
		}
		return insertMember(ctx, tx, workspaceID, u.ID, role, s.now().Unix())
	})
	return u, err
}

// CreateWorkspace makes a workspace owned by userID.
func (s *Store) CreateWorkspace(ctx context.Context, userID int64, name, plan string) (Workspace, error) {
	var ws Workspace
	err := s.write(ctx, func(ctx context.Context, tx *Tx) error {
		var err error
		if ws, err = insertWorkspace(ctx, tx, name, plan, s.now().Unix()); err != nil {
			return err
		}
		return insertMember(ctx, tx, ws.ID, userID, RoleOwner, s.now().Unix())
	})
	return ws, err
}

func insertUser(ctx context.Context, tx *Tx, u User, now int64) (User, error) {
	u.Email = strings.TrimSpace(u.Email)
	err := tx.QueryRowContext(ctx, "INSERT INTO users (email, name, password_hash, created_at) VALUES (?, ?, ?, ?) RETURNING id",
		u.Email, u.Name, u.PasswordHash, now).Scan(&u.ID)
	if isUnique(err) {
		return u, ErrConflict
	}
	if err != nil {
		return u, fmt.Errorf("store: insert user: %w", err)
	}
	return u, nil
}

func insertWorkspace(ctx context.Context, tx *Tx, name, plan string, now int64) (Workspace, error) {
	if plan == "" {
		plan = "free"
	}
	var id int64
	err := tx.QueryRowContext(ctx, "INSERT INTO workspaces (name, plan, created_at) VALUES (?, ?, ?) RETURNING id", name, plan, now).Scan(&id)
	if isForeignKey(err) {
		return Workspace{}, fmt.Errorf("store: unknown plan %q", plan)
	}
	if err != nil {
		return Workspace{}, fmt.Errorf("store: insert workspace: %w", err)
	}
	return Workspace{ID: id, Name: name, Plan: plan}, nil
}

func insertMember(ctx context.Context, tx *Tx, ws, user int64, role Role, now int64) error {
	_, err := tx.ExecContext(ctx, "INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES (?, ?, ?, ?)",
		ws, user, role, now)
	if isUnique(err) {
		return ErrConflict
	}
	if isForeignKey(err) {
		return ErrNotFound
	}
	return err
}

type querier interface {
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

func userBy(ctx context.Context, q querier, where string, arg any) (User, error) {
	var u User
	err := q.QueryRowContext(ctx, "SELECT id, email, name, password_hash FROM users WHERE "+where, arg).
		Scan(&u.ID, &u.Email, &u.Name, &u.PasswordHash)
	if errors.Is(err, sql.ErrNoRows) {
		return u, ErrNotFound
	}
	return u, err
}

// UserByEmail finds a user by e-mail, ignoring case.
func (s *Store) UserByEmail(ctx context.Context, email string) (User, error) {
	return userBy(ctx, cachedReader{s}, "email = ?", strings.TrimSpace(email))
}

// User finds a user by id.
func (s *Store) User(ctx context.Context, id int64) (User, error) {
	return userBy(ctx, cachedReader{s}, "id = ?", id)
}

// SetPasswordHash replaces a user's password hash (used to upgrade parameters).
func (s *Store) SetPasswordHash(ctx context.Context, id int64, hash string) error {
	_, err := s.exec(ctx, "UPDATE users SET password_hash = ? WHERE id = ?", hash, id)
	return err
}

// Memberships lists the workspaces a user belongs to, oldest first.
func (s *Store) Memberships(ctx context.Context, userID int64) ([]Membership, error) {
	rows, err := s.query(ctx, "SELECT "+memberCols+" FROM memberships m "+memberJoins+" WHERE m.user_id = ? ORDER BY w.id", userID)
	if err != nil {
		return nil, fmt.Errorf("store: memberships: %w", err)
	}
	defer rows.Close()
	var out []Membership
	var ms memberScan
	for rows.Next() {
		if err := rows.Scan(ms.dest()...); err != nil {
			return nil, err
		}
		if m, ok := ms.membership(); ok {
			out = append(out, m)
		}
	}
	return out, rows.Err()
}

// Membership returns userID's membership of one workspace, or ErrNotFound.
func (s *Store) Membership(ctx context.Context, userID, workspaceID int64) (Membership, error) {
	var ms memberScan
	err := s.queryRow(ctx, "SELECT "+memberCols+" FROM memberships m "+memberJoins+" WHERE m.user_id = ? AND m.workspace_id = ?",
		userID, workspaceID).Scan(ms.dest()...)
	if errors.Is(err, sql.ErrNoRows) {
		return Membership{}, ErrNotFound
	}
	if err != nil {
		return Membership{}, err
	}
	m, ok := ms.membership()
	if !ok {
		return Membership{}, ErrNotFound
	}
	return m, nil
}

// WorkspaceByName finds a workspace by exact name (for the command line).
func (s *Store) WorkspaceByName(ctx context.Context, name string) (Workspace, error) {
	var w Workspace
	err := s.queryRow(ctx, "SELECT id, name, plan FROM workspaces WHERE name = ? ORDER BY id LIMIT 1", name).
		Scan(&w.ID, &w.Name, &w.Plan)
	if errors.Is(err, sql.ErrNoRows) {
		return w, ErrNotFound
	}
	return w, err
}

// SetPlan changes a workspace's plan.
func (s *Store) SetPlan(ctx context.Context, workspaceID int64, plan string) error {
	res, err := s.exec(ctx, "UPDATE workspaces SET plan = ? WHERE id = ?", plan, workspaceID)
	if isForeignKey(err) {
		return fmt.Errorf("store: unknown plan %q", plan)
	}
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// SetPlanLimit creates or changes a plan's account limit (the plan table is
// configurable).
func (s *Store) SetPlanLimit(ctx context.Context, plan string, max int) error {
	_, err := s.exec(ctx, `INSERT INTO plans (name, max_accounts) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET max_accounts = excluded.max_accounts`, plan, max)
	return err
}

// Plans returns every plan and its limit.
func (s *Store) Plans(ctx context.Context) (map[string]int, error) {
	rows, err := s.query(ctx, "SELECT name, max_accounts FROM plans")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var n string
		var m int
		if err := rows.Scan(&n, &m); err != nil {
			return nil, err
		}
		out[n] = m
	}
	return out, rows.Err()
}

// Members lists a workspace's people.
func (s *Store) Members(ctx context.Context, workspaceID int64) ([]Member, error) {
	rows, err := s.query(ctx, `SELECT u.id, u.email, u.name, m.role FROM memberships m
		JOIN users u ON u.id = m.user_id WHERE m.workspace_id = ? ORDER BY m.created_at, u.id`, workspaceID)
	return collect(rows, err, func(r *sql.Rows) (m Member, err error) { return m, r.Scan(&m.UserID, &m.Email, &m.Name, &m.Role) })
}

type Member struct {
	UserID      int64
	Email, Name string
	Role        Role
}

// CountUsers is the number of users on this install.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := s.queryRow(ctx, "SELECT count(*) FROM users").Scan(&n)
	return n, err
}

// WorkspaceMembership describes a workspace (with its plan's room) for a
// caller that is not a member, such as an API key.
func (s *Store) WorkspaceMembership(ctx context.Context, workspaceID int64) (Membership, error) {
	var m Membership
	err := s.queryRow(ctx, `SELECT w.id, w.name, w.plan, `+accountsVersion+`, p.max_accounts FROM workspaces w JOIN plans p ON p.name = w.plan
		WHERE w.id = ?`, workspaceID).Scan(&m.ID, &m.Name, &m.Plan, &m.AccountsVersion, &m.MaxAccounts)
	if errors.Is(err, sql.ErrNoRows) {
		return m, ErrNotFound
	}
	return m, err
}
