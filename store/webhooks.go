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
func (s *Store) emit(ctx context.Context, tx *sql.Tx, ws int64, accountID, event, detail string, a *Account, at time.Time) (int, error) {
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
		acct, err := scanAccount(tx.QueryRowContext(ctx, "SELECT "+accountCols+" WHERE a.id = ?", accountID))
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
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
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

// Delivery is one message to one endpoint.
type Delivery struct {
	Seq           int64
	ID            string // the webhook-id header: the same on every attempt and resend
	WebhookID     string
	AccountID     string
	Event         string
	Payload       []byte
	State         string
	Attempts      int
	NextAttemptAt time.Time
	GiveUpAt      time.Time
	CreatedAt     time.Time
	DoneAt        time.Time
	History       []Attempt // newest first, when listed

	// For sending (DueDeliveries).
	URL       string
	Secret    vault.Token
	SecretErr error // the secret no longer opens (its key gone)
}

// Attempt is one try at a delivery and what the endpoint answered.
type Attempt struct {
	At         time.Time
	StatusCode int    // 0: no HTTP answer
	Error      string // why it failed, in words; "" on success
	Response   string // the start of the endpoint's body
	Took       time.Duration
}

const deliveryCols = "d.seq, d.id, d.webhook_id, d.account_id, d.event, d.payload, d.state, d.attempts, d.next_attempt_at, d.give_up_at, d.created_at, d.done_at"

func scanDelivery(r scanner, extra ...any) (Delivery, error) {
	var d Delivery
	var next, giveUp, created int64
	var done sql.NullInt64
	err := r.Scan(append([]any{&d.Seq, &d.ID, &d.WebhookID, &d.AccountID, &d.Event, &d.Payload, &d.State, &d.Attempts,
		&next, &giveUp, &created, &done}, extra...)...)
	if errors.Is(err, sql.ErrNoRows) {
		return d, ErrNotFound
	}
	if err != nil {
		return d, fmt.Errorf("store: delivery: %w", err)
	}
	d.NextAttemptAt, d.GiveUpAt, d.CreatedAt, d.DoneAt = time.Unix(next, 0), time.Unix(giveUp, 0), time.Unix(created, 0), fromNull(done)
	return d, nil
}

// Deliveries lists an endpoint's latest messages, newest first, each with
// its attempts.
func (s *Store) Deliveries(ctx context.Context, workspaceID int64, webhookID string, limit int) ([]Delivery, error) {
	rows, err := s.query(ctx, "SELECT "+deliveryCols+` FROM webhook_deliveries d JOIN webhooks h ON h.id = d.webhook_id
		WHERE h.workspace_id = ? AND d.webhook_id = ? ORDER BY d.seq DESC LIMIT ?`, workspaceID, webhookID, limit)
	if err != nil {
		return nil, fmt.Errorf("store: deliveries: %w", err)
	}
	var out []Delivery
	index := map[string]int{}
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		index[d.ID] = len(out)
		out = append(out, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(out) == 0 {
		return out, err
	}
	rows, err = s.query(ctx, `SELECT a.delivery_id, a.at, a.status_code, a.error, a.response, a.took_ms FROM webhook_attempts a
		JOIN webhook_deliveries d ON d.id = a.delivery_id WHERE d.webhook_id = ? AND d.seq >= ? ORDER BY a.id DESC`,
		webhookID, out[len(out)-1].Seq)
	if err != nil {
		return nil, fmt.Errorf("store: attempts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var a Attempt
		var at, took int64
		if err := rows.Scan(&id, &at, &a.StatusCode, &a.Error, &a.Response, &took); err != nil {
			return nil, err
		}
		a.At, a.Took = time.Unix(at, 0), time.Duration(took)*time.Millisecond
		if i, ok := index[id]; ok {
			out[i].History = append(out[i].History, a)
		}
	}
	return out, rows.Err()
}

// ResendDelivery sends a message again, as it was (same id and body), with
// a fresh day of retries.
func (s *Store) ResendDelivery(ctx context.Context, workspaceID int64, webhookID, id string) error {
	now := s.now()
	res, err := s.exec(ctx, `UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = ?, give_up_at = ?, done_at = NULL
		WHERE id = ? AND webhook_id = ? AND webhook_id IN (SELECT id FROM webhooks WHERE workspace_id = ?)`,
		now.Unix(), now.Add(WebhookRetryFor).Unix(), id, webhookID, workspaceID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	s.wakeWebhooks(1)
	return nil
}

// DueDeliveries lists up to limit messages to send now, oldest first: only
// the first pending message of each account at each endpoint (order per
// account), and none to a paused endpoint.
func (s *Store) DueDeliveries(ctx context.Context, limit int) ([]Delivery, error) {
	rows, err := s.query(ctx, "SELECT "+deliveryCols+`, h.url, h.secret FROM webhook_deliveries d JOIN webhooks h ON h.id = d.webhook_id
		WHERE d.state = 'pending' AND d.next_attempt_at <= ? AND h.paused_at IS NULL
		AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e WHERE e.webhook_id = d.webhook_id AND e.account_id = d.account_id
			AND e.state = 'pending' AND e.seq < d.seq)
		ORDER BY d.seq LIMIT ?`, s.now().Unix(), limit)
	if err != nil {
		return nil, fmt.Errorf("store: due deliveries: %w", err)
	}
	defer rows.Close()
	var out []Delivery
	for rows.Next() {
		var sealed []byte
		var url string
		d, err := scanDelivery(rows, &url, &sealed)
		if err != nil {
			return nil, err
		}
		d.URL = url
		d.Secret, d.SecretErr = s.box.Open(sealed, d.WebhookID, webhookSecretField)
		out = append(out, d)
	}
	return out, rows.Err()
}

// Outcome is what one attempt of a delivery came to.
type Outcome struct {
	Attempt
	Delivered  bool
	RetryAt    time.Time     // when to try again if not delivered
	PauseAfter time.Duration // pause the endpoint once it has failed this long
}

// RecordDelivery stores an attempt. A failed attempt past the message's
// day gives it up; an endpoint failing for PauseAfter is paused. It reports
// whether this attempt paused the endpoint.
func (s *Store) RecordDelivery(ctx context.Context, d Delivery, o Outcome) (paused bool, err error) {
	at := s.at(o.At)
	err = s.write(context.WithoutCancel(ctx), func(ctx context.Context, tx *sql.Tx) error {
		paused = false
		if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_attempts (delivery_id, at, status_code, error, response, took_ms)
			VALUES (?, ?, ?, ?, ?, ?)`, d.ID, at.Unix(), o.StatusCode, o.Error, o.Response, o.Took.Milliseconds()); err != nil {
			return err
		}
		if o.Delivered {
			if _, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET state = 'delivered', attempts = attempts + 1, done_at = ?
				WHERE id = ?`, at.Unix(), d.ID); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, "UPDATE webhooks SET failing_since = NULL WHERE id = ?", d.WebhookID)
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET attempts = attempts + 1,
			state = CASE WHEN give_up_at <= ? THEN 'failed' ELSE 'pending' END,
			done_at = CASE WHEN give_up_at <= ? THEN ? ELSE NULL END, next_attempt_at = ?
			WHERE id = ?`, at.Unix(), at.Unix(), at.Unix(), o.RetryAt.Unix(), d.ID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE webhooks SET failing_since = coalesce(failing_since, ?) WHERE id = ?", at.Unix(), d.WebhookID); err != nil {
			return err
		}
		if o.PauseAfter <= 0 {
			return nil
		}
		res, err := tx.ExecContext(ctx, `UPDATE webhooks SET paused_at = ?, paused_reason = ?
			WHERE id = ? AND paused_at IS NULL AND failing_since <= ?`,
			at.Unix(), "Every delivery failed for "+roundDuration(o.PauseAfter)+"; the last: "+o.Error, d.WebhookID, at.Add(-o.PauseAfter).Unix())
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		paused = n > 0
		return nil
	})
	return paused, err
}

// roundDuration says a duration in words: "3 days", "5 hours", "1m30s".
func roundDuration(d time.Duration) string {
	switch {
	case d >= 48*time.Hour && d%(24*time.Hour) == 0:
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	case d >= 2*time.Hour && d%time.Hour == 0:
		return fmt.Sprintf("%d hours", d/time.Hour)
	}
	return d.String()
}

// PruneDeliveries deletes finished messages older than before, with their
// attempts; pending ones stay whatever their age.
func (s *Store) PruneDeliveries(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.write(context.WithoutCancel(ctx), func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM webhook_deliveries WHERE state != 'pending' AND created_at < ?", before.Unix())
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}
