package server

import (
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/quantrac/quantrac/forward"
)

// BenchmarkForwardToNationalNode measures how fast a backlog drains into a
// national Quantrac node on the same machine: b.N commit groups of 1000
// samples (34 provinces, 4 fields) are queued while the link is down, then
// delivered by remote write and stored by the national node. The figure is
// what the national node takes, since both share the machine's 2 cores.
func BenchmarkForwardToNationalNode(b *testing.B) {
	national, err := Start(Options{DataDir: b.TempDir(), MQTTAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		AllowAnonymous: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	defer national.Close()

	down := httptest.NewServer(nil)
	down.Close()
	dir := b.TempDir()
	dest := forward.Destination{Name: "national", URL: down.URL, Labels: map[string]string{"region": "north"}}
	opts := forward.Options{Dir: dir, Destinations: []forward.Destination{dest},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	f, err := forward.Open(opts)
	if err != nil {
		b.Fatal(err)
	}
	provinces := []string{"ha-noi", "hai-phong", "hue", "da-nang", "ho-chi-minh", "can-tho", "lao-cai", "son-la"}
	fields := []string{"air_temperature_celsius", "relative_humidity_percent", "pm2_5_micrograms_per_cubic_meter", "rainfall_millimeters"}
	lsets := make([]labels.Labels, 1000)
	ts, vals := make([]int64, 1000), make([]float64, 1000)
	t0 := time.Now().Add(-2 * time.Hour).UnixMilli()
	for i := range b.N {
		for j := range lsets {
			p := provinces[j/4%len(provinces)]
			lsets[j] = labels.FromStrings("__name__", fields[j%4], "province", p,
				"gateway", fmt.Sprintf("%s-gw-%03d", p, j/32%10), "device", fmt.Sprintf("aws-%04d", j/4))
			ts[j] = t0 + int64(i)
			vals[j] = float64(i%1000) / 10
		}
		w, err := f.Append(lsets, ts, vals)
		if err != nil {
			b.Fatal(err)
		}
		if err := w.Wait(); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}

	opts.Destinations[0].URL = "http://" + national.HTTPAddr() + "/api/v1/write"
	b.ReportAllocs()
	b.ResetTimer()
	f, err = forward.Open(opts)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	want := int64(b.N * 1000)
	for {
		st := f.Stats()[0]
		if st.Failed > 0 {
			b.Fatalf("national node refused samples: %+v", st)
		}
		if st.Sent >= want {
			break
		}
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(want)/b.Elapsed().Seconds(), "samples/s")
}
