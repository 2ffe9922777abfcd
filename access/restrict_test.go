package access

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// twoProvinces holds Hà Nội and Đà Nẵng series, one series without a
// province and one whose province only starts like ha-noi. Values tell the
// owners apart whatever a query does to the labels: Hà Nội's are in
// [100, 200), everyone else's at 500 or more.
func twoProvinces() *memStore {
	m := &memStore{}
	add := func(base float64, kv ...string) {
		var samples []fSample
		for i := range 120 { // 30 minutes at 15 s
			samples = append(samples, fSample{t: t0.Add(time.Duration(i) * 15 * time.Second).UnixMilli(), f: base + float64(i%40)})
		}
		m.add(labels.FromStrings(kv...), samples...)
	}
	add(100, "__name__", "air_temperature_celsius", "province", "ha-noi", "gateway", "hn-gw-1", "device", "aws-1")
	add(150, "__name__", "air_temperature_celsius", "province", "ha-noi", "gateway", "hn-gw-2", "device", "aws-2")
	add(900, "__name__", "air_temperature_celsius", "province", "da-nang", "gateway", "dn-gw-1", "device", "aws-3")
	add(950, "__name__", "water_level_m", "province", "da-nang", "gateway", "dn-gw-1", "river", "han")
	add(500, "__name__", "orphan_metric", "gateway", "nowhere")
	add(700, "__name__", "air_temperature_celsius", "province", "ha-noix", "gateway", "x")
	return m
}

func newEngine() *promql.Engine {
	return promql.NewEngine(promql.EngineOpts{
		MaxSamples:               1_000_000,
		Timeout:                  time.Minute,
		LookbackDelta:            5 * time.Minute,
		EnableAtModifier:         true,
		EnableNegativeOffset:     true,
		NoStepSubqueryIntervalFn: func(int64) int64 { return time.Minute.Milliseconds() },
	})
}

// evaluate runs qs as an instant query at t0+20m and as a range query over
// the 30 minutes, and returns both results in a canonical text form.
func evaluate(t *testing.T, ng *promql.Engine, q storage.Queryable, qs string) string {
	t.Helper()
	ctx := context.Background()
	inst, err := ng.NewInstantQuery(ctx, q, nil, qs, t0.Add(20*time.Minute))
	require.NoError(t, err, qs)
	ir := inst.Exec(ctx)
	rng, err := ng.NewRangeQuery(ctx, q, nil, qs, t0, t0.Add(30*time.Minute), time.Minute)
	require.NoError(t, err, qs)
	rr := rng.Exec(ctx)
	return canonical(ir) + "\n--- range ---\n" + canonical(rr)
}

