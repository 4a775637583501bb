package store

// Group commit for the refresh queue's outcomes (issue 17). With
// synchronous=FULL every commit waits for the disk, so one transaction per
// outcome held the queue to the disk's flush rate. Outcomes are handed
// instead to one committer per Store, which writes whatever arrived while
// its previous commit ran in a single transaction: no wait when idle, and
// under load as many outcomes per flush as there are writers. Each caller
// still returns only after its own outcome is committed. RecordSuccess,
// ReleaseLease and RecordFailure (but for a dead sign-in's, which marks
// other accounts) go this way.

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// maxGroup caps a group: a longer transaction holds the single writer (and
// every caller in it) longer, and past a few dozen the flush is no longer
// what a group waits for.
const maxGroup = 128

const pgCommitters = 4

// errClosed answers a write handed to a Store that is closing.
var errClosed = errors.New("store: closed")

// A groupWrite is one caller's write, waiting for the committer. apply must
// keep to one account's rows and be fenced by its attempt id: it then
// either writes that account, once, or returns ErrLostLease having written
// nothing, however often its transaction runs (write's rule).
type groupWrite struct {
	ws     int64
	id     string
	apply  func(context.Context, *Tx) (queued int, err error)
	queued int   // webhook messages apply queued
	err    error // apply's, or the transaction's
	group  int   // outcomes committed in the same transaction
	done   chan struct{}
}

// committer is the queue of groupWrites and the goroutines that commit
// them, started by the first write and stopped by Close: one on SQLite,
// which has one writer; on PostgreSQL pgCommitters, since there a group's
// statements are network round trips and several groups can be written at
// once (each locks its rows in the same order, see commitGroup).
type committer struct {
	mu      sync.Mutex
	cond    *sync.Cond
	queue   []*groupWrite
	running bool
	closed  bool
	loops   sync.WaitGroup
	// observe, if set, is told how long each grouped write took from its
	// call to its commit, and how many outcomes shared the commit.
	observe atomic.Pointer[func(wait time.Duration, group int)]
}

// OnOutcomeStored sets a function told, for each refresh outcome stored,
// how long it took from the call until it was committed and how many
// outcomes that commit held (the bench's durability latency).
func (s *Store) OnOutcomeStored(f func(wait time.Duration, group int)) { s.group.observe.Store(&f) }

// grouped runs apply in the committer's next transaction and returns when
// that has committed (or apply has failed), with the number of writes the
// commit held.
func (s *Store) grouped(ws int64, id string, apply func(context.Context, *Tx) (int, error)) (group int, err error) {
	w := &groupWrite{ws: ws, id: id, apply: apply, done: make(chan struct{})}
	g := &s.group
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return 0, errClosed
	}
	if g.cond == nil {
		g.cond = sync.NewCond(&g.mu)
	}
	g.queue = append(g.queue, w)
	if !g.running {
		g.running = true
		n := 1
		if s.d.postgres {
			n = pgCommitters
		}
		for range n {
			g.loops.Go(s.commitLoop)
		}
	}
	g.cond.Signal()
	g.mu.Unlock()
	<-w.done
	return w.group, w.err
}

// observeOutcome tells OnOutcomeStored's function of a stored outcome.
func (g *committer) observeOutcome(start time.Time, group int) {
	if f := g.observe.Load(); f != nil && *f != nil {
		(*f)(time.Since(start), group)
	}
}

func (s *Store) commitLoop() {
	g := &s.group
	for {
		g.mu.Lock()
		for len(g.queue) == 0 && !g.closed {
			g.cond.Wait()
		}
		if len(g.queue) == 0 { // closed, and nothing left to write
			g.mu.Unlock()
			return
		}
		n := min(len(g.queue), maxGroup)
		batch := g.queue[:n:n]
		if g.queue = g.queue[n:]; len(g.queue) == 0 {
			g.queue = nil
		}
		g.mu.Unlock()
		s.commitGroup(batch)
	}
}

// stopGroup lets the committer write what it holds and stop; writes
// handed over later fail with errClosed.
func (s *Store) stopGroup() {
	g := &s.group
	g.mu.Lock()
	g.closed = true
	if g.cond != nil {
		g.cond.Broadcast()
	}
	g.mu.Unlock()
	g.loops.Wait()
}

// commitGroup writes batch in one transaction. An ErrLostLease is that
// write's alone: it wrote nothing, and the others go on. Any other failure
// rolls back the whole group, which is then written one by one, so each
// caller gets its own error; the attempt-id fence makes running a write
// again harmless (a second run of a committed write finds its attempt id
// cleared and writes nothing).
//
// On PostgreSQL the rows are locked in (workspace, account) order, the same
// in every replica's groups, so two groups wait for each other rather than
// deadlock.
func (s *Store) commitGroup(batch []*groupWrite) {
	ctx := context.Background()
	slices.SortFunc(batch, func(a, b *groupWrite) int { return cmp.Or(cmp.Compare(a.ws, b.ws), strings.Compare(a.id, b.id)) })
	err := errors.New("alone")
	if len(batch) > 1 {
		err = s.writeAt(ctx, sql.LevelReadCommitted, func(ctx context.Context, tx *Tx) error {
			for _, w := range batch {
				if w.queued, w.err = w.apply(ctx, tx); w.err != nil && !errors.Is(w.err, ErrLostLease) {
					return w.err
				}
			}
			return nil
		})
	}
	for _, w := range batch {
		w.group = len(batch)
		if err != nil {
			w.group = 1
			w.err = s.writeAt(ctx, sql.LevelReadCommitted, func(ctx context.Context, tx *Tx) error {
				var err error
				w.queued, err = w.apply(ctx, tx)
				return err
			})
		}
	}
	queued := 0
	for _, w := range batch {
		if w.err == nil {
			queued += w.queued
		}
	}
	s.wakeWebhooks(queued)
	for _, w := range batch {
		close(w.done)
	}
}
