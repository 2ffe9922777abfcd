package tsdb

import (
	"context"
	"slices"
	"sync"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/util/annotations"
	"github.com/quantrac/quantrac/tsdb/part"
)

// Querier returns a storage.Querier over [mint, maxt], so a DB is a
// storage.Queryable for the Prometheus engine. The querier holds the parts
// its Selects read until Close.
func (db *DB) Querier(mint, maxt int64) (storage.Querier, error) {
	return &querier{db: db, mint: mint, maxt: maxt}, nil
}

type querier struct {
	db         *DB
	mint, maxt int64

	mu struct {
		sync.Mutex
		held []*partRef // acquired by Selects, released by Close
	}
}

// Select returns the series that match every matcher and have samples in
// the querier's range (narrowed by hints), with their samples merged from
// the head, the frozen head and the parts. The index finds the series;
// parts are searched through their block index, and only blocks that
// overlap the range are read, one at a time, as the iterator reaches them.
// Series are sorted by labels when sortSeries is set, in ref order
// otherwise.
func (q *querier) Select(ctx context.Context, sortSeries bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	mint, maxt := q.mint, q.maxt
	if hints != nil {
		mint, maxt = max(mint, hints.Start), min(maxt, hints.End)
	}
	if mint > maxt {
		return storage.EmptySeriesSet()
	}
	refs := q.db.index.Select(ms...)
	if len(refs) == 0 {
		return storage.EmptySeriesSet()
	}
	metaOnly := hints != nil && hints.Func == "series"
	series, parts, err := q.db.collect(ctx, refs, mint, maxt, metaOnly)
	q.mu.Lock()
	q.mu.held = append(q.mu.held, parts...)
	q.mu.Unlock()
	if err != nil {
		return storage.ErrSeriesSet(err)
	}
	if sortSeries {
		slices.SortFunc(series, func(a, b *qseries) int { return labels.Compare(a.lset, b.lset) })
	}
	return &qseriesSet{series: series, i: -1}
}

// collect gathers, for each ref, what the head, the frozen head and every
// part overlapping [mint, maxt] hold of it. It returns the series with any
// data in the range and the parts it acquired.
func (db *DB) collect(ctx context.Context, refs []uint64, mint, maxt int64, metaOnly bool) ([]*qseries, []*partRef, error) {
	out := make([]*qseries, len(refs))
	db.state.RLock()
	parts := db.snapshotPartsLocked(mint, maxt, nil)
	frozen := db.state.frozen
	for i, ref := range refs {
		s := db.series.get(SeriesRef(ref))
		qs := &qseries{lset: s.lset}
		qs.head = s.samples(mint, maxt, nil)
		if frozen != nil {
			qs.frozenTS, qs.frozenVals = frozen.lookup(s.ref, mint, maxt)
		}
		out[i] = qs
	}
	db.state.RUnlock()

	for _, p := range parts {
		cur := p.r.NewCursor()
		for i, ref := range refs {
			if i%1024 == 0 {
				if err := ctx.Err(); err != nil {
					return nil, parts, err
				}
			}
			blocks, err := cur.Find(ref)
			if err != nil {
				return nil, parts, err
			}
			for _, b := range blocks {
				if b.MaxT >= mint && b.MinT <= maxt {
					out[i].blocks = append(out[i].blocks, qblock{r: p.r, meta: b, prio: p.info.MaxSeq})
				}
			}
		}
	}
	keep := out[:0]
	for _, qs := range out {
		if len(qs.head) == 0 && len(qs.frozenTS) == 0 && len(qs.blocks) == 0 {
			continue
		}
		if metaOnly {
			qs.head, qs.frozenTS, qs.frozenVals, qs.blocks = nil, nil, nil, nil
		}
		qs.mint, qs.maxt = mint, maxt
		keep = append(keep, qs)
	}
	return keep, parts, nil
}

// LabelValues returns the sorted values of name among the series that match
// ms; with no matchers, straight from the index. It answers over every
// series the store knows, whatever the querier's time range.
func (q *querier) LabelValues(_ context.Context, name string, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	if len(ms) == 0 {
		return limit(q.db.index.Values(name), hints), nil, nil
	}
	seen := map[string]struct{}{}
	for _, ref := range q.db.index.Select(ms...) {
		if v := q.db.series.get(SeriesRef(ref)).lset.Get(name); v != "" {
			seen[v] = struct{}{}
		}
	}
	return limit(sortedKeys(seen), hints), nil, nil
}

// LabelNames returns the sorted label names of the series that match ms;
// with no matchers, straight from the index.
func (q *querier) LabelNames(_ context.Context, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	if len(ms) == 0 {
		return limit(q.db.index.Names(), hints), nil, nil
	}
	seen := map[string]struct{}{}
	for _, ref := range q.db.index.Select(ms...) {
		q.db.series.get(SeriesRef(ref)).lset.Range(func(l labels.Label) { seen[l.Name] = struct{}{} })
	}
	return limit(sortedKeys(seen), hints), nil, nil
}

func sortedKeys(set map[string]struct{}) []string {
	out := make([]string, 0, len(set))
	for v := range set {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

func limit(vals []string, hints *storage.LabelHints) []string {
	if hints != nil && hints.Limit > 0 && len(vals) > hints.Limit {
		return vals[:hints.Limit]
	}
	return vals
}

// Close releases the parts the querier's Selects read.
func (q *querier) Close() error {
	q.mu.Lock()
	held := q.mu.held
	q.mu.held = nil
	q.mu.Unlock()
	for _, p := range held {
		p.release()
	}
	return nil
}

// qseriesSet is the result of a Select.
type qseriesSet struct {
	series []*qseries
	i      int
}

func (s *qseriesSet) Next() bool                        { s.i++; return s.i < len(s.series) }
func (s *qseriesSet) At() storage.Series                { return s.series[s.i] }
func (s *qseriesSet) Err() error                        { return nil }
func (s *qseriesSet) Warnings() annotations.Annotations { return nil }

// qseries is one selected series: its head and frozen samples (copied or
// shared, both small) and the part blocks that overlap the range (located,
// not read).
type qseries struct {
	lset       labels.Labels
	mint, maxt int64
	head       fsamples
	frozenTS   []int64
	frozenVals []float64
	blocks     []qblock
}

// qblock is a block of a part, with the part's priority: on an equal
// timestamp the block of the part with the higher sequence wins.
type qblock struct {
	r    *part.Reader
	meta part.BlockMeta
	prio uint64
}

func (s *qseries) Labels() labels.Labels { return s.lset }

// fsample is one float sample. Its methods have pointer receivers so that
// handing out a pointer into a slice does not allocate.
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

// fsamples implements storage.Samples and chunkenc.Iterable over samples in
// memory, without boxing each sample.
type fsamples []fsample

func (s fsamples) Get(i int) chunks.Sample { return &s[i] }
func (s fsamples) Len() int                { return len(s) }

// Iterator returns Prometheus' list iterator over s.
func (s fsamples) Iterator(chunkenc.Iterator) chunkenc.Iterator {
	return storage.NewListSeriesIterator(s)
}
