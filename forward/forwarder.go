package forward

import (
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/quantrac/quantrac/ingest/pipeline"
)

// Forwarder is a node's forwarding to other stores: the shared queue every
// committed sample is appended to, and one destination per receiver reading
// it. It implements pipeline.Forwarder.
type Forwarder struct {
	opts  Options
	log   *slog.Logger
	ql    *queueLog
	dests []*destination

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

var _ pipeline.Forwarder = (*Forwarder)(nil)

// Open opens or creates the queue in opts.Dir and starts delivering to every
// destination from where it stopped. A destination without a cursor (a new
// one) starts at the head: it receives what is appended from now on.
func Open(opts Options) (*Forwarder, error) {
	opts.Destinations = slices.Clone(opts.Destinations) // defaults are not the caller's
	opts.setDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	f := &Forwarder{opts: opts, log: opts.Logger, stop: make(chan struct{}), done: make(chan struct{})}
	var err error
	f.ql, err = openLog(filepath.Join(opts.Dir, "log"), opts.SegmentBytes, opts.MaxPendingSamples, opts.Logger, opts.Now)
	if err != nil {
		return nil, err
	}
	cursors := filepath.Join(opts.Dir, "cursors")
	if err := os.MkdirAll(cursors, 0o755); err != nil {
		f.ql.close()
		return nil, fmt.Errorf("cannot create forward cursor directory: %w", err)
	}
	starts := make([]Position, len(opts.Destinations))
	for i := range opts.Destinations {
		d, p, err := f.newDestination(&opts.Destinations[i], cursors)
		if err != nil {
			f.ql.close()
			return nil, fmt.Errorf("forward destination %q: %w", opts.Destinations[i].Name, err)
		}
		f.dests, starts[i] = append(f.dests, d), p
	}
	f.ql.start()
	for i, d := range f.dests {
		d.start(starts[i])
		d.log.Info("forwarding", "url", d.url, "segment", starts[i].Segment, "seq", starts[i].Seq)
	}
	go f.maintain()
	return f, nil
}

func (f *Forwarder) newDestination(o *Destination, cursors string) (*destination, Position, error) {
	sels, err := parseSelectors(o.Match)
	if err != nil {
		return nil, Position{}, err
	}
	ext, err := externalLabels(o.Labels)
	if err != nil {
		return nil, Position{}, err
	}
	client, err := newHTTPClient(o)
	if err != nil {
		return nil, Position{}, err
	}
	logger := f.log.With("component", "forward", "destination", o.Name)
	d := &destination{opts: *o, log: logger, ql: f.ql, client: client, url: o.URL, ua: f.opts.UserAgent,
		warn: newLimiter(f.opts.LogsPerMinute, f.opts.Now), now: f.opts.Now,
		selectors: sels, external: newExtLabels(ext), seed: maphash.MakeSeed(),
		cursor: newCursorFile(cursors, o.Name)}
	p, err := d.cursor.load()
	if err != nil && !errors.Is(err, errNoCursor) {
		logger.Warn("forward cursor unreadable; starting at the head", "err", err)
	}
	loaded := p
	p = f.resolve(d, p, err == nil)
	// The starting position is persisted at once: a new destination that
	// delivers nothing before a restart must resume here, not at the head
	// of the next run.
	if err != nil || p != loaded {
		if err := d.cursor.store(p); err != nil {
			return nil, Position{}, err
		}
	}
	return d, p, nil
}

// resolve checks a persisted position against the segments on disk.
func (f *Forwarder) resolve(d *destination, p Position, found bool) Position {
	head, oldest := f.ql.head(), f.ql.oldest()
	switch {
	case !found:
		return head
	case p.Segment < oldest.Segment:
		// Its segments were deleted while it was not configured.
		n := oldest.Seq - min(oldest.Seq, p.Seq)
		d.stats.dropped.Add(int64(n))
		d.log.Warn("forward cursor is older than the queue; resuming at the oldest segment",
			"samples_dropped", n)
		return oldest
	case head.before(p):
		d.log.Warn("forward cursor is beyond the queue's end (the queue was removed?); resuming at the head")
		return head
	}
	if v := f.ql.view(p.Segment); !v.found || p.Offset > v.size {
		d.log.Warn("forward cursor points outside its segment; resuming at the head")
		return head
	}
	return p
}

// Append queues samples for every destination; lsets[i] are sample i's
// labels. The returned Waiter completes when the samples are fsynced in the
// queue. Append copies ts and vals and keeps the labels by value (a
// labels.Labels is immutable), so the caller may reuse the slices.
func (f *Forwarder) Append(lsets []labels.Labels, ts []int64, vals []float64) (pipeline.Waiter, error) {
	return f.ql.Append(lsets, ts, vals)
}

// maintain persists cursors, applies the full-queue policy and deletes the
// segments every destination has passed, every SyncInterval.
func (f *Forwarder) maintain() {
	defer close(f.done)
	t := time.NewTicker(f.opts.SyncInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			f.sync()
		case <-f.stop:
			return
		}
	}
}

