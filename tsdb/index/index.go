// Package index is the store's inverted index: for every label name the
// values it takes, and for every (name, value) pair the ascending list of
// series refs that carry it (its postings). It resolves Prometheus label
// matchers to series without looking at series that cannot match: an
// equality matcher reads one postings list, a regular expression is tried
// against the values of its label name only, never against every series.
//
// The index lives in memory. The store rebuilds it at start from its
// persisted series definitions (tsdb/series files and the WAL), which are the
// durable truth; so the index has no file format of its own.
package index

import (
	"slices"
	"sync"

	"github.com/prometheus/prometheus/model/labels"
)

// Index maps label pairs to series refs. It is safe for concurrent use: Add
// takes a write lock, queries a read lock. Refs are uint32 in memory, which
// halves the postings' size; Add refuses a larger ref.
type Index struct {
	mu struct {
		sync.RWMutex
		names map[string]*nameEntry
		all   []uint32 // every ref, ascending
	}
}

// nameEntry holds the values of one label name.
type nameEntry struct {
	values map[string][]uint32
	sorted []string // values in order; nil when a value was added since
}

// MaxRef is the largest ref the index holds.
const MaxRef = 1<<32 - 1

// New returns an empty index.
func New() *Index {
	ix := &Index{}
	ix.mu.names = make(map[string]*nameEntry)
	return ix
}

// Add indexes the series ref with labels lset. Refs normally arrive in
// ascending order and are appended; an older ref (met again while the store
// loads) is inserted in place, and a ref already present is ignored. The
// index keeps the label strings, which share lset's memory. It panics if ref
// is 0 or above MaxRef: the store never hands out such refs.
func (ix *Index) Add(ref uint64, lset labels.Labels) {
	if ref == 0 || ref > MaxRef {
		panic("BUG: index: ref out of range")
	}
	r := uint32(ref)
	ix.mu.Lock()
	defer ix.mu.Unlock()
	var ok bool
	if ix.mu.all, ok = insert(ix.mu.all, r); !ok {
		return
	}
	lset.Range(func(l labels.Label) {
		e := ix.mu.names[l.Name]
		if e == nil {
			e = &nameEntry{values: make(map[string][]uint32)}
			ix.mu.names[l.Name] = e
		}
		p, seen := e.values[l.Value]
		if !seen {
			e.sorted = nil
		}
		e.values[l.Value], _ = insert(p, r)
	})
}

// insert adds r to the ascending list p and reports whether it was absent.
func insert(p []uint32, r uint32) ([]uint32, bool) {
	n := len(p)
	if n == 0 || p[n-1] < r {
		return append(p, r), true
	}
	i, found := slices.BinarySearch(p, r)
	if found {
		return p, false
	}
	return slices.Insert(p, i, r), true
}

// Len returns the number of series indexed.
func (ix *Index) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.mu.all)
}

// Names returns the label names in use, sorted. The slice is the caller's.
func (ix *Index) Names() []string {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	out := make([]string, 0, len(ix.mu.names))
	for n := range ix.mu.names {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Values returns the values of label name, sorted. The slice is the
// caller's.
func (ix *Index) Values(name string) []string {
	ix.mu.Lock() // may fill the sorted cache
	defer ix.mu.Unlock()
	e := ix.mu.names[name]
	if e == nil {
		return nil
	}
	return slices.Clone(e.sortedValues())
}

// sortedValues returns e's values in order, caching them. Called with the
// write lock held.
func (e *nameEntry) sortedValues() []string {
	if e.sorted == nil {
		e.sorted = make([]string, 0, len(e.values))
		for v := range e.values {
			e.sorted = append(e.sorted, v)
		}
		slices.Sort(e.sorted)
	}
	return e.sorted
}
