package forward

import (
	"context"
	"errors"
	"hash/maphash"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/prometheus/model/labels"
)

// destination delivers the log to one receiver. Its reader goroutine reads
// records from the destination's position, selects and relabels the
// samples and hands them to the shards; the shards' senders deliver them.
//
// The destination's acknowledged position (its watermark) is the oldest
// position any shard still holds, or the reader's position when the shards
// hold nothing: everything before it has been delivered or refused.
type destination struct {
	opts   Destination
	log    *slog.Logger
	ql     *queueLog
	client *http.Client
	url    string
	ua     string
	warn   *limiter
	now    func() time.Time

	selectors [][]*labels.Matcher
	external  []extLabel // sorted by name
	seed      maphash.Seed

	shards []*shard
	active atomic.Int32 // shards in use; changed only while all are idle

	root   context.Context
	cancel context.CancelFunc
	// epoch is cancelled to make every sender abandon its batch: for a drop,
	// or to stop.
	epoch atomic.Pointer[epoch]

	// mu guards the reader's published position and the drop request; the
	// maintenance loop reads the watermark under it.
	mu struct {
		sync.Mutex
		readPos  Position
		dropping bool
	}

	rdr *logReader // the reader goroutine's own
	// handed is the sequence number after the last sample the reader has
	// handed to a shard or filtered out; skip makes it pass over samples
	// below it when a drop makes it read a record again. Reader goroutine
	// only.
	handed, skip uint64
	cursor       *cursorFile
	saved        Position // last persisted position; maintenance loop only
	stats        destStats
	senders      sync.WaitGroup
	readerWG     sync.WaitGroup
}

type epoch struct {
	ctx    context.Context
	cancel context.CancelFunc
}

// destStats are a destination's counters, in samples unless named.
type destStats struct {
	sent, retried, failed, dropped, filtered atomic.Int64
	requests, requestBytes                   atomic.Int64
}

func (d *destination) epochContext() context.Context { return d.epoch.Load().ctx }

func (d *destination) newEpoch() {
	ctx, cancel := context.WithCancel(d.root)
	d.epoch.Store(&epoch{ctx: ctx, cancel: cancel})
}

// start runs the reader and the senders from position p.
func (d *destination) start(p Position) {
	d.root, d.cancel = context.WithCancel(context.Background())
	d.newEpoch()
	d.mu.readPos, d.saved = p, p
	d.rdr = newLogReader(d.ql, d.log, p)
	d.handed = p.Seq
	d.active.Store(int32(d.opts.MinShards))
	for range d.opts.MaxShards {
		s := newShard(d)
		d.shards = append(d.shards, s)
		d.senders.Add(1)
		go s.run(&d.senders)
	}
	d.readerWG.Add(1)
	go d.readLoop()
}

// watermark returns the position up to which everything is delivered, and
// the append time of the oldest record not yet delivered (0 when none).
func (d *destination) watermark() (Position, int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.watermarkLocked()
}

// watermarkLocked is watermark with mu held. The reader's position is read
// before the shards: the reader hands a record's samples to the shards
// before it publishes the position after it, so nothing is missed.
func (d *destination) watermarkLocked() (Position, int64) {
	w, oldest := d.mu.readPos, int64(0)
	for _, s := range d.shards {
		if p, ms, ok := s.pending(); ok {
			if p.before(w) {
				w = p
			}
			if oldest == 0 || ms < oldest {
				oldest = ms
			}
		}
	}
	return w, oldest
}

// stop abandons the batches in flight and waits for the goroutines. The
// caller persists the watermark it took before.
func (d *destination) stop() {
	d.cancel()
	for _, s := range d.shards {
		s.halt()
	}
	d.readerWG.Wait()
	d.senders.Wait()
	d.rdr.close()
	d.client.CloseIdleConnections()
}

func (d *destination) readLoop() {
	defer d.readerWG.Done()
	for {
		err := d.read(d.epochContext())
		if d.root.Err() != nil {
			return
		}
		d.mu.Lock()
		dropping := d.mu.dropping
		d.mu.Unlock()
		if dropping {
			d.drop()
			continue
		}
		if err != nil && !errors.Is(err, context.Canceled) {
			if d.warn.allow() {
				d.log.Error("cannot read the forward queue; retrying", "err", err)
			}
			select {
			case <-time.After(d.opts.MaxBackoff):
			case <-d.root.Done():
				return
			}
		}
	}
}

// read reads and distributes records until ctx is done or a read fails.
func (d *destination) read(ctx context.Context) error {
	var (
		rec     record
		smp     sample
		scratch []byte
		flushed = -1 // the flush state last told to the shards, -1 unknown
	)
	for {
		if err := ctx.Err(); err != nil {
			return err // a drop was asked for, or the destination stops
		}
		body, at, err := d.rdr.next(ctx)
		if err != nil {
			return err
		}
		if err := rec.decode(body); err != nil {
			d.rdr.damaged(err.Error())
			continue
		}
		at.Seq = rec.firstSeq
		d.rdr.pos.Seq = rec.firstSeq + uint64(rec.count)
		if changed, ok := d.reshard(ctx); !ok {
			return ctx.Err()
		} else if changed {
			flushed = -1 // draining asked every shard to flush
		}
		n := uint64(d.active.Load())
		for seq := rec.firstSeq; ; seq++ {
			ok, err := rec.next(&smp)
			if err != nil {
				d.rdr.damaged(err.Error())
				break
			}
			if !ok {
				break
			}
			if seq < d.skip {
				continue // handed over before a drop stopped this record
			}
			if !d.selected(&rec, &smp) {
				d.stats.filtered.Add(1)
				d.handed = seq + 1
				continue
			}
			scratch = d.appendLabels(scratch[:0], &rec, &smp)
			h := maphash.Bytes(d.seed, scratch)
			if !d.shards[h%n].add(ctx, at, rec.appendMs, scratch, h, seq, smp.ts, smp.val) {
				return ctx.Err()
			}
			d.handed = seq + 1
		}
		d.mu.Lock()
		d.mu.readPos = d.rdr.pos
		d.mu.Unlock()
		// Caught up, the shards send what they hold without waiting for
		// full batches; told after every record, since each may have added
		// to a batch its sender is not waiting for.
		caught := d.rdr.caughtUp()
		if on := b2i(caught); caught || on != flushed {
			for _, s := range d.shards {
				s.setFlush(caught)
			}
			flushed = on
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// reshard changes the number of senders when the unread backlog calls for
// it: one more sender per full batch waiting, between MinShards and
// MaxShards. Fewer are used again once the reader has caught up. The shards
// are drained first, so that no series has samples in two shards.
func (d *destination) reshard(ctx context.Context) (changed, ok bool) {
	head := d.ql.head()
	unread := head.Seq - min(head.Seq, d.rdr.pos.Seq)
	want := int32(min(max(unread/uint64(d.opts.MaxSamplesPerSend), uint64(d.opts.MinShards)), uint64(d.opts.MaxShards)))
	cur := d.active.Load()
	if want == cur || want < cur && unread > 0 {
		return false, true
	}
	for _, s := range d.shards[:cur] {
		s.setFlush(true)
	}
	for _, s := range d.shards[:cur] {
		if !s.waitIdle(ctx) {
			return true, false
		}
	}
	d.active.Store(want)
	d.log.Debug("forward senders resharded", "from", cur, "to", want, "unread_samples", unread)
	return true, true
}
