package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/go-co-op/gocron/v2"
	"github.com/google/uuid"

	"omnisocial/store"
)

// Options configure a Sender.
type Options struct {
	Store *store.Store
	Guard *Guard // where deliveries may connect; nil refuses every non-public address
	Log   *slog.Logger
	Now   func() time.Time
	// Timeout bounds one attempt, connection to last byte. Default 10s.
	Timeout time.Duration
	// PauseAfter pauses an endpoint whose every delivery failed this long.
	// Default 72h.
	PauseAfter time.Duration
	Batch      int // deliveries read per round; default 100
	Workers    int // deliveries sent at once; default 4
	// Rand returns a number in [0, 1) for backoff jitter; default math/rand.
	Rand func() float64
}

// Sender drains the webhook outbox.
type Sender struct {
	o      Options
	client *http.Client
}

// New makes a Sender.
func New(o Options) *Sender {
	if o.Guard == nil {
		o.Guard = &Guard{}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	if o.PauseAfter == 0 {
		o.PauseAfter = 72 * time.Hour
	}
	if o.Batch == 0 {
		o.Batch = 100
	}
	if o.Workers == 0 {
		o.Workers = 4
	}
	if o.Rand == nil {
		o.Rand = rand.Float64
	}
	return &Sender{o: o, client: o.Guard.Client(o.Timeout)}
}

// Stats count what one Drain did.
type Stats struct{ Delivered, Failed, Paused int }

// maxRounds bounds one Drain: a delivery that succeeds makes the next
// message of its account due at once, so a drain goes round until nothing
// is due, but not forever.
const maxRounds = 50

// Drain sends every due delivery once. The next message of an account is
// due only once the one before it was delivered or given up, so rounds
// repeat while deliveries succeed.
func (s *Sender) Drain(ctx context.Context) (Stats, error) {
	var st Stats
	var mu sync.Mutex
	for round := 0; round < maxRounds && ctx.Err() == nil; round++ {
		due, err := s.o.Store.DueDeliveries(ctx, s.o.Batch)
		if err != nil || len(due) == 0 {
			return st, err
		}
		work := make(chan store.Delivery)
		var wg sync.WaitGroup
		var firstErr error
		for range min(s.o.Workers, len(due)) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for d := range work {
					ok, paused, err := s.deliver(ctx, d)
					mu.Lock()
					switch {
					case err != nil:
						firstErr = cmpErr(firstErr, err)
					case ok:
						st.Delivered++
					default:
						st.Failed++
					}
					if paused {
						st.Paused++
					}
					mu.Unlock()
				}
			}()
		}
		for _, d := range due {
			work <- d
		}
		close(work)
		wg.Wait()
		if firstErr != nil {
			return st, firstErr
		}
	}
	return st, nil
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// deliver makes one attempt and records it. An attempt already under way
// when shutdown comes still records its outcome.
func (s *Sender) deliver(ctx context.Context, d store.Delivery) (ok, paused bool, err error) {
	log := s.o.Log.With("webhook", d.WebhookID, "message", d.ID, "event", d.Event)
	start := s.o.Now()
	var a store.Attempt
	if d.SecretErr != nil {
		a.Error = "the signing secret no longer opens under the configured keys; create the webhook again"
	} else {
		a = s.post(context.WithoutCancel(ctx), d, start)
	}
	a.At, a.Took = start, max(a.Took, 0)
	ok = a.Error == ""
	retry := start.Add(Backoff(d.Attempts+1, s.o.Rand))
	paused, err = s.o.Store.RecordDelivery(context.WithoutCancel(ctx), d, store.Outcome{Attempt: a, Delivered: ok, RetryAt: retry, PauseAfter: s.o.PauseAfter})
	if err != nil {
		return false, false, fmt.Errorf("webhook: record delivery %s: %w", d.ID, err)
	}
	switch {
	case ok:
		log.Info("webhook delivered", "status", a.StatusCode, "attempt", d.Attempts+1)
	case !start.Before(d.GiveUpAt):
		log.Warn("webhook given up after a day of retries", "why", a.Error, "attempts", d.Attempts+1)
	default:
		log.Warn("webhook failed; will retry", "why", a.Error, "attempt", d.Attempts+1, "next_at", retry.UTC().Format(time.RFC3339))
	}
	if paused {
		log.Warn("webhook endpoint paused: it failed for too long", "after", s.o.PauseAfter)
	}
	return ok, paused, nil
}

