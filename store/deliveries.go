package store

// The webhook outbox: messages queued by emit (webhooks.go), sent by
// webhook.Sender, each attempt recorded with what the endpoint answered.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"omnisocial/vault"
)

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
	err = s.write(context.WithoutCancel(ctx), func(ctx context.Context, tx *Tx) error {
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
			done_at = CASE WHEN give_up_at <= ? THEN CAST(? AS BIGINT) ELSE NULL END, next_attempt_at = ?
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
	err := s.write(context.WithoutCancel(ctx), func(ctx context.Context, tx *Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM webhook_deliveries WHERE state != 'pending' AND created_at < ?", before.Unix())
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}
