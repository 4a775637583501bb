// Package mail sends e-mail alerts from the store's durable outbox: a
// message owed is written in the same transaction as its cause (an account
// needing re-auth) or by the daily digest, composed when sent from what is
// still true, and retried with backoff when the SMTP server fails. A mail
// never carries a token: it names accounts and links to the fix.
package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/mail"
	"net/smtp"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/go-co-op/gocron/v2"

	"omnisocial/providers"
	"omnisocial/store"
)

// Options configure a Sender.
type Options struct {
	Store   *store.Store
	SMTP    *url.URL // smtp://user:pass@host:587
	From    string
	BaseURL *url.URL
	Warning time.Duration // the expiry warning window, for the digest
	Log     *slog.Logger
	Now     func() time.Time
	// TLS is for STARTTLS; nil verifies the server's name.
	TLS *tls.Config
}

// Sender drains the mail outbox.
type Sender struct{ o Options }

// New builds a Sender.
func New(o Options) *Sender {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Sender{o: o}
}

// giveUpAfter: a message failing this long is given up (kept as failed).
const giveUpAfter = 72 * time.Hour

// Drain sends every message due, returning how many were sent.
func (s *Sender) Drain(ctx context.Context) (int, error) {
	due, err := s.o.Store.DueMail(ctx, s.o.Now(), 50)
	if err != nil {
		return 0, err
	}
	sent := 0
	for _, m := range due {
		if ctx.Err() != nil {
			break
		}
		to, subject, body, err := s.compose(ctx, m)
		if err != nil {
			return sent, err
		}
		if len(to) == 0 || body == "" { // fixed meanwhile, or nobody to tell
			if err := s.o.Store.MailDone(ctx, m.ID); err != nil {
				return sent, err
			}
			continue
		}
		if err := s.send(to, subject, body); err != nil {
			next := s.o.Now().Add(backoff(m.Attempts + 1))
			giveUp := s.o.Now().Sub(m.CreatedAt) > giveUpAfter
			s.o.Log.Warn("mail: sending failed; will retry", "kind", m.Kind, "workspace_id", m.WorkspaceID, "attempt", m.Attempts+1, "err", err, "gave_up", giveUp)
			if err := s.o.Store.MailRetry(ctx, m.ID, next, err.Error(), giveUp); err != nil {
				return sent, err
			}
			continue
		}
		if err := s.o.Store.MailDone(ctx, m.ID); err != nil {
			return sent, err
		}
		sent++
		s.o.Log.Info("mail: sent", "kind", m.Kind, "workspace_id", m.WorkspaceID, "recipients", len(to))
	}
	return sent, nil
}

