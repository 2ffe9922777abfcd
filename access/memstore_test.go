package access

import (
	"context"
	"slices"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/util/annotations"
)

// memStore is a small in-memory storage.Queryable for the engine tests: a
// sorted list of series, each a slice of float samples. With leaky set it
// ignores every matcher, like a broken store, to show that Restrict's
// second check holds on its own.
type memStore struct {
	series []memSeries
	leaky  bool
	// selects records the matchers of every Select, to show what the store
	// was asked.
	selects [][]*labels.Matcher
}

type memSeries struct {
	lset    labels.Labels
	samples []chunks.Sample
}

type fSample struct {
	t int64
	f float64
}

func (s fSample) T() int64                      { return s.t }
func (s fSample) ST() int64                     { return 0 }
func (s fSample) F() float64                    { return s.f }
func (s fSample) H() *histogram.Histogram       { return nil }
func (s fSample) FH() *histogram.FloatHistogram { return nil }
func (s fSample) Type() chunkenc.ValueType      { return chunkenc.ValFloat }
func (s fSample) Copy() chunks.Sample           { return s }

func (m *memStore) add(lset labels.Labels, samples ...fSample) {
	ms := memSeries{lset: lset}
	for _, s := range samples {
		ms.samples = append(ms.samples, s)
	}
	m.series = append(m.series, ms)
	slices.SortFunc(m.series, func(a, b memSeries) int { return labels.Compare(a.lset, b.lset) })
}

// only returns a store holding the series of m that keep accepts.
func (m *memStore) only(keep func(labels.Labels) bool) *memStore {
	out := &memStore{}
	for _, s := range m.series {
		if keep(s.lset) {
			out.series = append(out.series, s)
		}
	}
	return out
}

func (m *memStore) Querier(mint, maxt int64) (storage.Querier, error) {
	return &memQuerier{m: m, mint: mint, maxt: maxt}, nil
}

type memQuerier struct {
	m          *memStore
	mint, maxt int64
}

func (q *memQuerier) matching(ms []*labels.Matcher) []memSeries {
	var out []memSeries
	for _, s := range q.m.series {
		ok := true
		for _, mt := range ms {
			if !q.m.leaky && !mt.Matches(s.lset.Get(mt.Name)) {
				ok = false
			}
		}
		if ok {
			out = append(out, s)
		}
	}
	return out
}

func (q *memQuerier) Select(_ context.Context, _ bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	q.m.selects = append(q.m.selects, ms)
	mint, maxt := q.mint, q.maxt
	if hints != nil {
		mint, maxt = hints.Start, hints.End
	}
	var out []storage.Series
	for _, s := range q.matching(ms) {
		var in []chunks.Sample
		for _, smp := range s.samples {
			if smp.T() >= mint && smp.T() <= maxt {
				in = append(in, smp)
			}
		}
		if len(in) > 0 {
			out = append(out, storage.NewListSeries(s.lset, in))
		}
	}
	return &sliceSet{series: out, i: -1}
}

func (q *memQuerier) LabelValues(_ context.Context, name string, _ *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	var vals []string
	for _, s := range q.matching(ms) {
		if v := s.lset.Get(name); v != "" && !slices.Contains(vals, v) {
			vals = append(vals, v)
		}
	}
	slices.Sort(vals)
	return vals, nil, nil
}

func (q *memQuerier) LabelNames(_ context.Context, _ *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	var names []string
	for _, s := range q.matching(ms) {
		s.lset.Range(func(l labels.Label) {
			if !slices.Contains(names, l.Name) {
				names = append(names, l.Name)
			}
		})
	}
	slices.Sort(names)
	return names, nil, nil
}

func (q *memQuerier) Close() error { return nil }

type sliceSet struct {
	series []storage.Series
	i      int
}

func (s *sliceSet) Next() bool {
	s.i++
	return s.i < len(s.series)
}
func (s *sliceSet) At() storage.Series                { return s.series[s.i] }
func (s *sliceSet) Err() error                        { return nil }
func (s *sliceSet) Warnings() annotations.Annotations { return nil }
