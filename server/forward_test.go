package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quantrac/quantrac/access"
	"github.com/quantrac/quantrac/forward"
)

// Two nodes on loopback: a regional node that gateways publish to over
// MQTT and that forwards by remote write, and a national node that
// receives with a relay token. The national node is stopped and started
// again on the same address to cut and restore the link.

// northProvinces are the provinces of the regional node in these tests.
var northProvinces = []string{"ha-noi", "lao-cai", "hai-phong"}

type twoNodes struct {
	t          *testing.T
	natDir     string
	natAddr    string // fixed after the first start, so the regional URL stays valid
	national   *Server
	reader     string // the national node's read token
	regDir     string
	regional   *Server
	regLog     *lockedBuffer
	forward    forward.Options
	base       int64 // timestamp of the first reading
	gatewaySeq [3]int64
}

func newTwoNodes(t *testing.T, dest func(*forward.Destination), segmentBytes int64) *twoNodes {
	n := &twoNodes{t: t, natDir: t.TempDir(), regDir: t.TempDir(), regLog: &lockedBuffer{},
		base: time.Now().Add(-30 * time.Minute).UnixMilli()}
	tokens := filepath.Join(n.natDir, "tokens.json")
	relay, _, err := access.AddToken(tokens, access.AddRequest{Name: "regional-north", Provinces: northProvinces,
		Write: &access.WriteGrant{Relay: true}}, time.Now())
	require.NoError(t, err)
	n.reader, _, err = access.AddToken(tokens, access.AddRequest{Name: "analyst", Provinces: []string{"*"}}, time.Now())
	require.NoError(t, err)
	n.startNational()

	tokenFile := filepath.Join(n.regDir, "national.token")
	require.NoError(t, os.WriteFile(tokenFile, []byte(relay+"\n"), 0o600))
	d := forward.Destination{Name: "national", URL: "http://" + n.natAddr + "/api/v1/write",
		BearerTokenFile: tokenFile, Labels: map[string]string{"region": "north"},
		MaxSamplesPerSend: 500, MinBackoff: 20 * time.Millisecond, MaxBackoff: 300 * time.Millisecond}
	if dest != nil {
		dest(&d)
	}
	n.forward = forward.Options{Destinations: []forward.Destination{d}, SegmentBytes: segmentBytes,
		SyncInterval: 50 * time.Millisecond}
	n.startRegional()
	t.Cleanup(func() {
		if n.regional != nil {
			n.regional.Close()
		}
		if n.national != nil {
			n.national.Close()
		}
	})
	return n
}

