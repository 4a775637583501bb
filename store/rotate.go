package store

import (
	"context"
	"encoding/hex"
	"fmt"
)

// Key rotation re-encrypts every sealed value under the Box's primary key,
// in small batches, each a compare-and-swap on the old ciphertext: a
// refresh that rewrote a row meanwhile (already under the primary key) is
// left alone, and an interrupted run simply resumes, since what still needs
// work is found by the key id inside each ciphertext.

// keyIDOf is SQL for the key id bytes of a ciphertext (format byte first).
const keyIDOf = "substr(%s, 2, 4)"

func notPrimary(col string) string {
	return fmt.Sprintf("(%s IS NOT NULL AND "+keyIDOf+" != ?)", col, col)
}

// rotateReadHook runs between reading a batch and writing it back: tests
// put a concurrent write there.
var rotateReadHook func()

// RotationRemaining counts accounts with any token not under the primary key.
func (s *Store) RotationRemaining(ctx context.Context) (int, error) {
	p := s.box.Primary()
	var n int
	err := s.queryRow(ctx, "SELECT count(*) FROM social_accounts WHERE "+
		notPrimary("access_token")+" OR "+notPrimary("refresh_token")+" OR "+notPrimary("user_token"),
		p[:], p[:], p[:]).Scan(&n)
	return n, err
}

// RotateBatch re-encrypts up to limit accounts and returns how many it
// rewrote. Zero means nothing is left under an old key.
func (s *Store) RotateBatch(ctx context.Context, limit int) (int, error) {
	p := s.box.Primary()
	rows, err := s.query(ctx, "SELECT id, access_token, refresh_token, user_token FROM social_accounts WHERE "+
		notPrimary("access_token")+" OR "+notPrimary("refresh_token")+" OR "+notPrimary("user_token")+" LIMIT ?",
		p[:], p[:], p[:], limit)
	if err != nil {
		return 0, err
	}
	type row struct {
		id string
		st sealedTokens
	}
	var todo []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.st.access, &r.st.refresh, &r.st.user); err != nil {
			rows.Close()
			return 0, err
		}
		todo = append(todo, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	if rotateReadHook != nil {
		rotateReadHook()
	}
	done := 0
	err = s.write(ctx, func(ctx context.Context, tx *Tx) error {
		done = 0
		for _, r := range todo {
			t, err := s.open(r.id, r.st)
			if err != nil {
				return fmt.Errorf("store: rotate account %s: %w", r.id, err)
			}
			ns, err := s.seal(r.id, t)
			if err != nil {
				return err
			}
			res, err := tx.ExecContext(ctx, `UPDATE social_accounts SET access_token = ?, refresh_token = ?, user_token = ?
				WHERE id = ? AND access_token = ? AND refresh_token IS NOT DISTINCT FROM ? AND user_token IS NOT DISTINCT FROM ?`,
				ns.access, ns.refresh, ns.user, r.id, r.st.access, r.st.refresh, r.st.user)
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			done += int(n)
		}
		return nil
	})
	return done, err
}

// RotateRest re-encrypts the short-lived sealed values (OAuth verifiers,
// pending choices, revocations owed, webhook secrets) and finally the key canary, so the old key can go.
func (s *Store) RotateRest(ctx context.Context) error {
	return s.write(ctx, func(ctx context.Context, tx *Tx) error {
		type item struct {
			key  []byte
			data []byte
		}
		// A text key (an id) is read as bytes and given back as text.
		reseal := func(query, update string, textKey bool, aad func(key []byte) (string, string)) error {
			rows, err := tx.QueryContext(ctx, query)
			if err != nil {
				return err
			}
			var items []item
			for rows.Next() {
				var it item
				if err := rows.Scan(&it.key, &it.data); err != nil {
					rows.Close()
					return err
				}
				items = append(items, it)
			}
			rows.Close()
			for _, it := range items {
				row, field := aad(it.key)
				pt, err := s.box.Open(it.data, row, field)
				if err != nil {
					continue // undecryptable leftovers expire on their own
				}
				ct, err := s.box.Seal(pt, row, field)
				if err != nil {
					return err
				}
				var key any = it.key
				if textKey {
					key = string(it.key)
				}
				if _, err := tx.ExecContext(ctx, update, ct, key); err != nil {
					return err
				}
			}
			return nil
		}
		if err := reseal("SELECT state_hash, verifier FROM oauth_flows WHERE verifier IS NOT NULL",
			"UPDATE oauth_flows SET verifier = ? WHERE state_hash = ?", false,
			func(k []byte) (string, string) { return hex.EncodeToString(k), "verifier" }); err != nil {
			return err
		}
		if err := reseal("SELECT id, sealed FROM pending_grants", "UPDATE pending_grants SET sealed = ? WHERE id = ?", true,
			func(k []byte) (string, string) { return string(k), "pending_grant" }); err != nil {
			return err
		}
		if err := reseal("SELECT id, sealed FROM revocations", "UPDATE revocations SET sealed = ? WHERE id = ?", true,
			func(k []byte) (string, string) { return string(k), revocationField }); err != nil {
			return err
		}
		if err := reseal("SELECT id, secret FROM webhooks", "UPDATE webhooks SET secret = ? WHERE id = ?", true,
			func(k []byte) (string, string) { return string(k), webhookSecretField }); err != nil {
			return err
		}
		c, err := s.box.Canary()
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, "UPDATE meta SET value = ? WHERE key = 'key_canary'", c)
		return err
	})
}
