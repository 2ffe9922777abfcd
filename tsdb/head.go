package tsdb

import (
	"cmp"
	"slices"
	"sort"
	"sync"

	"github.com/prometheus/prometheus/model/labels"
)

// memSeries is one series the store knows: its labels, kept for its whole
// life, and the samples of it that are in the head, not yet in parts.
//
// Only the committer goroutine appends; queries and the head rotation read
// and take samples concurrently, so the sample columns are guarded by mu.
// Appends arrive mostly in time order; an out-of-order append clears sorted,
// and the next reader sorts in place and keeps, of samples sharing a
// timestamp, the one written last.
type memSeries struct {
	ref  SeriesRef
	lset labels.Labels
	next *memSeries // next series in the same seriesSet hash bucket

	mu struct {
		sync.Mutex
		samples fsamples
		sorted  bool
	}
}

func newMemSeries(ref SeriesRef, lset labels.Labels) *memSeries {
	s := &memSeries{ref: ref, lset: lset}
	s.mu.sorted = true
	return s
}

// append adds one sample and returns the number of samples now in the head
// for this series.
func (s *memSeries) append(t int64, v float64) int {
	s.mu.Lock()
	smp := s.mu.samples
	n := len(smp)
	if n > 0 && t <= smp[n-1].t {
		s.mu.sorted = false
	}
	if n == cap(smp) {
		// Grow by half, not double: at the flush budget the head's memory is
		// mostly these buffers, and doubling would leave a third of it empty.
		grown := make(fsamples, n, n+max(4, n/2))
		copy(grown, smp)
		smp = grown
	}
	s.mu.samples = append(smp, fsample{t: t, f: v})
	s.mu.Unlock()
	return n + 1
}

// samples appends the series' head samples in [mint, maxt] to dst, sorted by
// time, one per timestamp.
func (s *memSeries) samples(mint, maxt int64, dst fsamples) fsamples {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sortLocked()
	smp := s.mu.samples
	lo := sort.Search(len(smp), func(i int) bool { return smp[i].t >= mint })
	hi := sort.Search(len(smp), func(i int) bool { return smp[i].t > maxt })
	return append(dst, smp[lo:hi]...)
}

// sortLocked orders the samples by time in place and keeps, of samples
// sharing a timestamp, the one written last. Called with mu held.
func (s *memSeries) sortLocked() {
	if s.mu.sorted {
		return
	}
	smp := s.mu.samples
	slices.SortStableFunc(smp, func(a, b fsample) int { return cmp.Compare(a.t, b.t) })
	w := 0
	for i := range smp {
		if w > 0 && smp[w-1].t == smp[i].t {
			smp[w-1].f = smp[i].f // stable order: a later write replaces an earlier one
			continue
		}
		smp[w] = smp[i]
		w++
	}
	s.mu.samples, s.mu.sorted = smp[:w], true
}

// keepCap is the sample capacity a series keeps across head flushes. Keeping
// it lets a steady stream append without allocating; dropping larger
// buffers bounds what a burst leaves behind (docs/storage.md, "Head memory").
const keepCap = 32

// takeLocked moves the series' head samples out, sorted and deduplicated,
// appending them to ts and vals, and empties the head. Called with mu held.
func (s *memSeries) takeLocked(ts []int64, vals []float64) ([]int64, []float64) {
	s.sortLocked()
	for _, smp := range s.mu.samples {
		ts = append(ts, smp.t)
		vals = append(vals, smp.f)
	}
	if cap(s.mu.samples) > keepCap {
		s.mu.samples = nil
	} else {
		s.mu.samples = s.mu.samples[:0]
	}
	return ts, vals
}

// seriesSet is the registry of every series the store knows: by ref for the
// committer and queries, by label hash for creation. The hash table chains
// colliding series through memSeries.next, which costs no allocation per
// series beyond the map entry.
type seriesSet struct {
	mu     sync.RWMutex
	byRef  []*memSeries // index ref-1
	byHash map[uint64]*memSeries
	n      int
}

func newSeriesSet() *seriesSet {
	return &seriesSet{byHash: make(map[uint64]*memSeries)}
}

func (ss *seriesSet) get(ref SeriesRef) *memSeries {
	ss.mu.RLock()
	defer ss.mu.RUnlock()
	return ss.getLocked(ref)
}

// getLocked is get with mu held for reading.
func (ss *seriesSet) getLocked(ref SeriesRef) *memSeries {
	if ref == 0 || ref > SeriesRef(len(ss.byRef)) {
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
	for s := ss.byHash[hash]; s != nil; s = s.next {
		if labels.Equal(s.lset, lset) {
			return s
		}
	}
	return nil
}

// addLocked registers s, whose ref must not be in use. Called with mu held.
func (ss *seriesSet) addLocked(s *memSeries, hash uint64) {
	if int(s.ref) > len(ss.byRef) {
		if int(s.ref) > cap(ss.byRef) {
			grown := make([]*memSeries, len(ss.byRef), max(int(s.ref), 2*cap(ss.byRef)))
			copy(grown, ss.byRef)
			ss.byRef = grown
		}
		ss.byRef = ss.byRef[:s.ref]
	}
	ss.byRef[s.ref-1] = s
	s.next = ss.byHash[hash]
	ss.byHash[hash] = s
	ss.n++
}

func (ss *seriesSet) count() int {
	ss.mu.RLock()
	defer ss.mu.RUnlock()
	return ss.n
}

// maxRef returns the highest ref registered.
func (ss *seriesSet) maxRef() SeriesRef {
	ss.mu.RLock()
	defer ss.mu.RUnlock()
	return SeriesRef(len(ss.byRef))
}
