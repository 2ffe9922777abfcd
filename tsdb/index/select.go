package index

import (
	"slices"

	"github.com/prometheus/prometheus/model/labels"
)

// Select returns the refs of the series that satisfy every matcher,
// ascending. The slice is the caller's.
//
// Matchers follow Prometheus semantics: a series without label L has L = "",
// so a matcher that accepts the empty string ({L!="x"}, {L=~".*"}, {L=""})
// also selects series that lack L. Such matchers are applied by subtracting
// the series whose L has a value the matcher refuses; every other matcher by
// intersecting the postings of the values it accepts. With no matcher that
// narrows, the selection starts from every series.
func (ix *Index) Select(ms ...*labels.Matcher) []uint64 {
	ix.mu.RLock()
	defer ix.mu.RUnlock()

	var (
		acc     []uint32
		started bool
		subs    [][]uint32
	)
	for _, m := range ms {
		if m.Matches("") {
			// Series whose value of m.Name is refused: drop them.
			subs = append(subs, ix.unionLocked(m.Name, func(v string) bool { return !m.Matches(v) }))
			continue
		}
		p := ix.postingsLocked(m)
		if !started {
			acc, started = p, true
		} else {
			acc = intersect(acc, p)
		}
		if len(acc) == 0 {
			return nil
		}
	}
	if !started {
		acc = ix.mu.all
	}
	for _, s := range subs {
		if len(s) > 0 {
			acc = subtract(acc, s)
		}
	}
	out := make([]uint64, len(acc))
	for i, r := range acc {
		out[i] = uint64(r)
	}
	return out
}

// postingsLocked returns the series a matcher that refuses "" selects: the
// union of the postings of the values of m.Name that it accepts. The result
// may alias a postings list; callers must not modify it. Called with the read
// lock held.
func (ix *Index) postingsLocked(m *labels.Matcher) []uint32 {
	e := ix.mu.names[m.Name]
	if e == nil {
		return nil
	}
	switch m.Type {
	case labels.MatchEqual:
		return e.values[m.Value]
	case labels.MatchRegexp:
		if set := m.SetMatches(); len(set) > 0 {
			var lists [][]uint32
			for _, v := range set {
				if p := e.values[v]; len(p) > 0 {
					lists = append(lists, p)
				}
			}
			return union(lists)
		}
	}
	return ix.unionLocked(m.Name, m.Matches)
}

// unionLocked returns the union of the postings of the values of name for
// which keep is true. Called with the read lock held.
func (ix *Index) unionLocked(name string, keep func(string) bool) []uint32 {
	e := ix.mu.names[name]
	if e == nil {
		return nil
	}
	var lists [][]uint32
	for v, p := range e.values {
		if keep(v) {
			lists = append(lists, p)
		}
	}
	return union(lists)
}

// union merges ascending lists into one ascending list without duplicates.
// A single list is returned as it is, not copied.
func union(lists [][]uint32) []uint32 {
	switch len(lists) {
	case 0:
		return nil
	case 1:
		return lists[0]
	}
	n := 0
	for _, l := range lists {
		n += len(l)
	}
	out := make([]uint32, 0, n)
	for _, l := range lists {
		out = append(out, l...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// intersect returns the refs in both ascending lists, in a new slice. When
// one list is much shorter, its refs are looked up in the other by binary
// search, so picking one series out of a million costs a few probes.
func intersect(a, b []uint32) []uint32 {
	if len(a) > len(b) {
		a, b = b, a
	}
	out := make([]uint32, 0, len(a))
	if len(a)*16 < len(b) {
		for _, r := range a {
			i, found := slices.BinarySearch(b, r)
			if found {
				out = append(out, r)
			}
			b = b[i:]
		}
		return out
	}
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] < b[j]:
			i++
		case a[i] > b[j]:
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	return out
}

// subtract returns the refs of a that are not in b, in a new slice.
func subtract(a, b []uint32) []uint32 {
	out := make([]uint32, 0, len(a))
	j := 0
	for _, r := range a {
		for j < len(b) && b[j] < r {
			j++
		}
		if j < len(b) && b[j] == r {
			continue
		}
		out = append(out, r)
	}
	return out
}
