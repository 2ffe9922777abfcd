package api

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
)

// maxPoints bounds the points per series of a range query, as Prometheus
// does, so that a tiny step over a long range is refused up front.
const maxPoints = 11000

type queryData struct {
	ResultType parser.ValueType `json:"resultType"`
	Result     any              `json:"result"`
}

func (a *API) query(w http.ResponseWriter, r *http.Request) {
	req, ok := a.authorize(w, r)
	if !ok {
		return
	}
	if err := r.ParseForm(); err != nil {
		a.failed(w, req, errorBadData, fmt.Errorf("cannot parse form: %w", err))
		return
	}
	req.rec.Query = r.Form.Get("query")
	ts, err := parseTimeParam(r, "time", time.Now())
	if err != nil {
		a.failed(w, req, errorBadData, err)
		return
	}
	req.rec.Start, req.rec.End = ts, ts
	ctx, cancel, err := a.queryContext(r)
	if err != nil {
		a.failed(w, req, errorBadData, err)
		return
	}
	defer cancel()
	q, err := a.engine.NewInstantQuery(ctx, req.q, nil, req.rec.Query, ts)
	if err != nil {
		a.failed(w, req, errorBadData, err)
		return
	}
	a.exec(ctx, w, req, q)
}

func (a *API) queryRange(w http.ResponseWriter, r *http.Request) {
	req, ok := a.authorize(w, r)
	if !ok {
		return
	}
	if err := r.ParseForm(); err != nil {
		a.failed(w, req, errorBadData, fmt.Errorf("cannot parse form: %w", err))
		return
	}
	req.rec.Query = r.Form.Get("query")
	start, err := parseTime(r.Form.Get("start"))
	if err != nil {
		a.failed(w, req, errorBadData, fmt.Errorf(`invalid parameter "start": %w`, err))
		return
	}
	end, err := parseTime(r.Form.Get("end"))
	if err != nil {
		a.failed(w, req, errorBadData, fmt.Errorf(`invalid parameter "end": %w`, err))
		return
	}
	if end.Before(start) {
		a.failed(w, req, errorBadData, errors.New(`invalid parameter "end": end timestamp must not be before start time`))
		return
	}
	step, err := parseDuration(r.Form.Get("step"))
	if err != nil {
		a.failed(w, req, errorBadData, fmt.Errorf(`invalid parameter "step": %w`, err))
		return
	}
	if step <= 0 {
		a.failed(w, req, errorBadData, errors.New(`invalid parameter "step": zero or negative query resolution step widths are not accepted. Try a positive integer`))
		return
	}
	if end.Sub(start)/step > maxPoints {
		a.failed(w, req, errorBadData, errors.New("exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"))
		return
	}
	req.rec.Start, req.rec.End, req.rec.Step = start, end, step.Seconds()
	ctx, cancel, err := a.queryContext(r)
	if err != nil {
		a.failed(w, req, errorBadData, err)
		return
	}
	defer cancel()
	q, err := a.engine.NewRangeQuery(ctx, req.q, nil, req.rec.Query, start, end, step)
	if err != nil {
		a.failed(w, req, errorBadData, err)
		return
	}
	a.exec(ctx, w, req, q)
}

func (a *API) queryContext(r *http.Request) (context.Context, context.CancelFunc, error) {
	ctx := r.Context()
	if s := r.Form.Get("timeout"); s != "" {
		d, err := parseDuration(s)
		if err != nil {
			return nil, nil, fmt.Errorf(`invalid parameter "timeout": %w`, err)
		}
		ctx, cancel := context.WithTimeout(ctx, d)
		return ctx, cancel, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	return ctx, cancel, nil
}

func (a *API) exec(ctx context.Context, w http.ResponseWriter, req *request, q promql.Query) {
	defer q.Close()
	res := q.Exec(ctx)
	if res.Err != nil {
		a.failed(w, req, classify(res.Err), res.Err)
		return
	}
	warnings, infos := res.Warnings.AsStrings(q.String(), 10, 10)
	req.rec.Series, req.rec.Samples = resultSize(res.Value)
	req.rec.Warnings = len(warnings)
	a.audit(req)
	a.respond(w, queryData{ResultType: res.Value.Type(), Result: jsonValue(res.Value)}, warnings, infos)
}

// resultSize counts the series and samples of a query result, for the audit.
func resultSize(v parser.Value) (series, samples int64) {
	switch v := v.(type) {
	case promql.Matrix:
		for _, s := range v {
			samples += int64(len(s.Floats) + len(s.Histograms))
		}
		return int64(len(v)), samples
	case promql.Vector:
		return int64(len(v)), int64(len(v))
	case promql.Scalar, promql.String:
		return 0, 1
	}
	return 0, 0
}

// jsonValue gives a query result the Prometheus API's JSON shape. A matrix
// needs help: promql.Series has no JSON method of its own for its points.
func jsonValue(v parser.Value) any {
	switch v := v.(type) {
	case promql.Matrix:
		out := make([]matrixSeries, len(v))
		for i, s := range v {
			out[i] = matrixSeries{Metric: s.Metric, Values: s.Floats}
		}
		return out
	case promql.Vector:
		if v == nil {
			return promql.Vector{}
		}
	}
	return v
}

type matrixSeries struct {
	Metric any             `json:"metric"`
	Values []promql.FPoint `json:"values"`
}

// parseTimeParam reads a time parameter, defaulting when it is absent.
func parseTimeParam(r *http.Request, name string, def time.Time) (time.Time, error) {
	s := r.Form.Get(name)
	if s == "" {
		return def, nil
	}
	t, err := parseTime(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid parameter %q: %w", name, err)
	}
	return t, nil
}

// parseTime accepts Unix seconds (with a fraction) or RFC 3339, as
// Prometheus does.
func parseTime(s string) (time.Time, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(math.Round(frac*1e3))*int64(time.Millisecond)).UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("cannot parse %q to a valid timestamp", s)
}

// parseDuration accepts seconds (with a fraction) or a Prometheus duration
// such as 1m30s.
func parseDuration(s string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		d := f * float64(time.Second)
		if d >= math.MaxInt64 || d <= math.MinInt64 {
			return 0, fmt.Errorf("cannot parse %q to a valid duration. It overflows int64", s)
		}
		return time.Duration(d), nil
	}
	if d, err := model.ParseDuration(s); err == nil {
		return time.Duration(d), nil
	}
	return 0, fmt.Errorf("cannot parse %q to a valid duration", s)
}