// post sends one signed attempt. Only a 2xx answer is a delivery.
func (s *Sender) post(ctx context.Context, d store.Delivery, at time.Time) store.Attempt {
	var a store.Attempt
	sig, err := Sign(d.Secret.Reveal(), d.ID, at, d.Payload)
	if err != nil {
		a.Error = err.Error()
		return a
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(d.Payload))
	if err != nil {
		a.Error = "the endpoint URL is not valid"
		return a
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "OmniSocial-Webhooks/1")
	h.Set("webhook-id", d.ID)
	h.Set("webhook-timestamp", strconv.FormatInt(at.Unix(), 10))
	h.Set("webhook-signature", sig)
	t0 := time.Now()
	res, err := s.client.Do(req)
	a.Took = time.Since(t0)
	if err != nil {
		a.Error = describe(err, s.o.Timeout)
		return a
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 1024))
	io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10)) // let the connection be reused
	a.StatusCode, a.Response = res.StatusCode, printable(body)
	switch {
	case res.StatusCode >= 200 && res.StatusCode < 300:
	case res.StatusCode >= 300 && res.StatusCode < 400:
		a.Error = fmt.Sprintf("answered %d (redirects are not followed): point the webhook at the final URL", res.StatusCode)
	default:
		a.Error = fmt.Sprintf("answered %d %s", res.StatusCode, http.StatusText(res.StatusCode))
	}
	return a
}

// describe says in words why a request got no answer. The URL is left
// out: the person configured it and the page shows it already.
func describe(err error, timeout time.Duration) string {
	var refused *RefusedError
	switch {
	case errors.As(err, &refused):
		return refused.Error()
	case errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "Client.Timeout"):
		return fmt.Sprintf("no answer within %s", timeout)
	}
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) && ue.Unwrap() != nil {
		err = ue.Unwrap()
	}
	return "could not connect: " + err.Error()
}

func printable(b []byte) string {
	s := strings.ToValidUTF8(string(b), "�")
	if !utf8.ValidString(s) {
		return ""
	}
	return strings.TrimSpace(s)
}

// Backoff is the wait after the nth failed attempt: 30 s doubling to a
// cap of two hours, with up to a fifth of jitter so that endpoints coming
// back are not hit by every message at once. A day holds about fifteen tries.
func Backoff(n int, rnd func() float64) time.Duration {
	const base, ceiling = 30 * time.Second, 2 * time.Hour
	d := ceiling
	if n < 20 {
		d = min(ceiling, base<<max(n-1, 0))
	}
	return d + time.Duration(rnd()*float64(d)/5)
}

// Register schedules Drain every interval on sched, singleton like the
// refresh job, starting at once (what a crash left owed goes first). RunNow
// on the returned job sends a message queued a moment ago.
func Register(sched gocron.Scheduler, s *Sender, every time.Duration) (gocron.Job, error) {
	return sched.NewJob(gocron.DurationJob(every), gocron.NewTask(func(ctx context.Context) error {
		_, err := s.Drain(ctx)
		return err
	}),
		gocron.WithName("webhooks"),
		gocron.WithStartAt(gocron.WithStartImmediately()),
		gocron.WithSingletonMode(gocron.LimitModeReschedule),
		gocron.WithEventListeners(
			gocron.AfterJobRunsWithError(func(_ uuid.UUID, name string, err error) {
				s.o.Log.Error("webhooks: job failed", "job", name, "err", err)
			}),
			gocron.AfterJobRunsWithPanic(func(_ uuid.UUID, name string, v any) {
				s.o.Log.Error("webhooks: job panicked", "job", name, "panic", v)
			}),
		),
	)
}
