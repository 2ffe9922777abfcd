package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/stretchr/testify/require"

	"github.com/quantrac/quantrac/access"
	"github.com/quantrac/quantrac/tsdb"
)

// base is the start of the test data: one hour of samples a minute apart.
var base = time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)

type fixture struct {
	srv    *httptest.Server
	tokens string // tokens file
	audit  *bytes.Buffer
	reload func() error
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newFixture loads two provinces' data into a real store and serves the API
// over it.
func newFixture(t *testing.T, anonymous bool) *fixture {
	t.Helper()
	db, err := tsdb.Open(tsdb.Options{Dir: t.TempDir(), Logger: quiet()})
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	var b tsdb.Batch
	for _, p := range []struct{ prov, gw string }{{"ha-noi", "hn-gw-001"}, {"hue", "hu-gw-001"}} {
		for d := range 2 {
			for _, m := range []string{"air_temperature_celsius", "relative_humidity_percent"} {
				ref, err := db.GetOrCreate(labels.FromStrings("__name__", m, "province", p.prov,
					"gateway", p.gw, "device", fmt.Sprintf("aws-%d", d)))
				require.NoError(t, err)
				for i := range 60 {
					b.Add(ref, base.Add(time.Duration(i)*time.Minute).UnixMilli(), float64(20+d)+float64(i)/10)
				}
			}
		}
	}
	c, err := db.Append(&b)
	require.NoError(t, err)
	require.NoError(t, c.Wait())

	f := &fixture{tokens: filepath.Join(t.TempDir(), "tokens.json"), audit: &bytes.Buffer{}}
	_, _, err = access.AddToken(f.tokens, access.AddRequest{Name: "bootstrap", Provinces: []string{"*"}}, time.Now())
	require.NoError(t, err)
	auth, err := access.NewAuthenticator(f.tokens, quiet())
	require.NoError(t, err)
	a, err := New(Options{Queryable: db, Logger: quiet(), Tokens: auth, AllowAnonymous: anonymous,
		Audit: access.NewAuditLog(f.audit), Version: "test"})
	require.NoError(t, err)
	mux := http.NewServeMux()
	a.Register(mux)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	f.reload = auth.Reload
	return f
}

func (f *fixture) addToken(t *testing.T, name string, provinces []string, export bool) string {
	t.Helper()
	tok, _, err := access.AddToken(f.tokens, access.AddRequest{Name: name, Provinces: provinces, Export: export}, time.Now())
	require.NoError(t, err)
	require.NoError(t, f.reload())
	return tok
}

// get sends a GET (or a POST of the form when form is set) and returns the
// status and body.
func (f *fixture) do(t *testing.T, token, method, path string, form url.Values) (int, []byte) {
	t.Helper()
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, f.srv.URL+path, body)
	require.NoError(t, err)
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b
}

func (f *fixture) get(t *testing.T, token, path string) (int, []byte) {
	return f.do(t, token, http.MethodGet, path, nil)
}

func sec(t time.Time) string { return fmt.Sprintf("%d", t.Unix()) }

