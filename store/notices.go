package store

import (
	"context"
	"fmt"
	"strings"
)

// Notices is what a page tells a person beside its body: how many
// invitations wait for them and, for a workspace's owners and admins, the
// app's alerts and the workspace's paused webhooks.
type Notices struct {
	Invitations int
	Alerts      []Alert   // Key and Message
	Paused      []Webhook // ID, URL and PausedReason
}

// Notices reads what Invitations, Alerts and PausedWebhooks read, in
// their orders, in one round trip: every page shows it.
func (s *Store) Notices(ctx context.Context, email string, workspaceID int64, manager bool) (Notices, error) {
	var n Notices
	m := 0
	if manager {
		m = 1
	}
	rows, err := s.query(ctx, `SELECT 0, count(*), '', '', '' FROM invitations WHERE expires_at > ? AND email = ?
		UNION ALL SELECT 1, created_at, key, message, '' FROM system_alerts WHERE CAST(? AS BIGINT) = 1
		UNION ALL SELECT 2, created_at, id, url, paused_reason FROM webhooks
			WHERE CAST(? AS BIGINT) = 1 AND workspace_id = ? AND paused_at IS NOT NULL
		ORDER BY 1, 2, 3`, s.now().Unix(), strings.TrimSpace(email), m, m, workspaceID)
	if err != nil {
		return n, fmt.Errorf("store: notices: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var kind, at int64
		var key, text, reason string
		if err := rows.Scan(&kind, &at, &key, &text, &reason); err != nil {
			return n, fmt.Errorf("store: notices: %w", err)
		}
		switch kind {
		case 0:
			n.Invitations = int(at)
		case 1:
			n.Alerts = append(n.Alerts, Alert{Key: key, Message: text})
		case 2:
			n.Paused = append(n.Paused, Webhook{ID: key, URL: text, PausedReason: reason})
		}
	}
	return n, rows.Err()
}
