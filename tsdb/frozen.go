package tsdb

import (
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

// rotate moves the head into a new frozen head. It runs on the committer
// goroutine between two commit groups, so the WAL cut it makes separates
// exactly the samples it takes from the ones it leaves; and it holds the
// state lock, so a query sees every sample either in the head or in the
// frozen head, never in neither.
func (db *DB) rotate() (*frozenHead, error) {
	next, err := db.wal.Cut()
	if err != nil {
		return nil, err
	}
	dirty := db.head.dirty
	slices.SortFunc(dirty, func(a, b *memSeries) int {
		switch {
		case a.ref < b.ref:
			return -1
		case a.ref > b.ref:
			return 1
		}
		return 0
	})
	n := int(db.head.samples.Load())
	f := &frozenHead{
		refs:    make([]SeriesRef, 0, len(dirty)),
		starts:  make([]int, 0, len(dirty)+1),
		ts:      make([]int64, 0, n),
		vals:    make([]float64, 0, n),
		walNext: next,
		maxRef:  db.series.maxRef(),
	}
	db.state.Lock()
	for _, s := range dirty {
		s.mu.Lock()
		start := len(f.ts)
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

	clear(dirty)
	db.head.dirty = dirty[:0]
	db.head.samples.Store(0)
	db.head.series.Store(0)
	db.head.oldestNano.Store(0)
	return f, nil
}
