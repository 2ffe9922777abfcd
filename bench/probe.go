package bench

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// latencies collects durations; quantiles are exact. Past maxLatencies
// further ones are dropped, which a run of minutes never reaches.
type latencies struct {
	mu struct {
		sync.Mutex
		d []time.Duration
	}
}

const maxLatencies = 4 << 20

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.mu.d) < maxLatencies {
		l.mu.d = append(l.mu.d, d)
	}
}

// quantiles returns the q-quantiles of what was added, 0 when empty, and
// the count.
func (l *latencies) quantiles(qs ...float64) ([]time.Duration, int) {
	l.mu.Lock()
	d := slices.Clone(l.mu.d)
	l.mu.Unlock()
	slices.Sort(d)
	out := make([]time.Duration, len(qs))
	if len(d) == 0 {
		return out, 0
	}
	for i, q := range qs {
		k := int(q*float64(len(d))+0.5) - 1
		out[i] = d[min(max(k, 0), len(d)-1)]
	}
	return out, len(d)
}

// Probe gateways are named after the tool, in the first province, so they
// are easy to tell apart from the simulated fleet in queries.
const (
	probeProvince = "ha-noi"
	markerGateway = "qbench-marker"
	markerMetric  = "qbench_marker"
	probeMetric   = "qbench_probe"
)

func dialMQTT(ctx context.Context, broker, id string) (mqtt.Client, error) {
	o := mqtt.NewClientOptions().AddBroker(broker).SetClientID(id).SetCleanSession(true).
		SetAutoReconnect(false).SetConnectRetry(false).SetProtocolVersion(4).
		SetConnectTimeout(10 * time.Second).SetWriteTimeout(30 * time.Second).SetOrderMatters(false)
	c := mqtt.NewClient(o)
	tok := c.Connect()
	select {
	case <-tok.Done():
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if err := tok.Error(); err != nil {
		return nil, fmt.Errorf("cannot connect %s to %s: %w", id, broker, err)
	}
	return c, nil
}

// prober publishes batches from its own connections, one at a time each,
// at QoS 1, and times their acknowledgements while recording is on.
type prober struct {
	batch     int
	every     time.Duration // pause between publishes
	recording atomic.Bool
	ack       latencies
	readings  atomic.Int64 // acknowledged while recording
	errors    atomic.Int64
}

// run keeps n probe connections publishing until ctx ends.
func (p *prober) run(ctx context.Context, broker string, n int) error {
	clients := make([]mqtt.Client, 0, n)
	defer func() {
		for _, c := range clients {
			c.Disconnect(100)
		}
	}()
	for i := range n {
		c, err := dialMQTT(ctx, broker, fmt.Sprintf("qbench-probe-%d", i+1))
		if err != nil {
			return err
		}
		clients = append(clients, c)
	}
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Go(func() { p.loop(ctx, c, i+1) })
	}
	wg.Wait()
	return nil
}

func (p *prober) loop(ctx context.Context, c mqtt.Client, n int) {
	gw := "qbench-probe-" + strconv.Itoa(n)
	topic := "telemetry/" + probeProvince + "/" + gw + "/json"
	var buf []byte
	for ctx.Err() == nil {
		buf = appendProbeBatch(buf[:0], p.batch, time.Now().UnixMilli())
		start := time.Now()
		tok := c.Publish(topic, 1, false, buf)
		select {
		case <-tok.Done():
		case <-ctx.Done():
			return
		}
		if tok.Error() != nil {
			p.errors.Add(1)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if p.recording.Load() {
			p.ack.add(time.Since(start))
			p.readings.Add(int64(p.batch))
		}
		// paho keeps the payload until the publish completes; it has.
		if p.every > 0 {
			select {
			case <-time.After(p.every):
			case <-ctx.Done():
				return
			}
		}
	}
}

// appendProbeBatch appends a JSON batch of n one-field readings at ts, one
// per probe device.
func appendProbeBatch(dst []byte, n int, ts int64) []byte {
	dst = append(dst, `{"readings":[`...)
	for i := range n {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"device":"probe-`...)
		dst = strconv.AppendInt(dst, int64(i), 10)
		dst = append(dst, `","ts":`...)
		dst = strconv.AppendInt(dst, ts, 10)
		dst = append(dst, `,"fields":{"`+probeMetric+`":`...)
		dst = strconv.AppendInt(dst, int64(i), 10)
		dst = append(dst, "}}"...)
	}
	return append(dst, "]}"...)
}

// marker measures publish-to-queryable lag: it publishes one reading whose
// value is a sequence number and polls the query API until the query
// answers with it.
type marker struct {
	every     time.Duration
	q         *client
	recording atomic.Bool
	lag       latencies
	misses    atomic.Int64 // markers not queryable within markerTimeout
	lastErr   atomic.Value // string: the last error, for the report
}

const (
	markerTimeout = 30 * time.Second
	markerPoll    = 5 * time.Millisecond
)

func (m *marker) run(ctx context.Context, broker string) error {
	c, err := dialMQTT(ctx, broker, markerGateway)
	if err != nil {
		return err
	}
	defer c.Disconnect(100)
	topic := "telemetry/" + probeProvince + "/" + markerGateway + "/json"
	query := markerMetric + `{gateway="` + markerGateway + `"}`
	tick := time.NewTicker(m.every)
	defer tick.Stop()
	for seq := int64(1); ; seq++ {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		start := time.Now()
		payload := fmt.Sprintf(`{"readings":[{"device":"marker","ts":%d,"fields":{"%s":%d}}]}`,
			start.UnixMilli(), markerMetric, seq)
		tok := c.Publish(topic, 1, false, payload)
		select {
		case <-tok.Done():
		case <-ctx.Done():
			return nil
		}
		if err := tok.Error(); err != nil {
			m.lastErr.Store(err.Error())
			continue
		}
		if lag, ok := m.await(ctx, query, seq, start); ok && m.recording.Load() {
			m.lag.add(lag)
		} else if !ok && ctx.Err() == nil && m.recording.Load() {
			m.misses.Add(1)
		}
	}
}

// await polls until the marker seq is queryable.
func (m *marker) await(ctx context.Context, query string, seq int64, start time.Time) (time.Duration, bool) {
	for time.Since(start) < markerTimeout && ctx.Err() == nil {
		pts, err := m.q.queryInstant(ctx, query, time.Now())
		if err != nil && ctx.Err() == nil {
			m.lastErr.Store(err.Error())
		}
		for _, p := range pts {
			if p.V >= float64(seq) {
				return time.Since(start), true
			}
		}
		time.Sleep(markerPoll)
	}
	return 0, false
}
