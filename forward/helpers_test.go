package forward

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	"github.com/stretchr/testify/require"
)

// receiver is a remote-write endpoint on loopback that decodes every
// request and answers with the status its script gives for the n-th
// request (counted from 0). Accepted samples are recorded by series and
// timestamp.
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	script func(n int) int

	mu       sync.Mutex
	requests int
	statuses []int
	got      map[string]int // "labels@ts" -> times accepted
	total    int            // samples accepted, duplicates included
	headers  http.Header
}

func newReceiver(t *testing.T, script func(n int) int) *receiver {
	r := &receiver{t: t, script: script, got: map[string]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) url() string { return r.srv.URL + "/api/v1/write" }

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	raw, err := io.ReadAll(req.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	body, err := snappy.Decode(nil, raw)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	var wr prompb.WriteRequest
	if err := wr.Unmarshal(body); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	n := r.requests
	r.requests++
	status := http.StatusNoContent
	if r.script != nil {
		status = r.script(n)
	}
	r.statuses = append(r.statuses, status)
	r.headers = req.Header.Clone()
	if status/100 == 2 {
		for _, ts := range wr.Timeseries {
			var b labels.ScratchBuilder
			for _, l := range ts.Labels {
				b.Add(l.Name, l.Value)
			}
			key := b.Labels().String()
			for _, s := range ts.Samples {
				r.got[fmt.Sprintf("%s@%d", key, s.Timestamp)]++
				r.total++
			}
		}
	}
	r.mu.Unlock()
	w.WriteHeader(status)
}

// counts returns the distinct samples accepted, all samples accepted, and
// the requests received.
func (r *receiver) counts() (distinct, total, requests int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got), r.total, r.requests
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newTextLogger(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

// syncBuffer is a log sink tests can read while the forwarder writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testOptions returns options with fast timers for one destination.
func testOptions(dir string, dests ...Destination) Options {
	for i := range dests {
		if dests[i].MinBackoff == 0 {
			dests[i].MinBackoff = 5 * time.Millisecond
		}
		if dests[i].MaxBackoff == 0 {
			dests[i].MaxBackoff = 50 * time.Millisecond
		}
		if dests[i].Name == "" {
			dests[i].Name = fmt.Sprintf("d%d", i)
		}
	}
	return Options{Dir: dir, Destinations: dests, SyncInterval: 20 * time.Millisecond, Logger: discardLogger()}
}

func openForwarder(t *testing.T, opts Options) *Forwarder {
	t.Helper()
	f, err := Open(opts)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	return f
}

// columns are samples to append.
type columns struct {
	lsets []labels.Labels
	ts    []int64
	vals  []float64
}

// genSamples returns n samples over 7 series, timestamps from ts0 on.
func genSamples(n int, ts0 int64) columns {
	c := columns{make([]labels.Labels, n), make([]int64, n), make([]float64, n)}
	for i := range n {
		c.lsets[i] = labels.FromStrings("__name__", "air_temperature_celsius", "province", "ha-noi",
			"gateway", "hn-gw-001", "device", fmt.Sprintf("d%d", i%7))
		c.ts[i] = ts0 + int64(i)
		c.vals[i] = 20 + float64(i%100)/10
	}
	return c
}

// appendWait appends and waits for the queue's fsync.
func appendWait(t testing.TB, f *Forwarder, c columns) {
	t.Helper()
	w, err := f.Append(c.lsets, c.ts, c.vals)
	require.NoError(t, err)
	require.NoError(t, w.Wait())
}

func stat(f *Forwarder, i int) DestinationStats { return f.Stats()[i] }
