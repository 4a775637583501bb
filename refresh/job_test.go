package refresh

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/google/uuid"

	"omnisocial/internal/testrig"
	"omnisocial/providers"
	"omnisocial/store"
)

func TestBackoff(t *testing.T) {
	for n, want := range map[int]time.Duration{1: time.Minute, 2: 2 * time.Minute, 5: 16 * time.Minute, 12: backoffCap, 99: backoffCap} {
		if got := backoff(n, func() float64 { return 1 }); got != want+minGap {
			t.Errorf("backoff(%d) ceiling = %v, want %v", n, got, want+minGap)
		}
		if got := backoff(n, func() float64 { return 0 }); got != minGap {
			t.Errorf("backoff(%d) floor = %v", n, got)
		}
	}
}

func TestRegister(t *testing.T) {
	e := newEnv(t)
	id := e.connect(providers.TikTok, "bloom")[0]
	e.dueNow(id)
	var running, most atomic.Int32
	g := &gate{Provider: e.providers(nil)[providers.TikTok], started: make(chan struct{}, 8), release: make(chan struct{})}
	r := e.refresher(func(o *Options) { o.Providers[providers.TikTok] = counting{g, &running, &most} })
	skipped := skipMonitor{make(chan struct{}, 8)}
	s, err := gocron.NewScheduler(gocron.WithMonitor(skipped))
	if err != nil {
		t.Fatal(err)
	}
	job, err := Register(s, r, time.Hour)
	if err != nil || job == nil || job.Name() != "token-refresh" {
		t.Fatalf("Register = %v, %v", job, err)
	}
	// Start runs the job at once (WithStartImmediately). A RunNow beside
	// that first run could reach gocron before it has the job's singleton
	// runner, and get a runner, and a run, of its own (gocron v2.21.2
	// executor.go: Load, then Store, of singletonRunners); so the first
	// RunNow waits until that run is under way.
	s.Start()
	<-g.started
	// Singleton: a second run asked for while the first is in progress is
	// rescheduled, never run beside it. Wait until gocron says it did so,
	// so the check below is about a second run that really was asked for.
	job.RunNow()
	<-skipped.rescheduled
	close(g.release)
	deadline := time.Now().Add(10 * time.Second)
	for e.state(id).LastOutcome != store.OutcomeRefreshed && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if err := s.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if q := e.state(id); q.LastOutcome != store.OutcomeRefreshed || most.Load() != 1 {
		t.Fatalf("after the job: %+v, at most %d calls at once", q, most.Load())
	}
}

// A panic in RunOnce itself (here: no store) is recovered by the listener.
func TestRegisterRecoversPanics(t *testing.T) {
	logs := &testrig.SyncBuffer{}
	r := New(Options{Log: sloglogger(logs)})
	s, _ := gocron.NewScheduler()
	job, err := Register(s, r, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	job.RunNow()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "panicked") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if err := s.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "panicked") {
		t.Fatal("panic not reported")
	}
}

// skipMonitor tells when gocron rescheduled a singleton run because the
// previous one was still going.
type skipMonitor struct{ rescheduled chan struct{} }

func (m skipMonitor) IncrementJob(_ uuid.UUID, _ string, _ []string, status gocron.JobStatus) {
	if status == gocron.SingletonRescheduled {
		m.rescheduled <- struct{}{}
	}
}

func (skipMonitor) RecordJobTiming(time.Time, time.Time, uuid.UUID, string, []string) {}
