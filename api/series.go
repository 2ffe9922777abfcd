package api

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"runtime"
	"slices"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
)

// The widest time range, used when a request names no start or end. The
// bounds leave room so that adding a lookback never overflows.
var (
	minTime = time.UnixMilli(math.MinInt64 / 4)
	maxTime = time.UnixMilli(math.MaxInt64 / 4)
)

// selection is the match[], start and end of a series, labels or export
// request.
type selection struct {
	matchers   [][]*labels.Matcher
	start, end time.Time
}

// selectorParser parses match[] selectors. A parser is stateless and safe
// for concurrent use.
var selectorParser = parser.NewParser(parser.Options{})

func parseSelection(r *http.Request, requireMatch bool) (selection, error) {
	var sel selection
	if err := r.ParseForm(); err != nil {
		return sel, fmt.Errorf("cannot parse form: %w", err)
	}
	var err error
	if sel.start, err = parseTimeParam(r, "start", minTime); err != nil {
		return sel, err
	}
	if sel.end, err = parseTimeParam(r, "end", maxTime); err != nil {
		return sel, err
	}
	if sel.end.Before(sel.start) {
		return sel, errors.New(`invalid parameter "end": end timestamp must not be before start time`)
	}
	for _, m := range r.Form["match[]"] {
		ms, err := selectorParser.ParseMetricSelector(m)
		if err != nil {
			return sel, fmt.Errorf(`invalid parameter "match[]": %w`, err)
		}
		sel.matchers = append(sel.matchers, ms)
	}
	if requireMatch && len(sel.matchers) == 0 {
		return sel, errors.New("no match[] parameter provided")
	}
	return sel, nil
}

func (s selection) String() string {
	out := ""
	for i, ms := range s.matchers {
		if i > 0 {
			out += " "
		}
		out += "{"
		for j, m := range ms {
			if j > 0 {
				out += ","
			}
			out += m.String()
		}
		out += "}"
	}
	return out
}

func (a *API) series(w http.ResponseWriter, r *http.Request) {
	req, ok := a.authorize(w, r)
	if !ok {
		return
	}
	sel, err := parseSelection(r, true)
	if err != nil {
		a.failed(w, req, errorBadData, err)
		return
	}
	req.rec.Query, req.rec.Start, req.rec.End = sel.String(), sel.start, sel.end
	q, err := req.q.Querier(sel.start.UnixMilli(), sel.end.UnixMilli())
	if err != nil {
		a.failed(w, req, errorInternal, err)
		return
	}
	defer q.Close()
	hints := &storage.SelectHints{Start: sel.start.UnixMilli(), End: sel.end.UnixMilli(), Func: "series"}
	seen := map[string]struct{}{}
	out := []labels.Labels{}
	for _, ms := range sel.matchers {
		set := q.Select(r.Context(), false, hints, ms...)
		for set.Next() {
			lset := set.At().Labels()
			key := lset.String()
			if _, dup := seen[key]; dup {
				continue
			}
			if len(out) >= a.opts.MaxSeries {
				a.failed(w, req, errorTooLarge, fmt.Errorf("the selection matches more than %d series; narrow it", a.opts.MaxSeries))
				return
			}
			seen[key] = struct{}{}
			out = append(out, lset)
		}
		if err := set.Err(); err != nil {
			a.failed(w, req, classify(err), err)
			return
		}
	}
	slices.SortFunc(out, labels.Compare)
	req.rec.Series = int64(len(out))
	a.audit(req)
	a.respond(w, out, nil, nil)
}

func (a *API) labelNames(w http.ResponseWriter, r *http.Request) {
	a.labels(w, r, "")
}

func (a *API) labelValues(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !validLabelName(name) {
		a.fail(w, errorBadData, fmt.Errorf("invalid label name: %q", name))
		return
	}
	a.labels(w, r, name)
}

// labels answers /api/v1/labels (name "") and /api/v1/label/<name>/values.
func (a *API) labels(w http.ResponseWriter, r *http.Request, name string) {
	req, ok := a.authorize(w, r)
	if !ok {
		return
	}
	sel, err := parseSelection(r, false)
	if err != nil {
		a.failed(w, req, errorBadData, err)
		return
	}
	req.rec.Query, req.rec.Start, req.rec.End = sel.String(), sel.start, sel.end
	if name != "" {
		req.rec.Query = "values of " + name + " " + req.rec.Query
	}
	q, err := req.q.Querier(sel.start.UnixMilli(), sel.end.UnixMilli())
	if err != nil {
		a.failed(w, req, errorInternal, err)
		return
	}
	defer q.Close()
	sets := sel.matchers
	if len(sets) == 0 {
		sets = [][]*labels.Matcher{nil}
	}
	seen := map[string]struct{}{}
	for _, ms := range sets {
		var vals []string
		if name == "" {
			vals, _, err = q.LabelNames(r.Context(), nil, ms...)
		} else {
			vals, _, err = q.LabelValues(r.Context(), name, nil, ms...)
		}
		if err != nil {
			a.failed(w, req, classify(err), err)
			return
		}
		for _, v := range vals {
			seen[v] = struct{}{}
		}
	}
	out := make([]string, 0, len(seen))
	for v := range seen {
		out = append(out, v)
	}
	slices.Sort(out)
	if s := r.Form.Get("limit"); s != "" {
		var n int
		if _, err := fmt.Sscanf(s, "%d", &n); err != nil || n < 0 {
			a.failed(w, req, errorBadData, fmt.Errorf(`invalid parameter "limit": %q`, s))
			return
		}
		if n > 0 && len(out) > n {
			out = out[:n]
		}
	}
	req.rec.Samples = int64(len(out))
	a.audit(req)
	a.respond(w, out, nil, nil)
}

// validLabelName reports whether name is a legal Prometheus label name
// in the classic charset, which is the only one the store admits.
func validLabelName(name string) bool {
	if name == "" {
		return false
	}
	for i, c := range name {
		if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// metadata answers with no metric metadata: gateways send none today.
func (a *API) metadata(w http.ResponseWriter, r *http.Request) {
	if _, ok := a.authorize(w, r); !ok {
		return
	}
	a.respond(w, map[string]any{}, nil, nil)
}

func (a *API) exemplars(w http.ResponseWriter, r *http.Request) {
	if _, ok := a.authorize(w, r); !ok {
		return
	}
	a.respond(w, []any{}, nil, nil)
}

func (a *API) rules(w http.ResponseWriter, r *http.Request) {
	if _, ok := a.authorize(w, r); !ok {
		return
	}
	a.respond(w, map[string]any{"groups": []any{}}, nil, nil)
}

// buildInfo answers in Prometheus' shape. It needs no token: it says nothing
// about the data, and Grafana asks for it before it has one configured.
func (a *API) buildInfo(w http.ResponseWriter, _ *http.Request) {
	a.respond(w, map[string]string{
		"version":   a.opts.Version,
		"revision":  "",
		"branch":    "",
		"buildUser": "",
		"buildDate": "",
		"goVersion": runtime.Version(),
	}, nil, nil)
}