func TestGrafanaRequestsInPrometheusShapes(t *testing.T) {
	f := newFixture(t, true)
	end := base.Add(59 * time.Minute)
	tests := []struct {
		name, path string
		status     int
		want       string
	}{
		{"health check 1+1", "/api/v1/query?query=1%2B1&time=@T0@", 200,
			`{"status":"success","data":{"resultType":"scalar","result":[@T0@,"2"]}}`},
		{"label names", "/api/v1/labels", 200,
			`{"status":"success","data":["__name__","device","gateway","province"]}`},
		{"metric names", "/api/v1/label/__name__/values", 200,
			`{"status":"success","data":["air_temperature_celsius","relative_humidity_percent"]}`},
		{"label values with match[]", "/api/v1/label/device/values?match[]=" + url.QueryEscape(`air_temperature_celsius{province="hue"}`) +
			"&start=" + sec(base) + "&end=" + sec(end), 200, `{"status":"success","data":["aws-0","aws-1"]}`},
		{"instant vector", "/api/v1/query?query=" + url.QueryEscape(`air_temperature_celsius{province="ha-noi",device="aws-1"}`) + "&time=" + sec(end), 200,
			`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"air_temperature_celsius","device":"aws-1","gateway":"hn-gw-001","province":"ha-noi"},"value":[@TEND@,"26.9"]}]}}`},
		{"range query", "/api/v1/query_range?query=" + url.QueryEscape(`sum by (province) (air_temperature_celsius)`) +
			"&start=" + sec(base) + "&end=" + sec(base.Add(2*time.Minute)) + "&step=60", 200,
			`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"province":"ha-noi"},"values":[[@T0@,"41"],[@T1@,"41.2"],[@T2@,"41.4"]]},{"metric":{"province":"hue"},"values":[[@T0@,"41"],[@T1@,"41.2"],[@T2@,"41.4"]]}]}}`},
		{"series", "/api/v1/series?match[]=" + url.QueryEscape(`relative_humidity_percent{device="aws-0"}`), 200,
			`{"status":"success","data":[{"__name__":"relative_humidity_percent","device":"aws-0","gateway":"hn-gw-001","province":"ha-noi"},{"__name__":"relative_humidity_percent","device":"aws-0","gateway":"hu-gw-001","province":"hue"}]}`},
		{"metadata", "/api/v1/metadata", 200, `{"status":"success","data":{}}`},
		{"exemplars", "/api/v1/query_exemplars?query=up", 200, `{"status":"success","data":[]}`},
		{"rules", "/api/v1/rules", 200, `{"status":"success","data":{"groups":[]}}`},
		{"bad query", "/api/v1/query?query=sum(", 400, `"errorType":"bad_data"`},
		{"bad step", "/api/v1/query_range?query=up&start=0&end=10&step=0", 400, `"errorType":"bad_data"`},
		{"too many points", "/api/v1/query_range?query=up&start=0&end=100000&step=1", 400, `"errorType":"bad_data"`},
		{"series needs match[]", "/api/v1/series", 400, `"error":"no match[] parameter provided"`},
	}
	// Timestamps in the expected bodies are written as @T0@ (base), @T1@
	// and @T2@ (a minute and two later) and @TEND@ (the last sample).
	times := strings.NewReplacer("@T0@", sec(base), "@T1@", sec(base.Add(time.Minute)),
		"@T2@", sec(base.Add(2*time.Minute)), "@TEND@", sec(end))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.path, tc.want = times.Replace(tc.path), times.Replace(tc.want)
			status, body := f.get(t, "", tc.path)
			require.Equal(t, tc.status, status, string(body))
			if tc.status == 200 {
				require.JSONEq(t, tc.want, string(body))
			} else {
				require.Contains(t, string(body), tc.want)
				require.Contains(t, string(body), `"status":"error"`)
			}
		})
	}

	// Grafana sends range queries as POST forms.
	status, body := f.do(t, "", http.MethodPost, "/api/v1/query_range", url.Values{
		"query": {`max(relative_humidity_percent)`}, "start": {sec(base)}, "end": {sec(base)}, "step": {"15"}})
	require.Equal(t, 200, status, string(body))
	require.JSONEq(t, times.Replace(`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[@T0@,"21"]]}]}}`), string(body))

	status, body = f.get(t, "", "/api/v1/status/buildinfo")
	require.Equal(t, 200, status)
	require.Contains(t, string(body), `"version":"test"`)
}

