package tsdb

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/quantrac/quantrac/tsdb/index"
)

// pending is a commit group being filled: the series created since the last
// group and the samples appended since, in columns.
type pending struct {
	series []*memSeries
	refs   []SeriesRef
	ts     []int64
	vals   []float64
	done   *Commit
	rec    []byte // encoded WAL record, reused across groups
}

func newPending() *pending {
	return &pending{done: newCommit()}
}

func (p *pending) empty() bool { return len(p.series) == 0 && len(p.refs) == 0 }

// reset prepares p's buffers for another group.
func (p *pending) reset() {
	clear(p.series)
	p.series = p.series[:0]
	p.refs, p.ts, p.vals = p.refs[:0], p.ts[:0], p.vals[:0]
	p.done = newCommit()
}

// Commit is the outcome of one commit group, shared by every Append that
// joined it.
type Commit struct {
	done chan struct{}
	err  error
}

func newCommit() *Commit { return &Commit{done: make(chan struct{})} }

// Wait blocks until the group is in the fsynced WAL and applied to the head,
// and returns the error that prevented that, if any.
func (c *Commit) Wait() error {
	<-c.done
	return c.err
}

// Done returns a channel closed when the group is committed or has failed.
func (c *Commit) Done() <-chan struct{} { return c.done }

