package forward

import (
	"fmt"
	"hash/maphash"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
)

// benchSamples returns n samples of distinct series shaped like the
// simulator's: 34 provinces, gateways, devices and four fields.
func benchSamples(n int, ts0 int64) columns {
	c := columns{make([]labels.Labels, n), make([]int64, n), make([]float64, n)}
	fields := []string{"air_temperature_celsius", "relative_humidity_percent", "pm2_5_micrograms_per_cubic_meter", "rainfall_millimeters"}
	for i := range n {
		c.lsets[i] = labels.FromStrings("__name__", fields[i%4], "province", fmt.Sprintf("p-%02d", i/4%34),
			"gateway", fmt.Sprintf("gw-%03d", i/136%50), "device", fmt.Sprintf("aws-%04d", i/4))
		c.ts[i] = ts0 + int64(i/4)
		c.vals[i] = 20 + float64(i%100)/10
	}
	return c
}

// BenchmarkForwarderQueue measures Append with its fsync wait: the cost the
// forwarder adds to the acknowledgement of a commit group of 1000 samples.
// The destination's receiver is down, so nothing competes for the disk.
func BenchmarkForwarderQueue(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	opts := testOptions(b.TempDir(), Destination{URL: srv.URL, MinBackoff: time.Second, MaxBackoff: time.Second})
	f, err := Open(opts)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	c := benchSamples(1000, 1_700_000_000_000)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		w, err := f.Append(c.lsets, c.ts, c.vals)
		if err != nil {
			b.Fatal(err)
		}
		if err := w.Wait(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(c.ts))/b.Elapsed().Seconds(), "samples/s")
}

// BenchmarkForwarderDeliver measures the delivery side: a queue of b.N
// commit groups of 1000 samples, written before the timer starts, is read,
// relabelled, batched, snappy-compressed and sent to a receiver on loopback
// that reads each request and acknowledges it without decoding it.
func BenchmarkForwarderDeliver(b *testing.B) {
	dir := b.TempDir()
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close() // nothing listens: the queue fills
	dest := Destination{Name: "national", URL: down.URL, Labels: map[string]string{"region": "north"}}
	f, err := Open(testOptions(dir, dest))
	if err != nil {
		b.Fatal(err)
	}
	c := benchSamples(1000, 1_700_000_000_000)
	for range b.N {
		appendWait(b, f, c)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	dest.URL = srv.URL
	b.ReportAllocs()
	b.ResetTimer()
	f, err = Open(testOptions(dir, dest))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	want := int64(b.N * len(c.ts))
	for stat(f, 0).Sent < want {
		time.Sleep(100 * time.Microsecond)
	}
	b.StopTimer()
	st := stat(f, 0)
	b.ReportMetric(float64(want)/b.Elapsed().Seconds(), "samples/s")
	b.ReportMetric(float64(st.RequestBytes)/float64(want), "wire-bytes/sample")
}

// BenchmarkBatchEncode measures building one request of 5000 samples.
func BenchmarkBatchEncode(b *testing.B) {
	c := benchSamples(5000, 1_700_000_000_000)
	enc := newRecordEncoder()
	body := enc.encode(nil, 0, 0, c.lsets, c.ts, c.vals)
	d := &destination{external: newExtLabels(labels.FromStrings("region", "north"))}
	bt := newBatch()
	seed := maphash.MakeSeed()
	var (
		rec     record
		s       sample
		scratch []byte
	)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		bt.reset()
		if err := rec.decode(body); err != nil {
			b.Fatal(err)
		}
		for {
			ok, err := rec.next(&s)
			if err != nil {
				b.Fatal(err)
			}
			if !ok {
				break
			}
			scratch = d.appendLabels(scratch[:0], &rec, &s)
			bt.add(Position{}, 0, scratch, maphash.Bytes(seed, scratch), 0, s.ts, s.val)
		}
		bt.encode()
	}
	b.ReportMetric(float64(b.N*5000)/b.Elapsed().Seconds(), "samples/s")
}
