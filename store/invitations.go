package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"omnisocial/vault"
)

// InvitationTTL is how long an invitation link works.
const InvitationTTL = 7 * 24 * time.Hour

// ErrLastOwner means the change would leave a workspace without an owner.
var ErrLastOwner = errors.New("store: a workspace keeps at least one owner")

// ErrAlreadyMember means the invited e-mail belongs to a member already.
var ErrAlreadyMember = errors.New("store: already a member")

// Invitation is a pending offer to join a workspace.
type Invitation struct {
	ID            int64
	WorkspaceID   int64
	WorkspaceName string
	Email         string
	Role          Role
	InvitedBy     string // the inviter's name, or e-mail when they gave none
	CreatedAt     time.Time
	ExpiresAt     time.Time
}

func hashInvitationToken(tok string) []byte {
	h := sha256.Sum256([]byte("invitation:" + tok))
	return h[:]
}

// CreateInvitation invites email into a workspace with a role and returns
// the link's token, which only its hash outlives. Inviting the same e-mail
// again replaces the pending invitation (and kills the old link). Whether
// the e-mail has an account here plays no part: the answer is the same.
func (s *Store) CreateInvitation(ctx context.Context, workspaceID, invitedBy int64, email string, role Role) (Invitation, vault.Token, error) {
	email = strings.TrimSpace(email)
	if !ValidRole(role) {
		return Invitation{}, vault.Token{}, fmt.Errorf("store: unknown role %q", role)
	}
	tok := randomString(32)
	now := s.now()
	inv := Invitation{WorkspaceID: workspaceID, Email: email, Role: role, CreatedAt: now, ExpiresAt: now.Add(InvitationTTL)}
	err := s.write(ctx, func(ctx context.Context, tx *Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM memberships m JOIN users u ON u.id = m.user_id
			WHERE m.workspace_id = ? AND u.email = ?`, workspaceID, email).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return ErrAlreadyMember
		}
		err := tx.QueryRowContext(ctx, `INSERT INTO invitations (workspace_id, email, role, token_hash, invited_by, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (workspace_id, email) DO UPDATE SET role = excluded.role, token_hash = excluded.token_hash,
				invited_by = excluded.invited_by, created_at = excluded.created_at, expires_at = excluded.expires_at
			RETURNING id`, workspaceID, email, role, hashInvitationToken(tok), invitedBy, now.Unix(), inv.ExpiresAt.Unix()).Scan(&inv.ID)
		if isForeignKey(err) {
			return ErrNotFound
		}
		return err
	})
	if err != nil {
		return Invitation{}, vault.Token{}, err
	}
	return inv, vault.NewToken(tok), nil
}

const invitationCols = `i.id, i.workspace_id, w.name, i.email, i.role, coalesce(nullif(u.name, ''), u.email, ''), i.created_at, i.expires_at
	FROM invitations i JOIN workspaces w ON w.id = i.workspace_id LEFT JOIN users u ON u.id = i.invited_by`

func (s *Store) invitations(ctx context.Context, where string, args ...any) ([]Invitation, error) {
	rows, err := s.query(ctx, "SELECT "+invitationCols+" WHERE i.expires_at > ? AND "+where+" ORDER BY i.created_at, i.id",
		append([]any{s.now().Unix()}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("store: invitations: %w", err)
	}
	defer rows.Close()
	var out []Invitation
	for rows.Next() {
		var inv Invitation
		var created, expires int64
		if err := rows.Scan(&inv.ID, &inv.WorkspaceID, &inv.WorkspaceName, &inv.Email, &inv.Role, &inv.InvitedBy, &created, &expires); err != nil {
			return nil, err
		}
		inv.CreatedAt, inv.ExpiresAt = time.Unix(created, 0), time.Unix(expires, 0)
		out = append(out, inv)
	}
	return out, rows.Err()
}

// Invitations lists a workspace's pending invitations.
func (s *Store) Invitations(ctx context.Context, workspaceID int64) ([]Invitation, error) {
	return s.invitations(ctx, "i.workspace_id = ?", workspaceID)
}

// InvitationsFor lists the pending invitations addressed to an e-mail.
func (s *Store) InvitationsFor(ctx context.Context, email string) ([]Invitation, error) {
	return s.invitations(ctx, "i.email = ?", strings.TrimSpace(email))
}

// InvitationByToken finds the pending invitation a link names; a used,
// revoked, replaced or expired link is ErrNotFound.
func (s *Store) InvitationByToken(ctx context.Context, tok string) (Invitation, error) {
	list, err := s.invitations(ctx, "i.token_hash = ?", hashInvitationToken(tok))
	if err != nil {
		return Invitation{}, err
	}
	if len(list) == 0 {
		return Invitation{}, ErrNotFound
	}
	return list[0], nil
}

// RevokeInvitation deletes a workspace's pending invitation.
func (s *Store) RevokeInvitation(ctx context.Context, workspaceID, id int64) (Invitation, error) {
	var inv Invitation
	err := s.write(ctx, func(ctx context.Context, tx *Tx) error {
		err := tx.QueryRowContext(ctx, "DELETE FROM invitations WHERE id = ? AND workspace_id = ? RETURNING email, role", id, workspaceID).
			Scan(&inv.Email, &inv.Role)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		return err
	})
	return inv, err
}

// AcceptInvitation makes userID a member as the invitation says, provided
// it is addressed to their e-mail and still pending, and deletes it. The
// workspace becomes the one they used last, so they land in it.
func (s *Store) AcceptInvitation(ctx context.Context, userID, id int64) (Workspace, error) {
	var ws Workspace
	err := s.write(ctx, func(ctx context.Context, tx *Tx) error {
		var role Role
		err := tx.QueryRowContext(ctx, `SELECT i.workspace_id, w.name, w.plan, i.role FROM invitations i
			JOIN workspaces w ON w.id = i.workspace_id JOIN users u ON u.email = i.email
			WHERE i.id = ? AND u.id = ? AND i.expires_at > ?`, id, userID, s.now().Unix()).Scan(&ws.ID, &ws.Name, &ws.Plan, &role)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		return s.join(ctx, tx, ws.ID, userID, role, id)
	})
	return ws, err
}

// join adds the membership an invitation offered (an existing one is kept
// as it is) and deletes the invitation.
func (s *Store) join(ctx context.Context, tx *Tx, workspaceID, userID int64, role Role, invitationID int64) error {
	now := s.now().Unix()
	if _, err := tx.ExecContext(ctx, `INSERT INTO memberships (workspace_id, user_id, role, created_at, last_used_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (workspace_id, user_id) DO UPDATE SET last_used_at = excluded.last_used_at`, workspaceID, userID, role, now, now); err != nil {
		return fmt.Errorf("store: join: %w", err)
	}
	_, err := tx.ExecContext(ctx, "DELETE FROM invitations WHERE id = ?", invitationID)
	return err
}

// DeclineInvitation deletes an invitation addressed to userID's e-mail.
func (s *Store) DeclineInvitation(ctx context.Context, userID, id int64) (Invitation, error) {
	var inv Invitation
	err := s.write(ctx, func(ctx context.Context, tx *Tx) error {
		err := tx.QueryRowContext(ctx, `DELETE FROM invitations WHERE id = ? AND email = (SELECT email FROM users WHERE id = ?)
			RETURNING workspace_id`, id, userID).Scan(&inv.WorkspaceID)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		return err
	})
	return inv, err
}

// AcceptInvitationAsNewUser creates the invited person's account (with the
// invitation's e-mail) and membership at once. ErrConflict: the e-mail has
// an account, whose owner must log in to accept; ErrNotFound: the link is
// used, revoked, replaced or expired.
func (s *Store) AcceptInvitationAsNewUser(ctx context.Context, tok string, u User) (User, Workspace, error) {
	var ws Workspace
	err := s.write(ctx, func(ctx context.Context, tx *Tx) error {
		var id int64
		var role Role
		err := tx.QueryRowContext(ctx, `SELECT i.id, i.email, i.role, w.id, w.name, w.plan FROM invitations i
			JOIN workspaces w ON w.id = i.workspace_id WHERE i.token_hash = ? AND i.expires_at > ?`,
			hashInvitationToken(tok), s.now().Unix()).Scan(&id, &u.Email, &role, &ws.ID, &ws.Name, &ws.Plan)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if u, err = insertUser(ctx, tx, u, s.now().Unix()); err != nil {
			return err
		}
		return s.join(ctx, tx, ws.ID, u.ID, role, id)
	})
	return u, ws, err
}

// owners counts a workspace's owners inside tx.
func owners(ctx context.Context, tx *Tx, workspaceID int64) (int, error) {
	var n int
	err := tx.QueryRowContext(ctx, "SELECT count(*) FROM memberships WHERE workspace_id = ? AND role = 'owner'", workspaceID).Scan(&n)
	return n, err
}

func roleIn(ctx context.Context, tx *Tx, workspaceID, userID int64) (Role, error) {
	var role Role
	err := tx.QueryRowContext(ctx, "SELECT role FROM memberships WHERE workspace_id = ? AND user_id = ?", workspaceID, userID).Scan(&role)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	return role, err
}

// RemoveMember takes userID out of a workspace (leaving is removing
// oneself). The last owner stays: ErrLastOwner. allowed, when not nil, sees
// the member's current role inside the transaction and may refuse with its
// own error (who may remove whom). Their sessions lose the workspace at
// once, since every request reads the memberships afresh.
func (s *Store) RemoveMember(ctx context.Context, workspaceID, userID int64, allowed func(role Role) error) error {
	return s.write(ctx, func(ctx context.Context, tx *Tx) error {
		role, err := roleIn(ctx, tx, workspaceID, userID)
		if err != nil {
			return err
		}
		if allowed != nil {
			if err := allowed(role); err != nil {
				return err
			}
		}
		if role == RoleOwner {
			if n, err := owners(ctx, tx, workspaceID); err != nil {
				return err
			} else if n <= 1 {
				return ErrLastOwner
			}
		}
		_, err = tx.ExecContext(ctx, "DELETE FROM memberships WHERE workspace_id = ? AND user_id = ?", workspaceID, userID)
		return err
	})
}

// SetRole changes a member's role; the last owner cannot be demoted.
// allowed works as in RemoveMember, seeing the current role.
func (s *Store) SetRole(ctx context.Context, workspaceID, userID int64, role Role, allowed func(current Role) error) error {
	if !ValidRole(role) {
		return fmt.Errorf("store: unknown role %q", role)
	}
	return s.write(ctx, func(ctx context.Context, tx *Tx) error {
		current, err := roleIn(ctx, tx, workspaceID, userID)
		if err != nil {
			return err
		}
		if allowed != nil {
			if err := allowed(current); err != nil {
				return err
			}
		}
		if current == RoleOwner && role != RoleOwner {
			if n, err := owners(ctx, tx, workspaceID); err != nil {
				return err
			} else if n <= 1 {
				return ErrLastOwner
			}
		}
		_, err = tx.ExecContext(ctx, "UPDATE memberships SET role = ? WHERE workspace_id = ? AND user_id = ?", role, workspaceID, userID)
		return err
	})
}

// UseWorkspace records that userID chose a workspace, so their next
// log-in opens it.
func (s *Store) UseWorkspace(ctx context.Context, userID, workspaceID int64) error {
	_, err := s.exec(ctx, "UPDATE memberships SET last_used_at = ? WHERE user_id = ? AND workspace_id = ?",
		s.now().Unix(), userID, workspaceID)
	return err
}

// DeleteExpiredInvitations forgets invitations past their time.
func (s *Store) DeleteExpiredInvitations(ctx context.Context) error {
	_, err := s.exec(ctx, "DELETE FROM invitations WHERE expires_at <= ?", s.now().Unix())
	return err
}
