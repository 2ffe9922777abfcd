package tsdb

import (
	"slices"
	"sync"

	"github.com/prometheus/prometheus/model/labels"
)

// memSeries is one series in the head: its labels and the samples that are
// not yet in parts.
//
// Only the committer goroutine appends; queries read concurrently, so the
// sample columns are guarded by mu. Appends arrive mostly in time order; an
// out-of-order append clears sorted, and the next read sorts and removes
// duplicates in place.
type memSeries struct {
	ref  SeriesRef
	lset labels.Labels

	mu struct {
		sync.Mutex
		ts     []int64
		vals   []float64
		sorted bool
	}
}

func newMemSeries(ref SeriesRef, lset labels.Labels) *memSeries {
	s := &memSeries{ref: ref, lset: lset}
	s.mu.sorted = true
	return s
}

func (s *memSeries) append(t int64, v float64) {
	s.mu.Lock()
	if n := len(s.mu.ts); n > 0 && t <= s.mu.ts[n-1] {
		s.mu.sorted = false
	}
	s.mu.ts = append(s.mu.ts, t)
	s.mu.vals = append(s.mu.vals, v)
	s.mu.Unlock()
}

// samples appends the series' samples in [mint, maxt] to dst, sorted by time,
// one per timestamp.
func (s *memSeries) samples(mint, maxt int64, dst fsamples) fsamples {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.mu.sorted {
		s.sortLocked()
	}
	lo, _ := slices.BinarySearch(s.mu.ts, mint)
	hi, found := slices.BinarySearch(s.mu.ts, maxt)
	if found {
		hi++
	}
	for i := lo; i < hi; i++ {
		dst = append(dst, fsample{t: s.mu.ts[i], f: s.mu.vals[i]})
	}
	return dst
}

// sortLocked orders the samples by time and keeps, of samples sharing a
// timestamp, the one written last. Called with mu held.
func (s *memSeries) sortLocked() {
	idx := make([]int, len(s.mu.ts))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		ta, tb := s.mu.ts[a], s.mu.ts[b]
		switch {
		case ta < tb:
			return -1
		case ta > tb:
			return 1
		}
		return 0
	})
	ts := make([]int64, 0, len(idx))
	vals := make([]float64, 0, len(idx))
	for _, i := range idx {
		t := s.mu.ts[i]
		if n := len(ts); n > 0 && ts[n-1] == t {
			vals[n-1] = s.mu.vals[i] // a later write replaces an earlier one
			continue
		}
		ts = append(ts, t)
		vals = append(vals, s.mu.vals[i])
	}
	s.mu.ts, s.mu.vals, s.mu.sorted = ts, vals, true
}

// seriesSet is the registry of every series the store knows: by ref for the
// committer and queries, by label hash for creation.
type seriesSet struct {
	mu     sync.RWMutex
	byRef  []*memSeries // index ref-1
	byHash map[uint64][]*memSeries
	n      int
}

func newSeriesSet() *seriesSet {
	return &seriesSet{byHash: make(map[uint64][]*memSeries)}
}

func (ss *seriesSet) get(ref SeriesRef) *memSeries {
	ss.mu.RLock()
	defer ss.mu.RUnlock()
	return ss.getLocked(ref)
}

// getLocked is get with mu held for reading.
func (ss *seriesSet) getLocked(ref SeriesRef) *memSeries {
	if ref == 0 || int(ref) > len(ss.byRef) {
		return nil
	}
	return ss.byRef[ref-1]
}

func (ss *seriesSet) lookup(hash uint64, lset labels.Labels) *memSeries {
	ss.mu.RLock()
	defer ss.mu.RUnlock()
	return ss.lookupLocked(hash, lset)
}

func (ss *seriesSet) lookupLocked(hash uint64, lset labels.Labels) *memSeries {
	for _, s := range ss.byHash[hash] {
		if labels.Equal(s.lset, lset) {
			return s
		}
	}
	return nil
}

// addLocked registers s, whose ref must not be in use. Called with mu held.
func (ss *seriesSet) addLocked(s *memSeries, hash uint64) {
	for int(s.ref) > len(ss.byRef) {
		ss.byRef = append(ss.byRef, nil)
	}
	ss.byRef[s.ref-1] = s
	ss.byHash[hash] = append(ss.byHash[hash], s)
	ss.n++
}

func (ss *seriesSet) count() int {
	ss.mu.RLock()
	defer ss.mu.RUnlock()
	return ss.n
}

// all returns a snapshot of every series, in ref order.
func (ss *seriesSet) all() []*memSeries {
	ss.mu.RLock()
	defer ss.mu.RUnlock()
	out := make([]*memSeries, 0, len(ss.byRef))
	for _, s := range ss.byRef {
		if s != nil {
			out = append(out, s)
		}
	}
	return out
}