func canonical(r *promql.Result) string {
	if r.Err != nil {
		return "error: " + r.Err.Error()
	}
	var lines []string
	switch v := r.Value.(type) {
	case promql.Vector:
		for _, s := range v {
			lines = append(lines, fmt.Sprintf("%s => %g @%d", s.Metric, s.F, s.T))
		}
	case promql.Matrix:
		for _, s := range v {
			lines = append(lines, fmt.Sprintf("%s => %v", s.Metric, s.Floats))
		}
	default:
		lines = append(lines, v.String())
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// TestRestrictEngine runs queries that try to reach Đà Nẵng's data, or to
// learn that it exists, with a Hà Nội token. Each must give exactly what it
// gives on a store that holds only Hà Nội's series; most would give more on
// the full store, which shows the query is a real attempt.
func TestRestrictEngine(t *testing.T) {
	queries := []struct {
		q     string
		leaks bool // whether the query sees more on the unrestricted store
	}{
		{`{province=~".+"}`, true},
		{`{__name__=~".+"}`, true},
		{`{__name__=~".+", province=""}`, true},
		{`air_temperature_celsius{province!="x"}`, true},
		{`air_temperature_celsius{province="da-nang"}`, true},
		{`air_temperature_celsius{province=~"ha-noi.*"}`, true},
		{`air_temperature_celsius{province="ha-noi"} or air_temperature_celsius{province="da-nang"}`, true},
		{`label_replace(air_temperature_celsius{province="da-nang"}, "province", "ha-noi", "province", ".*")`, true},
		{`label_replace({__name__=~".+"}, "province", "ha-noi", "", "")`, true},
		{`absent(air_temperature_celsius{province="da-nang"})`, true},
		{`absent(water_level_m)`, true},
		{`absent_over_time(water_level_m[30m])`, true},
		{`count by (province) ({__name__=~".+"})`, true},
		{`group by (province, river) ({__name__=~".+"})`, true},
		{`count({province=~"ha-noi|da-nang"})`, true},
		{`sum(air_temperature_celsius offset 5m)`, true},
		{`sum(air_temperature_celsius offset -5m)`, true},
		{`max_over_time(air_temperature_celsius[10m:1m])`, true},
		{`max_over_time({__name__=~".+"}[10m:])`, true},
		{`sum without (province) (rate(air_temperature_celsius[5m]))`, true},
		{`water_level_m`, true},
		{`air_temperature_celsius and on() water_level_m`, true},
		{`air_temperature_celsius unless on() water_level_m`, true},
		{`topk(1, {__name__=~".+"})`, true},
		{`count_values("v", {__name__=~".+"})`, true},
		{`timestamp({province=~"da.*"})`, true},
		{`{province="da-nang"} @ end()`, true},
		{`vector(1) * on() group_left() count({__name__=~".+"})`, true},
		{`sum(air_temperature_celsius)`, true},
		{`scalar(count(water_level_m))`, true},
	}
	full := twoProvinces()
	hanoi := full.only(func(l labels.Labels) bool { return l.Get("province") == "ha-noi" })
	scope, err := NewScope("moet-hanoi", []string{"ha-noi"}, false)
	require.NoError(t, err)
	ng := newEngine()
	for _, leaky := range []bool{false, true} {
		for _, tc := range queries {
			t.Run(fmt.Sprintf("leaky=%t/%s", leaky, tc.q), func(t *testing.T) {
				store := twoProvinces()
				store.leaky = leaky
				got := evaluate(t, ng, Restrict(store, scope), tc.q)
				// A leaky store answers every selection with all it has, so
				// its ground truth is a leaky store of Hà Nội's series.
				ref := *hanoi
				ref.leaky = leaky
				want := evaluate(t, ng, &ref, tc.q)
				require.Equal(t, want, got)
				require.NotContains(t, got, "error:")
				if tc.leaks && !leaky {
					require.NotEqual(t, evaluate(t, ng, full, tc.q), got, "query does not reach other data even unrestricted")
				}
				if !leaky {
					for _, ms := range store.selects {
						require.Contains(t, ms, scope.Matcher(), "every selection carries the scope's matcher")
					}
				}
			})
		}
	}
}

// TestRestrictLabels checks the label name and value lookups behind
// /api/v1/labels and /api/v1/label/<name>/values.
func TestRestrictLabels(t *testing.T) {
	scope, err := NewScope("moet-hanoi", []string{"ha-noi"}, true)
	require.NoError(t, err)
	ctx := context.Background()
	dn := labels.MustNewMatcher(labels.MatchEqual, "province", "da-nang")
	any := labels.MustNewMatcher(labels.MatchRegexp, "__name__", ".+")

	q, err := Restrict(twoProvinces(), scope).Querier(t0.UnixMilli(), t0.Add(time.Hour).UnixMilli())
	require.NoError(t, err)
	defer q.Close()
	tests := []struct {
		name string
		got  func() ([]string, error)
		want []string
	}{
		{"province values", func() ([]string, error) { v, _, err := q.LabelValues(ctx, "province", nil); return v, err }, []string{"ha-noi"}},
		{"province values da-nang", func() ([]string, error) { v, _, err := q.LabelValues(ctx, "province", nil, dn); return v, err }, []string{}},
		{"metric names", func() ([]string, error) { v, _, err := q.LabelValues(ctx, "__name__", nil, any); return v, err }, []string{"air_temperature_celsius"}},
		{"gateway values", func() ([]string, error) { v, _, err := q.LabelValues(ctx, "gateway", nil); return v, err }, []string{"hn-gw-1", "hn-gw-2"}},
		{"river values", func() ([]string, error) { v, _, err := q.LabelValues(ctx, "river", nil); return v, err }, nil},
		{"label names", func() ([]string, error) { v, _, err := q.LabelNames(ctx, nil); return v, err }, []string{"__name__", "device", "gateway", "province"}},
		{"label names da-nang", func() ([]string, error) { v, _, err := q.LabelNames(ctx, nil, dn); return v, err }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.got()
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}

	// A store that ignores matchers still cannot name another province.
	leaky := twoProvinces()
	leaky.leaky = true
	lq, err := Restrict(leaky, scope).Querier(0, t0.Add(time.Hour).UnixMilli())
	require.NoError(t, err)
	vals, _, err := lq.LabelValues(ctx, "province", nil)
	require.NoError(t, err)
	require.Equal(t, []string{"ha-noi"}, vals)
}

func TestRestrictMultipleAndAll(t *testing.T) {
	ng := newEngine()
	q := `count by (province) ({__name__=~".+"})`
	both, err := NewScope("moet", []string{"da-nang", "ha-noi"}, false)
	require.NoError(t, err)
	got := evaluate(t, ng, Restrict(twoProvinces(), both), q)
	want := evaluate(t, ng, twoProvinces().only(func(l labels.Labels) bool {
		p := l.Get("province")
		return p == "ha-noi" || p == "da-nang"
	}), q)
	require.Equal(t, want, got)
	require.Contains(t, got, `{province="da-nang"} => 2`)

	store := twoProvinces()
	require.Same(t, store, Restrict(store, FullScope("operator")), "a full scope does not wrap")
	var none Scope
	got = evaluate(t, ng, Restrict(twoProvinces(), none), `{__name__=~".+"}`)
	require.Equal(t, "\n--- range ---\n", got, "the zero scope reads nothing")
}