func (n *twoNodes) startNational() {
	addr := n.natAddr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	srv, err := Start(Options{DataDir: n.natDir, MQTTAddr: "127.0.0.1:0", HTTPAddr: addr,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(n.t, err)
	n.national, n.natAddr = srv, srv.HTTPAddr()
}

func (n *twoNodes) stopNational() {
	require.NoError(n.t, n.national.Close())
	n.national = nil
}

func (n *twoNodes) startRegional() {
	opts := n.forward
	opts.Destinations = append([]forward.Destination(nil), opts.Destinations...)
	srv, err := Start(Options{DataDir: n.regDir, MQTTAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		AllowAnonymous: true, Forward: opts,
		Logger: slog.New(slog.NewTextHandler(n.regLog, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	require.NoError(n.t, err)
	n.regional = srv
}

func (n *twoNodes) stopRegional() {
	require.NoError(n.t, n.regional.Close())
	n.regional = nil
}

// Each message of a gateway carries readingsPerMessage readings of two
// fields: 2*readingsPerMessage samples.
const readingsPerMessage = 5

// publishFor makes one gateway per province publish JSON batches at QoS 1
// to the regional node until stop is closed, and returns the samples
// acknowledged. Each reading has its own timestamp, so every sample is a
// distinct (series, timestamp).
func (n *twoNodes) publish(stop <-chan struct{}, maxMessages int) int64 {
	var (
		wg    sync.WaitGroup
		acked atomic.Int64
	)
	for g, prov := range northProvinces {
		c := pahoClient(n.t, n.regional.MQTTAddr(), fmt.Sprintf("gw-%d", g))
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Disconnect(100)
			topic := fmt.Sprintf("telemetry/%s/%s-gw-001/json", prov, prov)
			for m := 0; m < maxMessages; m++ {
				select {
				case <-stop:
					return
				default:
				}
				var b strings.Builder
				b.WriteString(`{"readings":[`)
				for r := range readingsPerMessage {
					seq := n.gatewaySeq[g]
					n.gatewaySeq[g]++
					if r > 0 {
						b.WriteByte(',')
					}
					fmt.Fprintf(&b, `{"device":"aws-%d","ts":%d,"fields":{"air_temperature_celsius":%d.5,"relative_humidity_percent":%d}}`,
						seq%4, n.base+seq, seq%40, seq%100)
				}
				b.WriteString(`]}`)
				tok := c.Publish(topic, 1, false, b.String())
				if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
					n.t.Errorf("gateway %s: publish not acknowledged: %v", prov, tok.Error())
					return
				}
				acked.Add(2 * readingsPerMessage)
			}
		}()
	}
	wg.Wait()
	return acked.Load()
}

// publishWhile publishes until d has passed.
func (n *twoNodes) publishWhile(d time.Duration) int64 {
	stop := make(chan struct{})
	time.AfterFunc(d, func() { close(stop) })
	return n.publish(stop, 1<<30)
}

// nationalCount returns the samples the national node stores from the
// region, counted by the query API.
func (n *twoNodes) nationalCount() int64 {
	// count_over_time drops the metric name, so each metric is counted apart.
	q := `sum(count_over_time(air_temperature_celsius{region="north"}[2h])) + sum(count_over_time(relative_humidity_percent{region="north"}[2h]))`
	u := fmt.Sprintf("http://%s/api/v1/query?query=%s&time=%d", n.natAddr, url.QueryEscape(q), time.Now().Unix()+1)
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(n.t, err)
	req.Header.Set("Authorization", "Bearer "+n.reader)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(n.t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	require.Equal(n.t, http.StatusOK, resp.StatusCode, string(body))
	var r struct {
		Data struct {
			Result []sample `json:"result"`
		} `json:"data"`
	}
	require.NoError(n.t, json.Unmarshal(body, &r))
	if len(r.Data.Result) == 0 {
		return 0
	}
	v, err := strconv.ParseInt(r.Data.Result[0].Value[1].(string), 10, 64)
	require.NoError(n.t, err)
	return v
}

// waitDelivered waits until the regional queue is empty and the national
// node stores want samples.
func (n *twoNodes) waitDelivered(want int64) {
	n.t.Helper()
	require.Eventually(n.t, func() bool {
		return n.regional.Forwarder().Stats()[0].QueueSamples == 0 && n.nationalCount() >= want
	}, 20*time.Second, 50*time.Millisecond)
	require.Equal(n.t, want, n.nationalCount(), "every sample once on the national node")
}

func TestForwardDeliversEverythingAfterNationalOutage(t *testing.T) {
	n := newTwoNodes(t, nil, 0)
	published := n.publishWhile(500 * time.Millisecond)
	n.waitDelivered(published)

	// The national node goes away while the gateways keep publishing.
	n.stopNational()
	published += n.publishWhile(3 * time.Second)
	st := n.regional.Forwarder().Stats()[0]
	require.Positive(t, st.QueueSamples, "the queue holds the outage's samples")
	require.Positive(t, st.Retried)
	require.Greater(t, st.OldestUndelivered, 2*time.Second, "queued since the outage began")
	require.Regexp(t, `quantrac_forward_queue_samples\{destination="national"\} [1-9]`, n.regionalMetrics())

	n.startNational()
	published += n.publishWhile(500 * time.Millisecond)
	n.waitDelivered(published)

	st = n.regional.Forwarder().Stats()[0]
	require.Zero(t, st.Failed)
	require.Zero(t, st.Dropped)
	require.GreaterOrEqual(t, st.Sent, published, "at least once")

	// Province and gateway stay what the regional node set; region is added.
	got := n.query(`count by (province, gateway, region) (count_over_time(air_temperature_celsius[2h]))`)
	require.Len(t, got, len(northProvinces))
	for _, s := range got {
		require.Equal(t, "north", s.Metric["region"])
		require.Equal(t, s.Metric["province"]+"-gw-001", s.Metric["gateway"])
	}
}

func TestForwardSurvivesRegionalRestartDuringOutage(t *testing.T) {
	n := newTwoNodes(t, nil, 64<<10)
	published := n.publishWhile(300 * time.Millisecond)
	n.waitDelivered(published)

	n.stopNational()
	published += n.publishWhile(1500 * time.Millisecond)
	queued := n.regional.Forwarder().Stats()[0].QueueSamples
	require.Positive(t, queued)

	// The regional node restarts in the middle of the outage: the queue on
	// disk, not memory, carries the undelivered samples across.
	n.stopRegional()
	n.startRegional()
	require.Equal(t, queued, n.regional.Forwarder().Stats()[0].QueueSamples, "the queue resumes where it stopped")
	published += n.publishWhile(1500 * time.Millisecond)

	n.startNational()
	n.waitDelivered(published)
	st := n.regional.Forwarder().Stats()[0]
	require.Zero(t, st.Failed)
	require.Zero(t, st.Dropped)
	require.Greater(t, n.regional.Forwarder().LogStats().Segments, 0)
}

func TestForwardFullQueueDropsOldestAndSaysSo(t *testing.T) {
	const bound = 16 << 10
	// A drop abandons the batches the senders hold, as well as the oldest
	// segments. Small batches and one sender keep that share small: with
	// the default 5 000 samples a batch, one batch could hold the whole
	// test's backlog, and a drop under load would leave nothing to keep.
	n := newTwoNodes(t, func(d *forward.Destination) {
		d.MaxQueueBytes = bound
		d.MaxSamplesPerSend, d.MinShards, d.MaxShards = 50, 1, 1
	}, 4<<10)
	n.stopNational()
	published := n.publish(nil, 150) // about 100 KB of queue records
	require.Eventually(t, func() bool { return n.regional.Forwarder().Stats()[0].Dropped > 0 },
		10*time.Second, 20*time.Millisecond)
	require.Contains(t, n.regLog.String(), "forward queue full")
	metrics := n.regionalMetrics()
	require.Regexp(t, `quantrac_forward_samples_dropped_total\{destination="national"\} [1-9]`, metrics)
	require.Regexp(t, `quantrac_forward_queue_bytes\{destination="national"\} [1-9]`, metrics)
	require.Regexp(t, `quantrac_forward_oldest_undelivered_seconds\{destination="national"\} `, metrics)

	// The policy keeps the backlog within its bound; the link returns after.
	require.Eventually(t, func() bool { return n.regional.Forwarder().Stats()[0].QueueBytes <= bound },
		10*time.Second, 20*time.Millisecond)
	dropped := n.regional.Forwarder().Stats()[0].Dropped

	n.startNational()
	require.Eventually(t, func() bool { return n.regional.Forwarder().Stats()[0].QueueSamples == 0 },
		20*time.Second, 20*time.Millisecond)
	st := n.regional.Forwarder().Stats()[0]
	require.Less(t, st.QueueBytes, int64(bound))
	require.Equal(t, dropped, st.Dropped, "nothing is dropped once the backlog fits")
	require.Equal(t, published, st.Sent+st.Dropped, "every sample is delivered or counted as dropped")
	require.Greater(t, st.Sent, int64(0), "the newest samples are kept")
	require.Eventually(t, func() bool { return n.nationalCount() == st.Sent }, 10*time.Second, 20*time.Millisecond)
}

func (n *twoNodes) query(q string) []sample {
	u := fmt.Sprintf("http://%s/api/v1/query?query=%s&time=%d", n.natAddr, url.QueryEscape(q), time.Now().Unix())
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(n.t, err)
	req.Header.Set("Authorization", "Bearer "+n.reader)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(n.t, err)
	defer resp.Body.Close()
	var r struct {
		Data struct {
			Result []sample `json:"result"`
		} `json:"data"`
	}
	require.NoError(n.t, json.NewDecoder(resp.Body).Decode(&r))
	return r.Data.Result
}

func (n *twoNodes) regionalMetrics() string {
	resp, err := http.Get("http://" + n.regional.HTTPAddr() + "/metrics")
	require.NoError(n.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(n.t, err)
	return string(b)
}

// lockedBuffer is a log sink a test reads while the node writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