// GetOrCreate returns the ref of the series with the given labels, creating
// the series if it is new. A new series is logged with the next commit group,
// ahead of any sample that refers to it. lset must be sorted, as
// labels.Labels always is; the store keeps it.
func (db *DB) GetOrCreate(lset labels.Labels) (SeriesRef, error) {
	hash := lset.Hash()
	if s := db.series.lookup(hash, lset); s != nil {
		return s.ref, nil
	}
	if lset.IsEmpty() {
		return 0, errors.New("tsdb: cannot create a series without labels")
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.mu.closed {
		return 0, ErrClosed
	}
	db.series.mu.Lock()
	defer db.series.mu.Unlock()
	if s := db.series.lookupLocked(hash, lset); s != nil {
		return s.ref, nil
	}
	if db.mu.nextRef > index.MaxRef {
		return 0, fmt.Errorf("cannot create series: the store holds its limit of %d series", index.MaxRef)
	}
	s := newMemSeries(db.mu.nextRef, lset)
	db.mu.nextRef++
	db.series.addLocked(s, hash)
	db.index.Add(uint64(s.ref), lset)
	db.mu.cur.series = append(db.mu.cur.series, s)
	return s.ref, nil
}

// Append queues the batch's samples for the next commit group and returns
// that group's Commit. It copies the columns, so the caller may reuse b once
// Append returns. Every ref must come from GetOrCreate on this store, and
// every timestamp lie in [MinTimestamp, MaxTimestamp]; otherwise the whole
// batch is refused with ErrOutOfBounds.
//
// Append blocks while MaxPendingSamples samples are already queued: the store
// slows its writers rather than buffering without bound.
func (db *DB) Append(b *Batch) (*Commit, error) {
	if len(b.Ts) != len(b.Refs) || len(b.Vals) != len(b.Refs) {
		return nil, fmt.Errorf("%w: batch columns of %d, %d and %d", ErrOutOfBounds, len(b.Refs), len(b.Ts), len(b.Vals))
	}
	for _, t := range b.Ts {
		if !checkTimestamp(t) {
			return nil, fmt.Errorf("%w: timestamp %d", ErrOutOfBounds, t)
		}
	}
	db.mu.Lock()
	for !db.mu.closed && db.mu.failed == nil && len(db.mu.cur.refs) > 0 &&
		len(db.mu.cur.refs)+b.Len() > db.opts.MaxPendingSamples {
		db.space.Wait()
	}
	if db.mu.closed {
		db.mu.Unlock()
		return nil, ErrClosed
	}
	if err := db.mu.failed; err != nil {
		db.mu.Unlock()
		return nil, err
	}
	if b.Len() == 0 {
		db.mu.Unlock()
		return db.emptyCommit, nil
	}
	for _, r := range b.Refs {
		if r == 0 || r >= db.mu.nextRef {
			db.mu.Unlock()
			return nil, fmt.Errorf("%w: unknown series ref %d", ErrOutOfBounds, r)
		}
	}
	cur := db.mu.cur
	cur.refs = append(cur.refs, b.Refs...)
	cur.ts = append(cur.ts, b.Ts...)
	cur.vals = append(cur.vals, b.Vals...)
	c := cur.done
	db.mu.Unlock()

	select {
	case db.kick <- struct{}{}:
	default: // the committer is already due to look
	}
	return c, nil
}

// commitLoop is the committer goroutine. Each turn it takes the whole group
// that accumulated while the previous fsync ran; so the busier the store, the
// larger the groups and the fewer fsyncs per sample. Between groups it
// rotates the head when the flusher asks.
func (db *DB) commitLoop() {
	defer close(db.stopped)
	for {
		select {
		case <-db.kick:
			db.waitForHeadRoom()
			db.commitOnce()
		case reply := <-db.rotateReq:
			db.commitOnce()
			reply <- db.rotateIfAny()
		case <-db.commitStop:
			db.commitOnce() // whatever was appended before Close
			return
		}
	}
}

// waitForHeadRoom holds the committer while the head holds twice its flush
// budget and the flush that will make room is still running. Commit groups
// then wait, and Append blocks once MaxPendingSamples are queued: writers
// are slowed instead of the head growing past the memory it was given.
// Under a load that keeps both cores busy the flusher is one goroutine
// among the publishers' many and gets little of the CPU; without this a
// head of 280 000 series grew to three times its budget during one flush.
// It does not wait when no flush is running, so that the flusher can
// rotate the head.
func (db *DB) waitForHeadRoom() {
	var start time.Time
	for db.head.samples.Load() >= 2*db.flushThreshold(db.head.series.Load()) {
		db.state.RLock()
		flushing := db.state.frozen != nil
		db.state.RUnlock()
		if !flushing {
			break
		}
		if start.IsZero() {
			start = time.Now()
			db.stats.headFullWaits.Add(1)
		}
		select {
		case <-db.flushed:
		case <-db.commitStop:
			return
		}
	}
	if !start.IsZero() {
		db.stats.headFullWaitNanos.Add(int64(time.Since(start)))
	}
}

// rotateIfAny cuts the head unless it is empty or the store has failed.
func (db *DB) rotateIfAny() rotation {
	db.mu.Lock()
	failed := db.mu.failed
	db.mu.Unlock()
	if failed != nil {
		return rotation{err: failed}
	}
	if db.head.samples.Load() == 0 {
		return rotation{}
	}
	c, err := db.cutHead()
	if err != nil {
		return rotation{err: err}
	}
	return rotation{cut: &c}
}

func (db *DB) commitOnce() {
	db.mu.Lock()
	g := db.mu.cur
	if g.empty() {
		db.mu.Unlock()
		return
	}
	next := db.mu.spare
	if next == nil {
		next = newPending()
	} else {
		next.reset()
	}
	db.mu.cur, db.mu.spare = next, nil
	db.space.Broadcast()
	failed := db.mu.failed
	db.mu.Unlock()

	err := failed
	if err == nil {
		err = db.writeGroup(g)
	}
	if err != nil {
		db.mu.Lock()
		if db.mu.failed == nil {
			db.mu.failed = err
			db.log.Error("WAL write failed; the store refuses writes from now on", "err", err)
		}
		db.space.Broadcast()
		db.mu.Unlock()
	} else {
		db.apply(g)
	}
	g.done.err = err
	close(g.done.done)

	db.mu.Lock()
	db.mu.spare = g
	db.mu.Unlock()
}

// apply adds a committed group to the head and asks for a flush when the
// head is over its budget.
func (db *DB) apply(g *pending) {
	if len(g.refs) == 0 {
		return
	}
	db.series.mu.RLock()
	for i, ref := range g.refs {
		db.applyLocked(db.series.byRef[ref-1], g.ts[i], g.vals[i])
	}
	db.series.mu.RUnlock()
	n := db.head.samples.Add(int64(len(g.refs)))
	if db.head.oldestNano.Load() == 0 {
		db.head.oldestNano.Store(time.Now().UnixNano())
	}
	db.stats.samplesAppended.Add(int64(len(g.refs)))
	if n >= db.flushThreshold(db.head.series.Load()) {
		select {
		case db.flushKick <- struct{}{}:
		default:
		}
	}
}

func (db *DB) writeGroup(g *pending) error {
	g.rec = db.codec.encode(g.rec[:0], g)
	if err := db.wal.Write(g.rec); err != nil {
		return fmt.Errorf("cannot log commit group: %w", err)
	}
	start := time.Now()
	if err := db.wal.Sync(); err != nil {
		return fmt.Errorf("cannot sync commit group: %w", err)
	}
	db.stats.fsyncSeconds.observe(time.Since(start).Seconds())
	db.stats.fsyncs.Add(1)
	db.stats.commits.Add(1)
	db.stats.walBytes.Add(int64(len(g.rec)))
	return nil
}
