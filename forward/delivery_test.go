package forward

import (
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRejectedBatchIsNotRetried(t *testing.T) {
	rcv := newReceiver(t, func(int) int { return http.StatusBadRequest })
	f := openForwarder(t, testOptions(t.TempDir(), Destination{URL: rcv.url(), MaxSamplesPerSend: 500}))
	appendWait(t, f, genSamples(1000, 0))
	require.Eventually(t, func() bool { return stat(f, 0).Failed == 1000 }, 10*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool { return stat(f, 0).QueueSamples == 0 }, 5*time.Second, 5*time.Millisecond)
	time.Sleep(200 * time.Millisecond) // many backoff periods: a retry would show
	_, _, requests := rcv.counts()
	st := stat(f, 0)
	require.Equal(t, 2, requests, "each batch is sent once")
	require.EqualValues(t, 2, st.Requests)
	require.Zero(t, st.Retried)
	require.Zero(t, st.Sent)
}

func TestTooManyRequestsAndUnavailableAreRetried(t *testing.T) {
	for _, status := range []int{http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusInternalServerError} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			rcv := newReceiver(t, func(n int) int {
				if n < 5 {
					return status
				}
				return http.StatusNoContent
			})
			f := openForwarder(t, testOptions(t.TempDir(), Destination{URL: rcv.url(), MaxSamplesPerSend: 500}))
			appendWait(t, f, genSamples(1000, 0))
			require.Eventually(t, func() bool { d, _, _ := rcv.counts(); return d == 1000 }, 10*time.Second, 5*time.Millisecond)
			require.Eventually(t, func() bool { return stat(f, 0).QueueSamples == 0 }, 5*time.Second, 5*time.Millisecond)
			st := stat(f, 0)
			require.EqualValues(t, 1000, st.Sent)
			require.Zero(t, st.Failed)
			_, total, requests := rcv.counts()
			require.Equal(t, 1000, total, "a refused request stored nothing, so nothing is duplicated")
			require.GreaterOrEqual(t, requests, 7, "five refusals, then the two batches")
			require.EqualValues(t, requests, st.Requests)
			require.Positive(t, st.Retried)
		})
	}
}

func TestBackoffGrowsWithJitterUpToItsBound(t *testing.T) {
	d := &destination{opts: Destination{MinBackoff: 100 * time.Millisecond, MaxBackoff: 2 * time.Second}}
	for attempt, want := range []time.Duration{100, 200, 400, 800, 1600, 2000, 2000} {
		want *= time.Millisecond
		seen := map[time.Duration]bool{}
		for range 50 {
			b := d.backoff(attempt, 0)
			require.GreaterOrEqual(t, b, want/2, "attempt %d", attempt)
			require.LessOrEqual(t, b, want, "attempt %d", attempt)
			seen[b] = true
		}
		require.Greater(t, len(seen), 1, "attempt %d: jitter", attempt)
	}
	require.Equal(t, 2*time.Second, d.backoff(0, time.Hour), "Retry-After is honoured up to MaxBackoff")
	for _, c := range []struct {
		status int
		want   outcome
	}{{200, delivered}, {204, delivered}, {400, rejected}, {404, rejected}, {413, rejected},
		{401, retry}, {403, retry}, {429, retry}, {500, retry}, {502, retry}, {503, retry}} {
		require.Equal(t, c.want, classify(c.status), "status %d", c.status)
	}
}

func TestFullQueueDropsOldestAndSaysSo(t *testing.T) {
	var accept atomic.Bool
	rcv := newReceiver(t, func(int) int {
		if accept.Load() {
			return http.StatusNoContent
		}
		return http.StatusServiceUnavailable
	})
	logs := &syncBuffer{}
	opts := testOptions(t.TempDir(), Destination{URL: rcv.url(), MaxSamplesPerSend: 200, MaxQueueBytes: 16 << 10})
	opts.SegmentBytes = 8 << 10
	opts.Logger = newTextLogger(logs)
	f := openForwarder(t, opts)
	const n = 20_000 // about 360 KB of records, over 20 times the bound
	for i := 0; i < n; i += 100 {
		appendWait(t, f, genSamples(100, int64(i)))
	}
	require.Eventually(t, func() bool { return stat(f, 0).Dropped > 0 }, 10*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool { return stat(f, 0).QueueBytes <= 16<<10 }, 10*time.Second, 5*time.Millisecond)
	require.Contains(t, logs.String(), "forward queue full")
	require.Eventually(t, func() bool { return f.LogStats().Bytes <= 16<<10+8<<10 }, 5*time.Second, 5*time.Millisecond,
		"dropped segments are deleted")

	accept.Store(true)
	require.Eventually(t, func() bool { return stat(f, 0).QueueSamples == 0 }, 10*time.Second, 5*time.Millisecond)
	st := stat(f, 0)
	distinct, total, _ := rcv.counts()
	require.Equal(t, n, int(st.Sent+st.Dropped), "every sample is either delivered or counted as dropped")
	require.Equal(t, int(st.Sent), distinct)
	require.Equal(t, distinct, total)
	require.Greater(t, st.Sent, int64(100), "the newest samples are kept")
}

