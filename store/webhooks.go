package store

// Webhooks (Standard Webhooks, https://www.standardwebhooks.com). Every
// account event a webhook subscribes to becomes a row of webhook_deliveries
// in the same transaction as the event itself (SPEC §13): a crash between
// the two cannot lose a message or send one about something that did not
// happen. A job (webhook.Sender) drains the outbox.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"omnisocial/vault"
)

// Webhook event types, as sent in a message's "type".
const (
	EventConnected          = "account.connected"
	EventReconnected        = "account.reconnected"
	EventNeedsReauth        = "account.needs_reauth"
	EventRecovered          = "account.recovered"
	EventDisconnected       = "account.disconnected"
	EventPermissionsChanged = "account.permissions_changed"
)

// WebhookEvents lists every event a webhook can subscribe to.
var WebhookEvents = []string{EventConnected, EventReconnected, EventNeedsReauth, EventRecovered, EventDisconnected, EventPermissionsChanged}

// WebhookRetryFor is how long a message is retried before it is given up.
const WebhookRetryFor = 24 * time.Hour

// Delivery states.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

const webhookSecretField = "webhook_secret"

// Webhook is an endpoint of a workspace.
type Webhook struct {
	ID           string
	WorkspaceID  int64
	URL          string
	Events       []string
	CreatedBy    string
	CreatedAt    time.Time
	FailingSince time.Time // zero: the last attempt succeeded (or none failed)
	PausedAt     time.Time // zero: not paused
	PausedReason string
}

// Paused reports whether the endpoint was paused for failing too long.
func (w Webhook) Paused() bool { return !w.PausedAt.IsZero() }

// AccountRenderer turns an account into the JSON the API shows for it, so a
// webhook carries exactly what GET /api/v1/accounts/{id} would.
type AccountRenderer func(Account) (json.RawMessage, error)

type webhookHooks struct {
	render atomic.Pointer[AccountRenderer]
	wake   atomic.Pointer[func()]
}

// RenderAccountsWith sets how accounts are shown in webhook messages (the
// API's view; handlers.New installs it).
func (s *Store) RenderAccountsWith(r AccountRenderer) { s.hooks.render.Store(&r) }

// OnWebhookQueued sets a function called after a commit that queued webhook
// messages (serve wakes the delivery job with it).
func (s *Store) OnWebhookQueued(f func()) { s.hooks.wake.Store(&f) }

func (s *Store) wakeWebhooks(n int) {
	if n == 0 {
		return
	}
	if f := s.hooks.wake.Load(); f != nil && *f != nil {
		(*f)()
	}
}

// renderAccount falls back to a minimal view when no renderer is set (a
// store used without the web surface, in tests of other packages).
func (s *Store) renderAccount(a Account) (json.RawMessage, error) {
	if r := s.hooks.render.Load(); r != nil && *r != nil {
		return (*r)(a)
	}
	return json.Marshal(map[string]any{"id": a.ID, "platform": a.Platform, "platform_user_id": a.PlatformUserID,
		"username": a.Username, "display_name": a.DisplayName, "status": a.Status})
}

// message is a webhook body: the Standard Webhooks shape (type, timestamp,
// data), its data the account as the API shows it.
type message struct {
	Type      string      `json:"type"`
	Timestamp time.Time   `json:"timestamp"`
	Data      messageData `json:"data"`
}

type messageData struct {
	Account json.RawMessage `json:"account"`
	Detail  string          `json:"detail,omitempty"`
}

