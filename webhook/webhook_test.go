package webhook

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// The Standard Webhooks specification's own test vector
// (standard-webhooks/standard-webhooks, libraries' shared tests).
func TestSignSpecificationVector(t *testing.T) {
	got, err := Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Fatalf("signature %s, want %s", got, want)
	}
}

func TestVerify(t *testing.T) {
	secret := NewSecret().Reveal()
	if !strings.HasPrefix(secret, "whsec_") || len(secret) < 40 {
		t.Fatalf("secret %q", secret)
	}
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"type":"account.connected"}`)
	sig, _ := Sign(secret, "msg_1", now, body)
	header := func(id, ts, sig string) http.Header {
		h := http.Header{}
		h.Set("webhook-id", id)
		h.Set("webhook-timestamp", ts)
		h.Set("webhook-signature", sig)
		return h
	}
	ts := "1800000000"
	tests := []struct {
		name   string
		secret string
		h      http.Header
		body   string
		ok     bool
	}{
		{"fresh secret", secret, header("msg_1", ts, sig), string(body), true},
		{"one of several signatures", secret, header("msg_1", ts, "v1,AAAA "+sig+" v2,x"), string(body), true},
		{"body changed", secret, header("msg_1", ts, sig), `{"type":"account.disconnected"}`, false},
		{"id changed", secret, header("msg_2", ts, sig), string(body), false},
		{"timestamp changed", secret, header("msg_1", "1800000001", sig), string(body), false},
		{"another secret", NewSecret().Reveal(), header("msg_1", ts, sig), string(body), false},
		{"replayed an hour later", secret, header("msg_1", "1799996400", sig), string(body), false},
		{"no signature", secret, header("msg_1", ts, ""), string(body), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Verify(tc.secret, tc.h, []byte(tc.body), now, 5*time.Minute)
			if (err == nil) != tc.ok {
				t.Fatalf("Verify: %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestPublic(t *testing.T) {
	for addr, want := range map[string]bool{
		"93.184.215.14": true, "2606:2800:21f:cb07:6820:80da:af6b:8b2c": true, "8.8.8.8": true,
		"127.0.0.1": false, "127.8.9.10": false, "::1": false, "::ffff:127.0.0.1": false,
		"10.0.0.1": false, "172.16.5.4": false, "192.168.1.1": false, "fd00::1": false,
		"169.254.169.254": false, "fe80::1": false, "100.64.0.1": false, "0.0.0.0": false, "::": false,
		"224.0.0.1": false, "255.255.255.255": false, "64:ff9b::a00:1": false, "198.18.0.1": false,
	} {
		if got := Public(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Public(%s) = %v, want %v", addr, got, want)
		}
	}
}

// stubResolver answers every A question with 127.0.0.1 (a name an attacker
// points at the loopback interface), in-process: no DNS server is asked.
func stubResolver(t *testing.T) *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
		client, server := net.Pipe()
		go func() {
			defer server.Close()
			var n uint16
			if binary.Read(server, binary.BigEndian, &n) != nil {
				return
			}
			q := make([]byte, n)
			if _, err := io.ReadFull(server, q); err != nil {
				return
			}
			var p dnsmessage.Parser
			h, err := p.Start(q)
			if err != nil {
				return
			}
			question, err := p.Question()
			if err != nil {
				return
			}
			b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionAvailable: true})
			b.EnableCompression()
			b.StartQuestions()
			b.Question(question)
			b.StartAnswers()
			if question.Type == dnsmessage.TypeA {
				b.AResource(dnsmessage.ResourceHeader{Name: question.Name, Class: dnsmessage.ClassINET, TTL: 60},
					dnsmessage.AResource{A: [4]byte{127, 0, 0, 1}})
			}
			msg, err := b.Finish()
			if err != nil {
				t.Error(err)
				return
			}
			binary.Write(server, binary.BigEndian, uint16(len(msg)))
			server.Write(msg)
		}()
		return client, nil
	}}
}

// The guard refuses in the dialer's Control hook, after resolution and
// before the connect system call: no connection is ever attempted to a
// refused address, and the only addresses these tests ever reach are on
// loopback.
func TestGuardRefusesBeforeConnecting(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())

	tests := []struct {
		name, host string
		loopback   bool // reachable in development mode (the only ones tried there)
	}{
		{"loopback", "127.0.0.1", true},
		{"cloud metadata (link-local)", "169.254.169.254", false},
		{"private", "10.0.0.1", false},
		{"a name resolving to loopback", "hooks.attacker.example", true},
	}
	for _, allow := range []bool{false, true} {
		for _, tc := range tests {
			if allow && !tc.loopback {
				continue // never try to reach a non-loopback address from a test
			}
			t.Run(tc.name, func(t *testing.T) {
				var mu sync.Mutex
				var tried []string
				g := &Guard{AllowPrivate: allow, Resolver: stubResolver(t), Connecting: func(a string) {
					mu.Lock()
					tried = append(tried, a)
					mu.Unlock()
				}}
				before := accepted.Load()
				c, err := g.Dialer(2*time.Second).DialContext(context.Background(), "tcp", net.JoinHostPort(tc.host, port))
				if allow {
					if err != nil {
						t.Fatalf("development mode refused %s: %v", tc.host, err)
					}
					c.Close()
					if len(tried) != 1 || !strings.HasPrefix(tried[0], "127.0.0.1:") {
						t.Fatalf("connected to %v", tried)
					}
					return
				}
				var refused *RefusedError
				if !errors.As(err, &refused) {
					t.Fatalf("dial %s: %v, want a refusal", tc.host, err)
				}
				if len(tried) != 0 {
					t.Fatalf("a connection was attempted to %v", tried)
				}
				time.Sleep(20 * time.Millisecond)
				if accepted.Load() != before {
					t.Fatal("the loopback listener was reached")
				}
			})
		}
	}
	// Through the HTTP client too, the refusal is what the attempt says.
	g := &Guard{Resolver: stubResolver(t)}
	_, err = g.Client(time.Second).Post("http://hooks.attacker.example:"+port+"/", "application/json", strings.NewReader("{}"))
	if msg := describe(err, time.Second); !strings.Contains(msg, "127.0.0.1") || !strings.Contains(msg, "not a public address") {
		t.Fatalf("described as %q", msg)
	}
}

func TestBackoffGrowsToACapWithinADay(t *testing.T) {
	none := func() float64 { return 0 }
	var total time.Duration
	n := 0
	for ; total < 24*time.Hour; n++ {
		d := Backoff(n+1, none)
		if n > 0 && d < Backoff(n, none) {
			t.Fatalf("backoff shrank at %d", n)
		}
		total += d
	}
	if Backoff(1, none) != 30*time.Second || Backoff(30, none) != 2*time.Hour || n < 10 || n > 20 {
		t.Fatalf("first %s, cap %s, %d tries in a day", Backoff(1, none), Backoff(30, none), n)
	}
	if d := Backoff(3, func() float64 { return 0.999 }); d <= 2*time.Minute || d > 2*time.Minute+24*time.Second {
		t.Fatalf("jitter: %s", d)
	}
}