func TestResumesExactlyAfterRestart(t *testing.T) {
	var accept atomic.Bool
	accept.Store(true)
	first := newReceiver(t, func(int) int {
		if accept.Load() {
			return http.StatusNoContent
		}
		return http.StatusServiceUnavailable
	})
	dir := t.TempDir()
	opts := testOptions(dir, Destination{Name: "national", URL: first.url(), MaxSamplesPerSend: 300})
	f, err := Open(opts)
	require.NoError(t, err)
	appendWait(t, f, genSamples(1000, 0))
	require.Eventually(t, func() bool { return stat(f, 0).QueueSamples == 0 }, 10*time.Second, 5*time.Millisecond)
	// The receiver goes away; what is appended meanwhile waits in the queue.
	accept.Store(false)
	appendWait(t, f, genSamples(2000, 1000))
	require.NoError(t, f.Close())
	_, total, _ := first.counts()
	require.Equal(t, 1000, total)

	// Reopened, with the receiver at a new address under the same name: the
	// delivered samples are not sent again, the rest are. (The first
	// receiver keeps refusing: a request cut by the shutdown must not be
	// stored, or sending it again would be right.)
	second := newReceiver(t, nil)
	opts.Destinations[0].URL = second.url()
	f = openForwarder(t, opts)
	require.EqualValues(t, 2000, stat(f, 0).QueueSamples)
	appendWait(t, f, genSamples(500, 3000))
	require.Eventually(t, func() bool { d, _, _ := second.counts(); return d == 2500 }, 10*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool { return stat(f, 0).QueueSamples == 0 }, 5*time.Second, 5*time.Millisecond)
	_, total, _ = second.counts()
	require.Equal(t, 2500, total, "nothing delivered before the restart is sent again")
}

func TestSelectionAndAddedLabels(t *testing.T) {
	rcv := newReceiver(t, nil)
	f := openForwarder(t, testOptions(t.TempDir(), Destination{URL: rcv.url(),
		Match:  []string{`{device=~"d[01]"}`, `{device="d5"}`},
		Labels: map[string]string{"region": "north", "province": "elsewhere", "aa": "first"}}))
	appendWait(t, f, genSamples(700, 0)) // 100 samples of each of 7 devices
	require.Eventually(t, func() bool { d, _, _ := rcv.counts(); return d == 300 }, 3*time.Second, 5*time.Millisecond, "%+v %v %+v", stat(f, 0), rcv.statuses, f.LogStats())
	require.Eventually(t, func() bool { return stat(f, 0).QueueSamples == 0 }, 5*time.Second, 5*time.Millisecond)
	st := stat(f, 0)
	require.EqualValues(t, 300, st.Sent)
	require.EqualValues(t, 400, st.Filtered)
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	devices := map[string]bool{}
	for k := range rcv.got {
		require.True(t, strings.HasPrefix(k, `{__name__="air_temperature_celsius", aa="first", device="d`), k)
		require.Contains(t, k, `gateway="hn-gw-001", province="ha-noi", region="north"}@`, "province is never replaced")
		devices[k[len(`{__name__="air_temperature_celsius", aa="first", device="`):][:2]] = true
	}
	require.Equal(t, map[string]bool{"d0": true, "d1": true, "d5": true}, devices)
}

