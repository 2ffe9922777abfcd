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
// also selects series that lack L. Such matchers are applied by removing
// the series whose L has a value the matcher refuses; every other matcher by
// keeping the series whose L has a value it accepts. With no matcher that
// narrows, the selection starts from every series.
//
// The matchers are applied from the fewest series they name to the most.
// Once the selection is small next to the postings a matcher names, each
// selected ref is looked up in those postings by binary search instead of
// merging them, so {__name__="m", device="d", province=~"h.*"} costs a few
// probes even when the province regexp accepts most of a million series.
// A regular expression is still tried against every value of its label
// name (not every series): that is the cost of a regexp on a label with
// very many values.
func (ix *Index) Select(ms ...*labels.Matcher) []uint64 {
	ix.mu.RLock()
	defer ix.mu.RUnlock()

	keeps := make([]postingsSet, 0, len(ms))
	var drops []postingsSet
	for _, m := range ms {
		if m.Matches("") {
			// Series whose value of m.Name is refused: drop them.
			if ps := ix.valuesLocked(m.Name, func(v string) bool { return !m.Matches(v) }); ps.n > 0 {
				drops = append(drops, ps)
			}
			continue
		}
		ps := ix.acceptedLocked(m)
		if ps.n == 0 {
			return nil
		}
		keeps = append(keeps, ps)
	}
	slices.SortFunc(keeps, func(a, b postingsSet) int { return a.n - b.n })
	var acc []uint32
	if len(keeps) == 0 {
		acc = ix.mu.all
	} else {
		acc = union(keeps[0].lists)
	}
	for _, ps := range keeps[min(1, len(keeps)):] {
		if ps.probeCheaper(len(acc)) {
			acc = filter(acc, ps.lists, true)
		} else {
			acc = intersect(acc, union(ps.lists))
		}
		if len(acc) == 0 {
			return nil
		}
	}
	for _, ps := range drops {
		if ps.probeCheaper(len(acc)) {
			acc = filter(acc, ps.lists, false)
		} else {
			acc = subtract(acc, union(ps.lists))
		}
	}
	out := make([]uint64, len(acc))
	for i, r := range acc {
		out[i] = uint64(r)
	}
	return out
}

// postingsSet is the postings of the values of one label name that a
// matcher accepts (or refuses), not yet merged: n refs in all.
type postingsSet struct {
	lists [][]uint32
	n     int
}

func (ps *postingsSet) add(p []uint32) {
	if len(p) > 0 {
		ps.lists = append(ps.lists, p)
		ps.n += len(p)
	}
}

// probeCheaper reports whether looking each of k refs up in the lists by
// binary search costs less than merging the lists.
func (ps postingsSet) probeCheaper(k int) bool {
	return k*len(ps.lists)*16 < ps.n
}

// filter returns the refs of acc that are in one of lists (keep) or in none
// of them (!keep), in a new slice.
func filter(acc []uint32, lists [][]uint32, keep bool) []uint32 {
	out := make([]uint32, 0, len(acc))
	for _, r := range acc {
		in := false
		for _, l := range lists {
			if _, found := slices.BinarySearch(l, r); found {
				in = true
				break
			}
		}
		if in == keep {
			out = append(out, r)
		}
	}
	return out
}

// acceptedLocked returns the postings of the values of m.Name that m, a
// matcher that refuses "", accepts. Called with the read lock held.
func (ix *Index) acceptedLocked(m *labels.Matcher) postingsSet {
	e := ix.mu.names[m.Name]
	if e == nil {
		return postingsSet{}
	}
	var ps postingsSet
	switch m.Type {
	case labels.MatchEqual:
		ps.add(e.values[m.Value])
		return ps
	case labels.MatchRegexp:
		if set := m.SetMatches(); len(set) > 0 {
			for _, v := range set {
				ps.add(e.values[v])
			}
			return ps
		}
	}
	return ix.valuesLocked(m.Name, m.Matches)
}

// valuesLocked returns the postings of the values of name for which keep
// is true. Called with the read lock held.
func (ix *Index) valuesLocked(name string, keep func(string) bool) postingsSet {
	e := ix.mu.names[name]
	if e == nil {
		return postingsSet{}
	}
	var ps postingsSet
	for v, p := range e.values {
		if keep(v) {
			ps.add(p)
		}
	}
	return ps
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
