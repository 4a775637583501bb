package store

import (
	"context"
	"fmt"
	"time"
)

// QueueStats is the refresh queue and the outboxes at one moment, for the
// metrics. Counting is cheap: a few hundred thousand rows at most.
type QueueStats struct {
	Accounts    map[[2]string]int // (platform, status) → accounts
	Due         int               // due now and not leased
	Overdue     int               // due for longer than the overdue threshold
	Lag         time.Duration     // how long the oldest due account has waited
	Revocations int               // revocations owed
	Webhooks    int               // webhook messages pending
	Mail        int               // e-mail alerts pending
}

// QueueStats counts accounts by platform and status, what is due (not
// needing re-auth, not leased) and for how long, and the outboxes' depth.
func (s *Store) QueueStats(ctx context.Context, now time.Time, overdueAfter time.Duration) (QueueStats, error) {
	q := QueueStats{Accounts: map[[2]string]int{}}
	rows, err := s.query(ctx, "SELECT platform, status, count(*) FROM social_accounts GROUP BY platform, status")
	if err != nil {
		return q, fmt.Errorf("store: queue stats: %w", err)
	}
	for rows.Next() {
		var p, st string
		var n int
		if err := rows.Scan(&p, &st, &n); err != nil {
			rows.Close()
			return q, err
		}
		q.Accounts[[2]string{p, st}] = n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return q, err
	}
	var oldest *int64
	err = s.queryRow(ctx, `SELECT count(*), coalesce(sum(CASE WHEN next_check_at <= ? THEN 1 ELSE 0 END), 0), min(next_check_at) FROM social_accounts
		WHERE status != 'needs_reauth' AND next_check_at <= ? AND (lease_until IS NULL OR lease_until <= ?)`,
		now.Add(-overdueAfter).Unix(), now.Unix(), now.Unix()).Scan(&q.Due, &q.Overdue, &oldest)
	if err != nil {
		return q, fmt.Errorf("store: queue stats: %w", err)
	}
	if oldest != nil {
		q.Lag = max(now.Sub(time.Unix(*oldest, 0)), 0)
	}
	if err := s.queryRow(ctx, "SELECT count(*) FROM revocations").Scan(&q.Revocations); err != nil {
		return q, fmt.Errorf("store: queue stats: %w", err)
	}
	if err := s.queryRow(ctx, "SELECT count(*) FROM webhook_deliveries WHERE state = 'pending'").Scan(&q.Webhooks); err != nil {
		return q, fmt.Errorf("store: queue stats: %w", err)
	}
	if err := s.queryRow(ctx, "SELECT count(*) FROM mail_outbox WHERE state = 'pending'").Scan(&q.Mail); err != nil {
		return q, fmt.Errorf("store: queue stats: %w", err)
	}
	return q, nil
}