func backoff(attempt int) time.Duration {
	d := 30 * time.Second << min(attempt-1, 10)
	d = min(d, time.Hour)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// compose builds a message from what is true now.
func (s *Sender) compose(ctx context.Context, m store.Mail) (to []string, subject, body string, err error) {
	wsName, err := s.o.Store.WorkspaceName(ctx, m.WorkspaceID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, "", "", nil
	}
	if err != nil {
		return nil, "", "", err
	}
	if to, err = s.o.Store.AlertRecipients(ctx, m.WorkspaceID); err != nil {
		return nil, "", "", err
	}
	base := strings.TrimRight(s.o.BaseURL.String(), "/")
	var b strings.Builder
	switch m.Kind {
	case store.MailReauth:
		accts, err := s.o.Store.NeedingReauth(ctx, m.WorkspaceID)
		if err != nil {
			return nil, "", "", err
		}
		var group []store.Account
		for _, a := range accts {
			if store.ReauthGroup(a) == m.Key {
				group = append(group, a)
			}
		}
		if len(group) == 0 {
			return to, "", "", nil
		}
		first := group[0]
		p := first.Provider()
		who := "the " + p.Name() + " sign-in"
		if info := providers.Describe(p); info.SharesSignIn() && first.GrantSubjectName != "" {
			who = first.GrantSubjectName + "'s " + info.SignIn + " sign-in"
		}
		subject = fmt.Sprintf("[%s] %d account(s) need reconnecting", wsName, len(group))
		fmt.Fprintf(&b, "In the OmniSocial workspace %q, %s stopped working, so these accounts are no longer kept connected:\r\n\r\n", wsName, who)
		for _, a := range group {
			fmt.Fprintf(&b, "  - %s on %s (%s)\r\n", label(a), providers.Platform(a.Platform).Name(), oneLine(a.LastError))
		}
		fmt.Fprintf(&b, "\r\nOne sign-in fixes them all. Reconnect here:\r\n\r\n  %s/settings/accounts/%s\r\n", base, url.PathEscape(first.ID))
	case store.MailDigest:
		now := s.o.Now()
		accts, err := s.o.Store.ExpiringAccounts(ctx, m.WorkspaceID, now, now.Add(s.o.Warning))
		if err != nil {
			return nil, "", "", err
		}
		if len(accts) == 0 {
			return to, "", "", nil
		}
		sort.Slice(accts, func(i, j int) bool { return expiry(accts[i]).Before(expiry(accts[j])) })
		subject = fmt.Sprintf("[%s] %d account(s) expire soon", wsName, len(accts))
		fmt.Fprintf(&b, "In the OmniSocial workspace %q, these accounts' sign-ins end soon and cannot renew themselves:\r\n\r\n", wsName)
		for _, a := range accts {
			fmt.Fprintf(&b, "  - %s on %s: ends %s\r\n", label(a), providers.Platform(a.Platform).Name(), expiry(a).UTC().Format("2006-01-02 15:04 UTC"))
		}
		fmt.Fprintf(&b, "\r\nReconnect them before then:\r\n\r\n  %s/settings/accounts\r\n", base)
	default:
		return to, "", "", nil
	}
	b.WriteString("\r\n--\r\nYou get this as an owner or admin of the workspace. Turn e-mail alerts off for yourself on " + base + "/settings/members\r\n")
	return to, subject, b.String(), nil
}

func label(a store.Account) string {
	if a.DisplayName != "" {
		return a.DisplayName
	}
	return a.Username
}

func expiry(a store.Account) time.Time { return a.RenewalDeadline() }

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// SendNow delivers one message at once, outside the outbox: for a link a
// person is waiting to hand over, who is told if it fails.
func (s *Sender) SendNow(_ context.Context, to, subject, body string) error {
	return s.send([]string{to}, subject, body)
}

// send delivers one message over SMTP: STARTTLS when the server offers it,
// PLAIN auth when the URL has a user (net/smtp refuses it in the clear,
// except to localhost).
func (s *Sender) send(to []string, subject, body string) error {
	host := s.o.SMTP.Hostname()
	port := s.o.SMTP.Port()
	if port == "" {
		port = "587"
	}
	conn, err := net.DialTimeout("tcp", net.JoinHostPort(host, port), 20*time.Second)
	if err != nil {
		return err
	}
	conn.SetDeadline(time.Now().Add(time.Minute))
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return err
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); ok {
		cfg := s.o.TLS
		if cfg == nil {
			cfg = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		}
		if err := c.StartTLS(cfg); err != nil {
			return err
		}
	}
	if u := s.o.SMTP.User; u != nil && u.Username() != "" {
		pw, _ := u.Password()
		if err := c.Auth(smtp.PlainAuth("", u.Username(), pw, host)); err != nil {
			return err
		}
	}
	from, err := mail.ParseAddress(s.o.From)
	if err != nil {
		return fmt.Errorf("OMNISOCIAL_MAIL_FROM: %w", err)
	}
	if err := c.Mail(from.Address); err != nil {
		return err
	}
	for _, r := range to {
		if err := c.Rcpt(r); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	msg := "From: " + from.String() + "\r\nTo: " + strings.Join(to, ", ") + "\r\nSubject: " + mimeSubject(subject) +
		"\r\nDate: " + s.o.Now().Format(time.RFC1123Z) + "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nAuto-Submitted: auto-generated\r\n\r\n" + body
	if _, err := w.Write([]byte(msg)); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

func mimeSubject(s string) string {
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}

// Register schedules Drain every interval, and the digest daily; the
// returned job's RunNow wakes the sender.
func Register(sch gocron.Scheduler, s *Sender, every time.Duration) (gocron.Job, error) {
	job, err := sch.NewJob(gocron.DurationJob(every), gocron.NewTask(func(ctx context.Context) error {
		_, err := s.Drain(ctx)
		return err
	}), gocron.WithName("mail"), gocron.WithStartAt(gocron.WithStartImmediately()),
		gocron.WithSingletonMode(gocron.LimitModeReschedule))
	if err != nil {
		return nil, err
	}
	_, err = sch.NewJob(gocron.DurationJob(24*time.Hour), gocron.NewTask(func(ctx context.Context) error {
		now := s.o.Now()
		n, err := s.o.Store.QueueDigests(ctx, now.UTC().Format("2006-01-02"), now, now.Add(s.o.Warning))
		if n > 0 {
			job.RunNow()
		}
		return err
	}), gocron.WithName("mail-digest"), gocron.WithStartAt(gocron.WithStartImmediately()),
		gocron.WithSingletonMode(gocron.LimitModeReschedule))
	return job, err
}
