package tsdb

import (
	"cmp"
	"slices"
	"sort"
)

// frozenHead is the head's content at one rotation: every sample that was in
// the head, sorted by (series, time), one per timestamp. The flusher writes
// it into parts; until they are installed, queries read it in place of the
// head it came from. It is immutable once built.
type frozenHead struct {
	refs   []SeriesRef // series with samples, ascending
	starts []int       // samples of refs[i] are [starts[i], starts[i+1])
	ts     []int64
	vals   []float64

	// walNext is the first WAL segment written after the rotation: every
	// older segment holds only samples that are in this frozen head or in
	// parts already, so the flush removes them once its parts are durable.
	walNext int
	// maxRef is the highest series ref when the head was rotated. The flush
	// persists every series definition up to it before removing segments.
	maxRef SeriesRef
}

// lookup returns the frozen samples of ref in [mint, maxt].
func (f *frozenHead) lookup(ref SeriesRef, mint, maxt int64) ([]int64, []float64) {
	i, found := slices.BinarySearch(f.refs, ref)
	if !found {
		return nil, nil
	}
	ts := f.ts[f.starts[i]:f.starts[i+1]]
	vals := f.vals[f.starts[i]:f.starts[i+1]]
	lo := sort.Search(len(ts), func(i int) bool { return ts[i] >= mint })
	hi := sort.Search(len(ts), func(i int) bool { return ts[i] > maxt })
	return ts[lo:hi], vals[lo:hi]
}

// samples returns the number of samples in f.
func (f *frozenHead) samples() int { return len(f.ts) }

// headCut is the head as the committer cut it at a rotation, before the
// flusher takes its samples into a frozen head.
type headCut struct {
	dirty   []*memSeries // the series with samples at the cut
	samples int64        // head samples at the cut
	walNext int          // the first WAL segment after the cut
	maxRef  SeriesRef
}

// cutHead starts a new head. It runs on the committer goroutine between
// two commit groups, so the WAL cut it makes separates the samples of the
// old head from those committed later. It only swaps the list of dirty
// series: the samples stay in their series until freeze takes them, while
// commits go on.
func (db *DB) cutHead() (headCut, error) {
	next, err := db.wal.Cut()
	if err != nil {
		return headCut{}, err
	}
	c := headCut{dirty: db.head.dirty, samples: db.head.samples.Load(),
		walNext: next, maxRef: db.series.maxRef()}
	db.head.dirty = db.head.spareDirty[:0]
	db.head.spareDirty = nil
	db.head.samples.Store(0)
	db.head.series.Store(0)
	db.head.oldestNano.Store(0)
	return c, nil
}

// freeze moves the samples of a cut's series into a new frozen head and
// publishes it. It runs on the flusher and holds the state lock, so a
// query sees every sample either in the head or in the frozen head, never
// in neither; commits go on meanwhile (they take only each series' lock).
//
// A sample committed after the cut to a series not yet taken goes into the
// frozen head with the others: it is also in a WAL segment after the cut,
// so a crash before the next flush replays it, and the copy is flushed
// again into a part of a higher sequence with the same value (merges fold
// the two). The new head counted it; it is taken off that count here.
func (db *DB) freeze(c headCut) *frozenHead {
	dirty := c.dirty
	slices.SortFunc(dirty, func(a, b *memSeries) int { return cmp.Compare(a.ref, b.ref) })
	// Room for the samples committed while this runs, so that the
	// columns are not copied again to grow: at 2 million samples a
	// second, a freeze of 100 ms takes a few percent more than the cut.
	room := c.samples + c.samples/4 + 1024
	f := &frozenHead{
		refs:    make([]SeriesRef, 0, len(dirty)),
		starts:  make([]int, 0, len(dirty)+1),
		ts:      make([]int64, 0, room),
		vals:    make([]float64, 0, room),
		walNext: c.walNext,
		maxRef:  c.maxRef,
	}
	var taken int64
	db.state.Lock()
	for _, s := range dirty {
		s.mu.Lock()
		start := len(f.ts)
		taken += int64(len(s.mu.samples))
		f.ts, f.vals = s.takeLocked(f.ts, f.vals)
		s.mu.Unlock()
		if len(f.ts) > start {
			f.refs = append(f.refs, s.ref)
			f.starts = append(f.starts, start)
		}
	}
	f.starts = append(f.starts, len(f.ts))
	db.state.frozen = f
	db.state.Unlock()
	if late := taken - c.samples; late > 0 {
		db.head.samples.Add(-late)
	}
	clear(dirty)
	db.head.spareDirty = dirty[:0] // the committer reads it at the next cut, which this flush comes before
	return f
}