func TestCredentialsAndTLS(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	require.NoError(t, os.WriteFile(tokenFile, []byte("s3cret\n"), 0o600))

	var auth atomic.Value
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth.Store(r.Header.Get("Authorization") + "|" + r.Header.Get("X-Scope-OrgID") + "|" + r.Header.Get("Content-Encoding"))
		w.WriteHeader(http.StatusNoContent)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the untrusted client's handshakes fail
	srv.StartTLS()
	t.Cleanup(srv.Close)
	caFile := filepath.Join(dir, "ca.pem")
	require.NoError(t, os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600))

	f := openForwarder(t, testOptions(filepath.Join(dir, "q"), Destination{URL: srv.URL + "/api/v1/write",
		BearerTokenFile: tokenFile, TLS: TLSOptions{CAFile: caFile}, Headers: map[string]string{"X-Scope-OrgID": "vn"}}))
	appendWait(t, f, genSamples(10, 0))
	require.Eventually(t, func() bool { return stat(f, 0).Sent == 10 }, 10*time.Second, 5*time.Millisecond)
	require.Equal(t, "Bearer s3cret|vn|snappy", auth.Load())

	// Basic authentication, with a certificate the client does not trust:
	// retried, never delivered, until the operator fixes it.
	pass := filepath.Join(dir, "pass")
	require.NoError(t, os.WriteFile(pass, []byte("pw"), 0o600))
	f2 := openForwarder(t, testOptions(filepath.Join(dir, "q2"), Destination{URL: srv.URL + "/api/v1/write",
		BasicAuth: &BasicAuth{Username: "regional-north", PasswordFile: pass}}))
	appendWait(t, f2, genSamples(10, 0))
	require.Eventually(t, func() bool { return stat(f2, 0).Retried > 0 }, 10*time.Second, 5*time.Millisecond)
	require.Zero(t, stat(f2, 0).Sent)

	f3 := openForwarder(t, testOptions(filepath.Join(dir, "q3"), Destination{URL: srv.URL + "/api/v1/write",
		BasicAuth: &BasicAuth{Username: "regional-north", PasswordFile: pass}, TLS: TLSOptions{CAFile: caFile}}))
	appendWait(t, f3, genSamples(10, 0))
	require.Eventually(t, func() bool { return stat(f3, 0).Sent == 10 }, 10*time.Second, 5*time.Millisecond)
	req, _ := http.NewRequest("GET", "/", nil)
	req.SetBasicAuth("regional-north", "pw")
	require.Equal(t, req.Header.Get("Authorization")+"||snappy", auth.Load())
}

func TestSendersScaleWithTheBacklog(t *testing.T) {
	var accept atomic.Bool
	var inFlight, most atomic.Int32
	rcv := newReceiver(t, func(int) int {
		if !accept.Load() {
			return http.StatusServiceUnavailable
		}
		return http.StatusNoContent
	})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		if accept.Load() {
			time.Sleep(2 * time.Millisecond)
		}
		rcv.serve(w, r)
	}))
	t.Cleanup(slow.Close)
	f := openForwarder(t, testOptions(t.TempDir(), Destination{URL: slow.URL, MaxSamplesPerSend: 200, MaxShards: 4}))
	require.Equal(t, 1, stat(f, 0).Shards)
	for i := 0; i < 20_000; i += 1000 {
		appendWait(t, f, genSamples(1000, int64(i)))
	}
	require.Equal(t, int32(1), most.Load(), "one sender while the queue is small")
	accept.Store(true)
	require.Eventually(t, func() bool { d, _, _ := rcv.counts(); return d == 20_000 }, 15*time.Second, 5*time.Millisecond)
	require.Greater(t, most.Load(), int32(1), "more senders while a backlog is delivered")
	// Caught up, the next record is read with one sender again.
	appendWait(t, f, genSamples(10, 30_000))
	require.Eventually(t, func() bool { return stat(f, 0).Shards == 1 }, 5*time.Second, 5*time.Millisecond)
}

func TestNewDestinationKeepsItsQueueAcrossARestartBeforeAnyDelivery(t *testing.T) {
	var accept atomic.Bool
	rcv := newReceiver(t, func(int) int {
		if accept.Load() {
			return http.StatusNoContent
		}
		return http.StatusServiceUnavailable
	})
	dir := t.TempDir()
	opts := testOptions(dir, Destination{Name: "national", URL: rcv.url()})
	f, err := Open(opts)
	require.NoError(t, err)
	appendWait(t, f, genSamples(100, 0))
	require.NoError(t, f.Close())

	accept.Store(true)
	openForwarder(t, opts)
	require.Eventually(t, func() bool { d, _, _ := rcv.counts(); return d == 100 }, 10*time.Second, 5*time.Millisecond)
}
