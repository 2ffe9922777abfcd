package tsdb

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

// Querier returns a storage.Querier over [mint, maxt], so a DB is a
// storage.Queryable for the Prometheus engine.
func (db *DB) Querier(mint, maxt int64) (storage.Querier, error) {
	return &querier{db: db, mint: mint, maxt: maxt}, nil
}

type querier struct {
	db         *DB
	mint, maxt int64
}

// matching returns the series whose labels satisfy every matcher, in label
// order.
func (q *querier) matching(ms []*labels.Matcher) []*memSeries {
	var out []*memSeries
	for _, s := range q.db.series.all() {
		if matchesAll(s.lset, ms) {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b *memSeries) int { return labels.Compare(a.lset, b.lset) })
	return out
}

func matchesAll(lset labels.Labels, ms []*labels.Matcher) bool {
	for _, m := range ms {
		if !m.Matches(lset.Get(m.Name)) {
			return false
		}
	}
	return true
}

// Select returns the matching series with their samples in the querier's
// range (narrowed by hints). Series are always sorted by labels.
func (q *querier) Select(ctx context.Context, _ bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	mint, maxt := q.mint, q.maxt
	if hints != nil {
		mint, maxt = max(mint, hints.Start), min(maxt, hints.End)
	}
	series := q.matching(ms)
	out := make([]storage.Series, 0, len(series))
	for _, s := range series {
		if err := ctx.Err(); err != nil {
			return storage.ErrSeriesSet(err)
		}
		if hints != nil && hints.Func == "series" {
			out = append(out, &listSeries{lset: s.lset})
			continue
		}
		samples := s.samples(mint, maxt, nil)
		if len(samples) == 0 {
			continue
		}
		out = append(out, &listSeries{lset: s.lset, samples: samples})
	}
	return &listSeriesSet{series: out, i: -1}
}

// LabelValues returns the sorted values of name among matching series.
func (q *querier) LabelValues(_ context.Context, name string, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	seen := map[string]struct{}{}
	for _, s := range q.matching(ms) {
		if v := s.lset.Get(name); v != "" {
			seen[v] = struct{}{}
		}
	}
	return limitSorted(seen, hints), nil, nil
}

// LabelNames returns the sorted label names of matching series.
func (q *querier) LabelNames(_ context.Context, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	seen := map[string]struct{}{}
	for _, s := range q.matching(ms) {
		s.lset.Range(func(l labels.Label) { seen[l.Name] = struct{}{} })
	}
	return limitSorted(seen, hints), nil, nil
}

func limitSorted(set map[string]struct{}, hints *storage.LabelHints) []string {
	out := make([]string, 0, len(set))
	for v := range set {
		out = append(out, v)
	}
	slices.Sort(out)
	if hints != nil && hints.Limit > 0 && len(out) > hints.Limit {
		out = out[:hints.Limit]
	}
	return out
}

func (q *querier) Close() error { return nil }

type listSeriesSet struct {
	series []storage.Series
	i      int
}

func (s *listSeriesSet) Next() bool                        { s.i++; return s.i < len(s.series) }
func (s *listSeriesSet) At() storage.Series                { return s.series[s.i] }
func (s *listSeriesSet) Err() error                        { return nil }
func (s *listSeriesSet) Warnings() annotations.Annotations { return nil }

// listSeries is a series whose samples were copied out of the store.
type listSeries struct {
	lset    labels.Labels
	samples fsamples
}

func (s *listSeries) Labels() labels.Labels { return s.lset }

// Iterator returns Prometheus' own list iterator over the copied samples.
func (s *listSeries) Iterator(it chunkenc.Iterator) chunkenc.Iterator {
	type resetter interface{ Reset(storage.Samples) }
	if r, ok := it.(resetter); ok {
		r.Reset(s.samples)
		return it
	}
	return storage.NewListSeriesIterator(s.samples)
}

// fsample is one float sample. Its methods have pointer receivers so that
// fsamples.Get hands out a pointer into the slice, which does not allocate.
type fsample struct {
	t int64
	f float64
}

func (s *fsample) T() int64                      { return s.t }
func (s *fsample) ST() int64                     { return 0 }
func (s *fsample) F() float64                    { return s.f }
func (s *fsample) H() *histogram.Histogram       { return nil }
func (s *fsample) FH() *histogram.FloatHistogram { return nil }
func (s *fsample) Type() chunkenc.ValueType      { return chunkenc.ValFloat }
func (s *fsample) Copy() chunks.Sample           { c := *s; return &c }

// fsamples implements storage.Samples without boxing each sample.
type fsamples []fsample

func (s fsamples) Get(i int) chunks.Sample { return &s[i] }
func (s fsamples) Len() int                { return len(s) }
