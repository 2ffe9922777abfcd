package tsdb

import (
	"errors"
	"path/filepath"
	"slices"
	"time"

	"github.com/quantrac/quantrac/tsdb/encoding"
	"github.com/quantrac/quantrac/tsdb/part"
)

// errMergeStopped aborts a merge when the store closes.
var errMergeStopped = errors.New("merge stopped: store closing")

// mergeLoop is one merge worker. It starts with a round of work, so that a
// store reopened with a shorter retention drops old partitions at once, then
// wakes after flushes and every mergeCheckInterval; each round applies
// retention (the first worker only) and merges while there is work.
// MergeConcurrency workers run; each merge holds its parts, so two workers
// never pick the same ones.
func (db *DB) mergeLoop(first bool) {
	defer db.mergersDone.Done()
	tick := time.NewTicker(mergeCheckInterval)
	defer tick.Stop()
	for round := 0; ; round++ {
		if round > 0 {
			select {
			case <-db.stop:
				return
			case <-db.mergeKick:
			case <-tick.C:
			}
		}
		if first {
			db.applyRetention(time.Now())
		}
		for db.mergeOnce(time.Now()) {
			select {
			case <-db.stop:
				return
			default:
			}
		}
	}
}

const mergeCheckInterval = 30 * time.Second

// signalMerge wakes a merge worker without waiting.
func (db *DB) signalMerge() {
	select {
	case db.mergeKick <- struct{}{}:
	default:
	}
}

// mergeOnce picks and runs one merge. It reports whether it found one, so
// that the caller looks for another.
func (db *DB) mergeOnce(now time.Time) bool {
	db.state.Lock()
	c, ok := db.pickMergeLocked(now)
	if ok {
		c.parts = slices.Clone(c.parts)
		for _, p := range c.parts {
			p.merging = true
			p.acquire()
		}
	}
	db.state.Unlock()
	if !ok {
		return false
	}
	start := time.Now()
	out, err := db.mergeParts(c)
	if err == nil {
		db.installMerge(c, out)
	}
	db.state.Lock()
	for _, p := range c.parts {
		p.merging = false
	}
	db.state.Unlock()
	for _, p := range c.parts {
		p.release()
	}
	if err != nil {
		if !errors.Is(err, errMergeStopped) {
			db.log.Error("merge failed; its parts stay as they are", "partition", partitionName(c.day), "err", err)
			db.stats.mergeErrors.Add(1)
		}
		return false
	}
	db.stats.merges.Add(1)
	db.log.Debug("parts merged", "partition", partitionName(c.day), "parts", len(c.parts),
		"samples", out.info.Samples, "bytes", out.info.Size, "duration", time.Since(start).Round(time.Millisecond))
	return true
}

// installMerge replaces the merged parts by their output. If the partition
// changed meanwhile (retention dropped it), the output is dropped instead.
func (db *DB) installMerge(c mergeCandidate, out *partRef) {
	db.state.Lock()
	defer db.state.Unlock()
	ps := db.state.partitions[c.day]
	i := slices.Index(ps, c.parts[0])
	if i < 0 || i+len(c.parts) > len(ps) || !slices.Equal(ps[i:i+len(c.parts)], c.parts) {
		out.drop.Store(true)
		out.release()
		return
	}
	ps = slices.Replace(ps, i, i+len(c.parts), out)
	db.state.partitions[c.day] = ps
	for _, p := range c.parts {
		p.drop.Store(true)
		p.release() // the set's reference
	}
}

// mergeParts writes the merge of c's parts into a new part covering their
// sequence range and opens it.
func (db *DB) mergeParts(c mergeCandidate) (*partRef, error) {
	minSeq, maxSeq := c.parts[0].info.MinSeq, c.parts[len(c.parts)-1].info.MaxSeq
	draft := !c.cold
	path := filepath.Join(db.partitionDir(c.day), partFileName(minSeq, maxSeq, draft))
	codec := db.partCodec
	if draft {
		codec = db.draftCodec
	}
	w, err := part.Create(path, codec, part.WriterOptions{
		MinSeq: minSeq, MaxSeq: maxSeq,
		NoSharedTimestamps: db.opts.NoSharedTimestamps,
		Throttle:           db.mergeThrottle.wait,
	})
	if err != nil {
		return nil, err
	}
	if err := db.copyMerged(w, c.parts, !draft); err != nil {
		w.Abort()
		return nil, err
	}
	if _, err := w.Finish(); err != nil {
		return nil, err
	}
	return db.openPart(c.day, minSeq, maxSeq, draft)
}

