package server

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
	"github.com/stretchr/testify/require"

	"github.com/quantrac/quantrac/access"
)

// startWithTokens starts a node outside development mode with a tokens file.
func startWithTokens(t *testing.T, reqs ...access.AddRequest) (*Server, []string) {
	t.Helper()
	dir := t.TempDir()
	var toks []string
	for _, r := range reqs {
		tok, _, err := access.AddToken(filepath.Join(dir, "tokens.json"), r, time.Now())
		require.NoError(t, err)
		toks = append(toks, tok)
	}
	srv, err := Start(Options{DataDir: dir, MQTTAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	return srv, toks
}

func post(t *testing.T, url, auth string, body []byte, headers ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// queryAs runs an instant query with a read token.
func queryAs(t *testing.T, srv *Server, token, q string, at int64) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("http://%s/api/v1/query?query=%s&time=%.3f",
		srv.HTTPAddr(), urlEscape(q), float64(at)/1000), nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	require.Equal(t, 200, resp.StatusCode, string(b))
	return string(b)
}

func TestInfluxLineProtocolOverHTTP(t *testing.T) {
	srv, toks := startWithTokens(t,
		access.AddRequest{Name: "reader", Provinces: []string{"*"}},
		access.AddRequest{Name: "hn-gw-010", Provinces: []string{"ha-noi"}, Write: &access.WriteGrant{Gateway: "hn-gw-010"}},
		access.AddRequest{Name: "relay", Provinces: []string{"*"}, Write: &access.WriteGrant{Relay: true}},
	)
	reader, gw, relay := toks[0], toks[1], toks[2]
	base := "http://" + srv.HTTPAddr()
	ts := time.Now().Add(-time.Minute).Truncate(time.Second)

	// v2 with seconds precision and the Influx clients' Token scheme.
	code, body := post(t, base+"/api/v2/write?org=x&bucket=y&precision=s", "Token "+gw,
		fmt.Appendf(nil, "weather,device=aws-1 air_temperature_celsius=24.5 %d\n", ts.Unix()))
	require.Equal(t, http.StatusNoContent, code, body)
	require.Contains(t, queryAs(t, srv, reader, `weather_air_temperature_celsius{gateway="hn-gw-010",province="ha-noi",device="aws-1"}`, ts.UnixMilli()), `"24.5"`)

	// v1, gzip, milliseconds, basic authentication.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	fmt.Fprintf(zw, "river,device=wl-2 water_level_meters=1.75 %d\n", ts.UnixMilli()+1000)
	require.NoError(t, zw.Close())
	req, _ := http.NewRequest(http.MethodPost, base+"/influx/write?db=x&precision=ms", &gz)
	req.SetBasicAuth("hn-gw-010", gw)
	req.Header.Set("Content-Encoding", "gzip")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	require.Contains(t, queryAs(t, srv, reader, `river_water_level_meters`, ts.UnixMilli()+1000), `"1.75"`)

	// A partial write keeps the good line and says what it refused.
	code, body = post(t, base+"/api/v2/write?precision=s", "Token "+gw,
		fmt.Appendf(nil, "m,device=a value=1 %d\nm,device=a value=oops %d\n", ts.Unix(), ts.Unix()))
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, body, "partial write: 1 stored, 1 refused")

	// Refusals: no token, a read token, a relay token on line protocol,
	// garbage, an unknown precision.
	line := fmt.Appendf(nil, "m value=1 %d\n", ts.Unix())
	for _, c := range []struct {
		auth, path string
		body       []byte
		status     int
	}{
		{"", "/api/v2/write?precision=s", line, http.StatusUnauthorized},
		{"Token " + reader, "/api/v2/write?precision=s", line, http.StatusUnauthorized},
		{"Token " + relay, "/api/v2/write?precision=s", line, http.StatusForbidden},
		{"Token " + gw, "/api/v2/write?precision=s", []byte("\x00\x01 not line protocol"), http.StatusBadRequest},
		{"Token " + gw, "/api/v2/write?precision=fortnight", line, http.StatusBadRequest},
	} {
		code, body := post(t, base+c.path, c.auth, c.body)
		require.Equal(t, c.status, code, "%s %s: %s", c.auth, c.path, body)
	}
}

func remoteWriteBody(t *testing.T, series ...prompb.TimeSeries) []byte {
	t.Helper()
	raw, err := (&prompb.WriteRequest{Timeseries: series}).Marshal()
	require.NoError(t, err)
	return snappy.Encode(nil, raw)
}

func series(name, prov, gw string, ts int64, v float64) prompb.TimeSeries {
	return prompb.TimeSeries{
		Labels:  []prompb.Label{{Name: "__name__", Value: name}, {Name: "device", Value: "d1"}, {Name: "gateway", Value: gw}, {Name: "province", Value: prov}},
		Samples: []prompb.Sample{{Timestamp: ts, Value: v}},
	}
}

func TestRemoteWriteRelay(t *testing.T) {
	srv, toks := startWithTokens(t,
		access.AddRequest{Name: "reader", Provinces: []string{"*"}},
		access.AddRequest{Name: "north-node", Provinces: []string{"ha-noi", "lao-cai"}, Write: &access.WriteGrant{Relay: true}},
	)
	reader, relay := toks[0], toks[1]
	url := "http://" + srv.HTTPAddr() + "/api/v1/write"
	ts := time.Now().Add(-time.Minute).UnixMilli()
	hdr := []string{"Content-Encoding", "snappy", "Content-Type", "application/x-protobuf", "X-Prometheus-Remote-Write-Version", "0.1.0"}

	code, body := post(t, url, "Bearer "+relay, remoteWriteBody(t,
		series("rainfall_mm", "lao-cai", "lk-gw-003", ts, 12.4),
		series("rainfall_mm", "ha-noi", "hn-gw-001", ts, 0.2)), hdr...)
	require.Equal(t, http.StatusNoContent, code, body)
	got := queryAs(t, srv, reader, `rainfall_mm`, ts)
	require.Contains(t, got, `"province":"lao-cai"`)
	require.Contains(t, got, `"gateway":"lk-gw-003"`)
	require.Contains(t, got, `"12.4"`)

	// A province outside the relay's grant is refused; the allowed series
	// beside it is kept.
	code, body = post(t, url, "Bearer "+relay, remoteWriteBody(t,
		series("rainfall_mm", "ca-mau", "cm-gw-001", ts+1000, 99),
		series("rainfall_mm", "ha-noi", "hn-gw-001", ts+1000, 0.4)), hdr...)
	require.Equal(t, http.StatusBadRequest, code, body)
	require.Contains(t, body, "may not write province")
	require.NotContains(t, queryAs(t, srv, reader, `rainfall_mm`, ts+1000), "ca-mau")
	require.Contains(t, queryAs(t, srv, reader, `rainfall_mm{province="ha-noi"}`, ts+1000), `"0.4"`)

	code, _ = post(t, url, "Bearer "+relay, []byte("not snappy"), hdr...)
	require.Equal(t, http.StatusBadRequest, code)
	code, _ = post(t, url, "Bearer "+relay, remoteWriteBody(t), "Content-Type", "application/x-protobuf;proto=io.prometheus.write.v2.Request")
	require.Equal(t, http.StatusUnsupportedMediaType, code)
	code, _ = post(t, url, "Bearer "+reader, remoteWriteBody(t, series("x", "ha-noi", "g", ts, 1)), hdr...)
	require.Equal(t, http.StatusUnauthorized, code)
}
