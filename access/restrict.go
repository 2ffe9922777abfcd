package access

import (
	"context"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/annotations"
)

// Restrict returns a Queryable that sees only what s may read of q. Give it
// to the PromQL engine (and to the series, labels and export handlers) in
// place of the store, once per request.
//
// Every Select, LabelNames and LabelValues call gets s.Matcher() added to
// its matchers, so the store does the narrowing with its index. Every
// series a Select returns is checked again against s, and the values of the
// province label are filtered again, in case a store ignores or mishandles a
// matcher. Label names, and values of other labels, are only as narrow as
// the store makes them with the matcher.
//
// The result implements storage.Queryable only: it does not pass on
// ChunkQueryable or storage.Searcher, so callers that look for those fall
// back to the restricted paths. A scope covering all provinces returns q.
func Restrict(q storage.Queryable, s Scope) storage.Queryable {
	if s.All() {
		return q
	}
	return &restrictedQueryable{q: q, s: s, m: s.Matcher()}
}

type restrictedQueryable struct {
	q storage.Queryable
	s Scope
	m *labels.Matcher
}

func (r *restrictedQueryable) Querier(mint, maxt int64) (storage.Querier, error) {
	q, err := r.q.Querier(mint, maxt)
	if err != nil {
		return nil, err
	}
	return &restrictedQuerier{q: q, s: r.s, m: r.m}, nil
}

type restrictedQuerier struct {
	q storage.Querier
	s Scope
	m *labels.Matcher
}

// with returns the caller's matchers plus the scope's, without touching the
// caller's slice.
func (r *restrictedQuerier) with(ms []*labels.Matcher) []*labels.Matcher {
	out := make([]*labels.Matcher, 0, len(ms)+1)
	return append(append(out, ms...), r.m)
}

func (r *restrictedQuerier) Select(ctx context.Context, sortSeries bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	return &scopedSet{set: r.q.Select(ctx, sortSeries, hints, r.with(ms)...), s: r.s}
}

func (r *restrictedQuerier) LabelValues(ctx context.Context, name string, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	vals, ann, err := r.q.LabelValues(ctx, name, hints, r.with(ms)...)
	if err != nil || name != ProvinceLabel {
		return vals, ann, err
	}
	// The store may own vals (a cache); filter into a new slice.
	allowed := make([]string, 0, len(vals))
	for _, v := range vals {
		if r.s.Allows(v) {
			allowed = append(allowed, v)
		}
	}
	return allowed, ann, nil
}

func (r *restrictedQuerier) LabelNames(ctx context.Context, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return r.q.LabelNames(ctx, hints, r.with(ms)...)
}

func (r *restrictedQuerier) Close() error { return r.q.Close() }

// scopedSet drops series outside the scope. With a store that honours the
// scope's matcher it never drops anything.
type scopedSet struct {
	set storage.SeriesSet
	s   Scope
}

func (s *scopedSet) Next() bool {
	for s.set.Next() {
		if s.s.AllowsLabels(s.set.At().Labels()) {
			return true
		}
	}
	return false
}

func (s *scopedSet) At() storage.Series                { return s.set.At() }
func (s *scopedSet) Err() error                        { return s.set.Err() }
func (s *scopedSet) Warnings() annotations.Annotations { return s.set.Warnings() }