// copyMerged streams the series of parts, in ref order, into w. A series
// found in one part only has its blocks copied as they are, unless the part
// is a draft and final is set; otherwise its samples are merged, the newer
// part winning for a timestamp present in several, and cut into new blocks.
func (db *DB) copyMerged(w *part.Writer, parts []*partRef, final bool) error {
	cursors := make([]*part.Cursor, len(parts))
	live := make([]bool, len(parts))
	seqs := make([]*part.Sequential, len(parts))
	for i, p := range parts {
		seqs[i] = p.r.Sequential(mergeReadAhead)
		cursors[i] = p.r.NewCursor()
		live[i] = cursors[i].Next()
		if err := cursors[i].Err(); err != nil {
			return err
		}
	}
	var (
		raw   part.BlockBuffer
		m     = newSampleMerger(len(parts))
		outTS = make([]int64, 0, encoding.MaxBlockSamples)
		outV  = make([]float64, 0, encoding.MaxBlockSamples)
	)
	for n := 0; ; n++ {
		if n%256 == 0 {
			select {
			case <-db.stop:
				return errMergeStopped
			default:
			}
		}
		ref, found := uint64(0), false
		for i, ok := range live {
			if ok && (!found || cursors[i].At().Ref < ref) {
				ref, found = cursors[i].At().Ref, true
			}
		}
		if !found {
			return nil
		}
		m.reset()
		reencode := false
		for i, ok := range live {
			if ok && cursors[i].At().Ref == ref {
				m.add(seqs[i], cursors[i].At().Blocks)
				reencode = reencode || (final && parts[i].draft)
			}
		}
		var err error
		if len(m.inputs) == 1 && !reencode {
			err = copyBlocks(w, ref, m.inputs[0], &raw)
		} else {
			err = mergeSeries(w, ref, m, outTS, outV)
		}
		if err != nil {
			return err
		}
		for i, ok := range live {
			if ok && cursors[i].At().Ref == ref {
				live[i] = cursors[i].Next()
				if err := cursors[i].Err(); err != nil {
					return err
				}
			}
		}
	}
}

// mergeReadAhead is the read-ahead window of each part a merge reads.
const mergeReadAhead = 256 << 10

func copyBlocks(w *part.Writer, ref uint64, in *mergeInput, raw *part.BlockBuffer) error {
	for _, b := range in.blocks {
		tsCol, valCol, err := in.r.ReadRawBlock(b, raw)
		if err != nil {
			return err
		}
		if err := w.AppendRawBlock(ref, b, tsCol, valCol); err != nil {
			return err
		}
	}
	return nil
}

func mergeSeries(w *part.Writer, ref uint64, m *sampleMerger, ts []int64, vals []float64) error {
	ts, vals = ts[:0], vals[:0]
	for m.next() {
		ts = append(ts, m.t)
		vals = append(vals, m.v)
		if len(ts) == encoding.MaxBlockSamples {
			if err := w.AppendBlock(ref, ts, vals); err != nil {
				return err
			}
			ts, vals = ts[:0], vals[:0]
		}
	}
	if err := m.err; err != nil {
		return err
	}
	if len(ts) > 0 {
		return w.AppendBlock(ref, ts, vals)
	}
	return nil
}

// throttle bounds a byte rate by sleeping. Merge workers share one, so the
// bound holds for all merges together.
type throttle struct {
	rate  int64 // bytes a second; <= 0 means unbounded
	clock struct {
		mu   chan struct{} // a one-slot semaphore, so waiting does not hold a sync.Mutex
		next time.Time     // when the bytes written so far are paid for
	}
}

func newThrottle(rate int64) *throttle {
	t := &throttle{rate: rate}
	t.clock.mu = make(chan struct{}, 1)
	return t
}

// wait accounts for n bytes and sleeps until the rate allows them.
func (t *throttle) wait(n int) {
	if t.rate <= 0 {
		return
	}
	t.clock.mu <- struct{}{}
	now := time.Now()
	if t.clock.next.Before(now) {
		t.clock.next = now
	}
	t.clock.next = t.clock.next.Add(time.Duration(int64(n) * int64(time.Second) / t.rate))
	until := t.clock.next
	<-t.clock.mu
	if d := time.Until(until); d > time.Millisecond {
		time.Sleep(d)
	}
}
