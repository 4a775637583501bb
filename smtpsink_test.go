package main

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// smtpSink is a real SMTP server (emersion/go-smtp) in the test process:
// it wants PLAIN auth as user/pass and keeps every message it accepts.
// refuse makes the next n DATA commands fail, as a broken relay would.
type smtpSink struct {
	Addr   string
	mu     sync.Mutex
	msgs   []sunkMail
	refuse int
}

type sunkMail struct {
	From string
	To   []string
	Data []byte
}

func startSMTPSink(t *testing.T) *smtpSink {
	t.Helper()
	k := &smtpSink{}
	srv := smtp.NewServer(smtpBackend{k})
	srv.Domain, srv.AllowInsecureAuth = "localhost", true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	k.Addr = ln.Addr().String()
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return k
}

func (k *smtpSink) messages() []sunkMail {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]sunkMail(nil), k.msgs...)
}

func (k *smtpSink) refuseNext(n int) { k.mu.Lock(); k.refuse = n; k.mu.Unlock() }

type smtpBackend struct{ k *smtpSink }

func (b smtpBackend) NewSession(*smtp.Conn) (smtp.Session, error) { return &smtpSession{k: b.k}, nil }

type smtpSession struct {
	k      *smtpSink
	authed bool
	cur    sunkMail
}

func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *smtpSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "user" || pass != "pass" {
			return errors.New("bad credentials")
		}
		s.authed = true
		return nil
	}), nil
}

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if !s.authed {
		return smtp.ErrAuthRequired
	}
	s.cur = sunkMail{From: from}
	return nil
}

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.cur.To = append(s.cur.To, to)
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.k.mu.Lock()
	defer s.k.mu.Unlock()
	if s.k.refuse > 0 {
		s.k.refuse--
		return &smtp.SMTPError{Code: 451, Message: "try again later"}
	}
	s.cur.Data = b
	s.k.msgs = append(s.k.msgs, s.cur)
	return nil
}

func (s *smtpSession) Reset()        { s.cur = sunkMail{} }
func (s *smtpSession) Logout() error { return nil }
