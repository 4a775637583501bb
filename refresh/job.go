package refresh

import (
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/google/uuid"
)

// Register schedules r.RunOnce every interval on s. Singleton mode: a run
// still going when the next is due makes that one skip, never overlap.
// gocron passes RunOnce a context it cancels on Shutdown, so shutdown stops
// the claiming; give the scheduler a stop timeout (gocron.WithStopTimeout)
// above CallTimeout so calls in flight can store their outcome. gocron only
// recovers a panic when a panic listener is set, and reports a returned
// error only to an error listener: both are set.
func Register(s gocron.Scheduler, r *Refresher, every time.Duration) (gocron.Job, error) {
	return s.NewJob(gocron.DurationJob(every), gocron.NewTask(r.RunOnce),
		gocron.WithName("token-refresh"),
		// Every replica claims from the one queue; the claims, not a job
		// lock, keep them off each other's accounts.
		gocron.WithDisabledDistributedJobLocker(true),
		// A restart resumes at once: leases left by a crash are reclaimed.
		gocron.WithStartAt(gocron.WithStartImmediately()),
		gocron.WithSingletonMode(gocron.LimitModeReschedule),
		gocron.WithEventListeners(r.jobListeners()...))
}

func (r *Refresher) jobListeners() []gocron.EventListener {
	return []gocron.EventListener{
		gocron.AfterJobRunsWithError(func(_ uuid.UUID, name string, err error) {
			r.log.Error("refresh: job failed", "job", name, "err", err)
		}),
		gocron.AfterJobRunsWithPanic(func(_ uuid.UUID, name string, v any) {
			r.log.Error("refresh: job panicked", "job", name, "panic", v)
		}),
	}
}