// emit queues event about a to every webhook of the workspace subscribed to
// it, inside the caller's transaction. a nil reads the account in tx.
func (s *Store) emit(ctx context.Context, tx *Tx, ws int64, accountID, event, detail string, a *Account, at time.Time) (int, error) {
	if event == EventNeedsReauth {
		if err := queueReauthMail(ctx, tx, ws, accountID, at); err != nil {
			return 0, err
		}
	}
	rows, err := tx.QueryContext(ctx, "SELECT id, events FROM webhooks WHERE workspace_id = ? ORDER BY id", ws)
	if err != nil {
		return 0, fmt.Errorf("store: webhooks: %w", err)
	}
	var hooks []string
	for rows.Next() {
		var id, events string
		if err := rows.Scan(&id, &events); err != nil {
			rows.Close()
			return 0, err
		}
		if slices.Contains(strings.Fields(events), event) {
			hooks = append(hooks, id)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(hooks) == 0 {
		return 0, err
	}
	if a == nil {
		acct, err := scanAccount(tx.QueryRowContext(ctx, accountSelect+" WHERE a.id = ?", accountID))
		if err != nil {
			return 0, err
		}
		a = &acct
	}
	view, err := s.renderAccount(*a)
	if err != nil {
		return 0, fmt.Errorf("store: webhook message: %w", err)
	}
	body, err := json.Marshal(message{Type: event, Timestamp: at.UTC(), Data: messageData{Account: view, Detail: detail}})
	if err != nil {
		return 0, err
	}
	for _, h := range hooks {
		if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_deliveries (id, webhook_id, account_id, event, payload,
			next_attempt_at, give_up_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			"msg_"+NewID(), h, accountID, event, body, at.Unix(), at.Add(WebhookRetryFor).Unix(), at.Unix()); err != nil {
			return 0, fmt.Errorf("store: webhook delivery: %w", err)
		}
	}
	return len(hooks), nil
}

// CreateWebhook adds an endpoint with its signing secret (sealed) and
// returns its id.
func (s *Store) CreateWebhook(ctx context.Context, workspaceID, userID int64, url string, events []string, secret vault.Token) (string, error) {
	id := "wh_" + NewID()
	sealed, err := s.box.Seal(secret, id, webhookSecretField)
	if err != nil {
		return "", err
	}
	_, err = s.exec(ctx, `INSERT INTO webhooks (id, workspace_id, url, events, secret, created_by, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, id, workspaceID, url, strings.Join(events, " "), sealed, userID, s.now().Unix())
	return id, err
}

const webhookCols = `h.id, h.workspace_id, h.url, h.events, coalesce(u.email, ''), h.created_at, h.failing_since, h.paused_at, h.paused_reason
	FROM webhooks h LEFT JOIN users u ON u.id = h.created_by`

func scanWebhook(r scanner) (Webhook, error) {
	var w Webhook
	var events string
	var created int64
	var failing, paused sql.NullInt64
	err := r.Scan(&w.ID, &w.WorkspaceID, &w.URL, &events, &w.CreatedBy, &created, &failing, &paused, &w.PausedReason)
	if errors.Is(err, sql.ErrNoRows) {
		return w, ErrNotFound
	}
	if err != nil {
		return w, fmt.Errorf("store: webhook: %w", err)
	}
	w.Events, w.CreatedAt, w.FailingSince, w.PausedAt = strings.Fields(events), time.Unix(created, 0), fromNull(failing), fromNull(paused)
	return w, nil
}

// Webhooks lists a workspace's endpoints, oldest first.
func (s *Store) Webhooks(ctx context.Context, workspaceID int64) ([]Webhook, error) {
	return s.listWebhooks(ctx, "h.workspace_id = ?", workspaceID)
}

// PausedWebhooks lists a workspace's endpoints paused for failing.
func (s *Store) PausedWebhooks(ctx context.Context, workspaceID int64) ([]Webhook, error) {
	return s.listWebhooks(ctx, "h.workspace_id = ? AND h.paused_at IS NOT NULL", workspaceID)
}

func (s *Store) listWebhooks(ctx context.Context, where string, args ...any) ([]Webhook, error) {
	rows, err := s.query(ctx, "SELECT "+webhookCols+" WHERE "+where+" ORDER BY h.created_at, h.id", args...)
	if err != nil {
		return nil, fmt.Errorf("store: webhooks: %w", err)
	}
	defer rows.Close()
	var out []Webhook
	for rows.Next() {
		w, err := scanWebhook(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

// Webhook returns one endpoint of a workspace; another workspace's is
// ErrNotFound.
func (s *Store) Webhook(ctx context.Context, workspaceID int64, id string) (Webhook, error) {
	return scanWebhook(s.queryRow(ctx, "SELECT "+webhookCols+" WHERE h.workspace_id = ? AND h.id = ?", workspaceID, id))
}

// DeleteWebhook removes an endpoint with its secret and its messages.
func (s *Store) DeleteWebhook(ctx context.Context, workspaceID int64, id string) error {
	res, err := s.exec(ctx, "DELETE FROM webhooks WHERE workspace_id = ? AND id = ?", workspaceID, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// ResumeWebhook ends a pause: the endpoint is tried again, and what waited
// for it gets a fresh day of retries, starting now.
func (s *Store) ResumeWebhook(ctx context.Context, workspaceID int64, id string) error {
	now := s.now()
	n := 0
	err := s.write(ctx, func(ctx context.Context, tx *Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE webhooks SET paused_at = NULL, paused_reason = '', failing_since = NULL
			WHERE workspace_id = ? AND id = ?`, workspaceID, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		res, err = tx.ExecContext(ctx, `UPDATE webhook_deliveries SET next_attempt_at = ?, give_up_at = ?
			WHERE webhook_id = ? AND state = 'pending'`, now.Unix(), now.Add(WebhookRetryFor).Unix(), id)
		if err != nil {
			return err
		}
		m, _ := res.RowsAffected()
		n = int(m)
		return nil
	})
	if err == nil {
		s.wakeWebhooks(n)
	}
	return err
}