func (f *Forwarder) sync() {
	oldest := uint64(math.MaxUint64)
	for _, d := range f.dests {
		w, _ := d.watermark()
		if w != d.saved {
			if err := d.cursor.store(w); err != nil {
				if d.warn.allow() {
					d.log.Error("cannot persist forward cursor", "err", err)
				}
			} else {
				d.saved = w
			}
		}
		oldest = min(oldest, d.saved.Segment)
		if _, b := f.ql.backlog(w); b > d.opts.MaxQueueBytes {
			d.requestDrop()
		}
	}
	if err := f.ql.removeBefore(oldest); err != nil {
		f.log.Error("cannot remove delivered forward segments", "err", err)
	}
}

// Close stops delivering and closes the queue. Samples in flight stay in
// the queue and are sent again after the next Open; every destination's
// position is persisted. The caller must have stopped calling Append.
func (f *Forwarder) Close() error {
	f.closeOnce.Do(func() {
		close(f.stop)
		<-f.done
		errs := []error{f.ql.close()}
		for _, d := range f.dests {
			// Stopped first, so that a drop in progress ends at once
			// instead of waiting for a request in flight. What the senders
			// hold stays pending, and is sent again after the next Open.
			d.stop()
			w, _ := d.watermark()
			if w != d.saved {
				errs = append(errs, d.cursor.store(w))
			}
		}
		f.closeErr = errors.Join(errs...)
	})
	return f.closeErr
}

// DestinationStats are one destination's gauges and counters. Counters are
// in samples unless named otherwise.
type DestinationStats struct {
	Name string
	// QueueSamples and QueueBytes are the log from the destination's
	// acknowledged position to the head, whether or not its selectors pick
	// every sample in it.
	QueueSamples uint64
	QueueBytes   int64
	// OldestUndelivered is how long the oldest sample not yet delivered has
	// been in the queue (queue time, not the sample's timestamp, which a
	// gateway replaying its backlog makes old). Zero when nothing waits.
	OldestUndelivered time.Duration
	Sent              int64 // accepted by the receiver
	Retried           int64 // sent again after a retryable failure, per attempt
	Failed            int64 // rejected by the receiver (4xx), not retried
	Dropped           int64 // skipped because the queue was full
	Filtered          int64 // not selected by the destination's match[]
	Requests          int64 // requests sent, retries included
	RequestBytes      int64 // compressed bytes of those requests
	Shards            int   // senders in use now
}

// Stats returns every destination's stats, in configuration order.
func (f *Forwarder) Stats() []DestinationStats {
	out := make([]DestinationStats, 0, len(f.dests))
	now := f.opts.Now().UnixMilli()
	for _, d := range f.dests {
		w, oldest := d.watermark()
		st := DestinationStats{Name: d.opts.Name,
			Sent: d.stats.sent.Load(), Retried: d.stats.retried.Load(), Failed: d.stats.failed.Load(),
			Dropped: d.stats.dropped.Load(), Filtered: d.stats.filtered.Load(),
			Requests: d.stats.requests.Load(), RequestBytes: d.stats.requestBytes.Load(),
			Shards: int(d.active.Load())}
		st.QueueSamples, st.QueueBytes = f.ql.backlog(w)
		if oldest > 0 && now > oldest {
			st.OldestUndelivered = time.Duration(now-oldest) * time.Millisecond
		}
		out = append(out, st)
	}
	return out
}

// LogStats describes the shared queue on disk.
func (f *Forwarder) LogStats() LogStats { return f.ql.stats() }