func TestQueryLimits(t *testing.T) {
	a, err := New(Options{Queryable: nil})
	require.Error(t, err)
	require.Nil(t, a)
	// A query over the sample limit fails as an execution error, 422.
	lim, err := New(Options{Queryable: smallStore(t), Logger: quiet(), AllowAnonymous: true, MaxSamples: 10})
	require.NoError(t, err)
	mux := http.NewServeMux()
	lim.Register(mux)
	s := httptest.NewServer(mux)
	defer s.Close()
	resp, err := http.Get(s.URL + "/api/v1/query?query=" + url.QueryEscape("air_temperature_celsius[1h]") + "&time=" + sec(base.Add(time.Hour)))
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, string(b))
	require.Contains(t, string(b), `"errorType":"execution"`)
	require.Contains(t, string(b), "too many samples")
}

// smallStore is a store with one series of 60 samples.
func smallStore(t *testing.T) *tsdb.DB {
	db, err := tsdb.Open(tsdb.Options{Dir: t.TempDir(), Logger: quiet()})
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	ref, err := db.GetOrCreate(labels.FromStrings("__name__", "air_temperature_celsius", "province", "hue"))
	require.NoError(t, err)
	var b tsdb.Batch
	for i := range 60 {
		b.Add(ref, base.Add(time.Duration(i)*time.Minute).UnixMilli(), float64(i))
	}
	c, err := db.Append(&b)
	require.NoError(t, err)
	require.NoError(t, c.Wait())
	return db
}

type point struct {
	labels string
	ts     int64
	v      float64
}

func TestExportParquetEqualsQuery(t *testing.T) {
	f := newFixture(t, false)
	tok := f.addToken(t, "analyst", []string{"*"}, true)
	sel := `air_temperature_celsius{device="aws-1"}`
	start, end := base, base.Add(59*time.Minute)

	status, body := f.get(t, tok, "/api/v1/export?format=parquet&match[]="+url.QueryEscape(sel)+"&start="+sec(start)+"&end="+sec(end))
	require.Equal(t, 200, status, string(body))
	tbl, err := pqarrow.ReadTable(context.Background(), bytes.NewReader(body), nil, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	require.NoError(t, err)
	defer tbl.Release()
	var got []point
	tr := array.NewTableReader(tbl, 1024)
	defer tr.Release()
	for tr.Next() {
		rec := tr.RecordBatch()
		cols := map[string]arrow.Array{}
		for i, fld := range rec.Schema().Fields() {
			cols[fld.Name] = rec.Column(i)
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			lb := labels.NewScratchBuilder(4)
			for _, name := range []string{"metric", "province", "gateway", "device"} {
				lb.Add(name, cols[name].ValueStr(i))
			}
			lb.Sort()
			got = append(got, point{lb.Labels().String(), int64(cols["timestamp"].(*array.Timestamp).Value(i)),
				cols["value"].(*array.Float64).Value(i)})
		}
	}

	// The same selection through the query API: a range selector returns
	// the raw samples.
	status, body = f.get(t, tok, "/api/v1/query?query="+url.QueryEscape(sel+"[1h]")+"&time="+sec(end))
	require.Equal(t, 200, status, string(body))
	var qr struct {
		Data struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Values [][2]any          `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(body, &qr))
	var want []point
	for _, s := range qr.Data.Result {
		s.Metric["metric"] = s.Metric["__name__"]
		delete(s.Metric, "__name__")
		l := labels.FromMap(s.Metric).String()
		for _, v := range s.Values {
			var f float64
			_, err := fmt.Sscan(v[1].(string), &f)
			require.NoError(t, err)
			want = append(want, point{l, int64(v[0].(float64) * 1000), f})
		}
	}
	sortPoints(got)
	sortPoints(want)
	require.Len(t, want, 120)
	require.Equal(t, want, got)
	require.Contains(t, f.audit.String(), `"endpoint":"/api/v1/export"`)
	require.Contains(t, f.audit.String(), `"samples":120`)
}

func sortPoints(p []point) {
	sort.Slice(p, func(i, j int) bool {
		if p[i].labels != p[j].labels {
			return p[i].labels < p[j].labels
		}
		return p[i].ts < p[j].ts
	})
}
