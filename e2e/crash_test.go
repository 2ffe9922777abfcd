package e2e

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/require"
)

// reading is one acknowledged field value: the series it belongs to, its
// timestamp and the exact value sent.
type readingKey struct {
	gateway, device, metric string
	ts                      int64
}

// publisher sends JSON batches at QoS 1 for one gateway and records every
// reading whose message was acknowledged (PUBACK).
type publisher struct {
	province, gateway string
	base              int64 // first timestamp, Unix ms
	acked             map[readingKey]float64
	sent, ackedMsgs   int
}

const (
	devicesPerGateway = 4
	publishers        = 4
)

var fields = []string{"air_temperature_celsius", "relative_humidity_percent"}

// value is the exact decimal each reading carries: distinct per gateway,
// device, field and message, with two decimals, as sensors report.
func value(gw, dev, field, msg int) string {
	cents := (gw*1000+dev*100+field*10)*10_000 + msg
	return fmt.Sprintf("%d.%02d", cents/100, cents%100)
}

func (p *publisher) run(t *testing.T, gw int, broker string, stop <-chan struct{}, ackedTotal *atomic.Int64) {
	opts := mqtt.NewClientOptions().AddBroker("tcp://" + broker).
		SetClientID(fmt.Sprintf("crash-%s", p.gateway)).
		SetAutoReconnect(false).SetCleanSession(true).
		SetConnectTimeout(5 * time.Second).SetWriteTimeout(5 * time.Second)
	c := mqtt.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Errorf("gateway %s cannot connect: %v", p.gateway, tok.Error())
		return
	}
	defer c.Disconnect(0)
	topic := fmt.Sprintf("telemetry/%s/%s/json", p.province, p.gateway)
	for msg := 0; ; msg++ {
		select {
		case <-stop:
			return
		default:
		}
		var b strings.Builder
		b.WriteString(`{"readings":[`)
		keys := map[readingKey]float64{}
		for d := range devicesPerGateway {
			ts := p.base + int64(msg)*1000 + int64(d)*7
			dev := fmt.Sprintf("dev-%d", d)
			if d > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"device":%q,"ts":%d,"fields":{`, dev, ts)
			for f, name := range fields {
				if f > 0 {
					b.WriteByte(',')
				}
				v := value(gw, d, f, msg)
				fmt.Fprintf(&b, "%q:%s", name, v)
				fv, _ := strconv.ParseFloat(v, 64)
				keys[readingKey{p.gateway, dev, name, ts}] = fv
			}
			b.WriteString("}}")
		}
		b.WriteString("]}")
		tok := c.Publish(topic, 1, false, b.String())
		p.sent++
		if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			return // the node died: nothing after this was acknowledged
		}
		for k, v := range keys {
			p.acked[k] = v
		}
		p.ackedMsgs++
		ackedTotal.Add(1)
	}
}

// TestCrashLosesNoAcknowledgedReading is the durability contract end to end:
// paho publishers send QoS 1 JSON batches to a quantrac process, the process
// is killed with SIGKILL in the middle, restarted on the same data
// directory, and every reading that was acknowledged must be queryable with
// its exact value.
func TestCrashLosesNoAcknowledgedReading(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the quantrac binary")
	}
	bin := buildQuantrac(t)
	dir := t.TempDir()
	n := startNode(t, bin, dir)

	provinces := []string{"ha-noi", "hue", "da-nang", "can-tho"}
	base := time.Now().Add(-30 * time.Minute).UnixMilli()
	pubs := make([]*publisher, publishers)
	stop := make(chan struct{})
	var ackedMsgs atomic.Int64
	var wg sync.WaitGroup
	for i := range pubs {
		pubs[i] = &publisher{province: provinces[i], gateway: fmt.Sprintf("gw-%02d", i),
			base: base + int64(i), acked: map[readingKey]float64{}}
		wg.Add(1)
		go func() {
			defer wg.Done()
			pubs[i].run(t, i, n.mqttAddr, stop, &ackedMsgs)
		}()
	}
	// Kill the node while every publisher is mid-stream.
	deadline := time.Now().Add(30 * time.Second)
	for ackedMsgs.Load() < 400 {
		time.Sleep(10 * time.Millisecond)
		require.False(t, t.Failed())
		require.True(t, time.Now().Before(deadline), "only %d messages acknowledged in 30 s; node log:\n%s", ackedMsgs.Load(), n.logs)
	}
	n.kill(t)
	close(stop)
	wg.Wait()

	want := map[readingKey]float64{}
	sent := 0
	for _, p := range pubs {
		sent += p.sent
		for k, v := range p.acked {
			want[k] = v
		}
	}
	t.Logf("%d messages sent, %d acknowledged (%d readings) before SIGKILL", sent, ackedMsgs.Load(), len(want))

	n = startNode(t, bin, dir)
	defer n.stop(t)
	found, wrong := 0, 0
	at := time.UnixMilli(base).Add(time.Hour)
	for _, name := range fields {
		r := n.query(t, name+"[2h]", at)
		for _, s := range r.Data.Result {
			for _, pair := range s.Values {
				secs, _ := pair[0].(float64)
				ts := int64(math.Round(secs * 1000))
				k := readingKey{s.Metric["gateway"], s.Metric["device"], name, ts}
				wantV, ok := want[k]
				if !ok {
					continue // durable but never acknowledged: allowed
				}
				got, err := strconv.ParseFloat(pair[1].(string), 64)
				require.NoError(t, err)
				if got != wantV {
					wrong++
					t.Errorf("%v: got %v, want %v", k, got, wantV)
				}
				found++
			}
		}
	}
	t.Logf("%d of %d acknowledged readings found after restart", found, len(want))
	require.Zero(t, wrong)
	require.Equal(t, len(want), found, "acknowledged readings are missing; node log:\n%s", n.logs)

	// The count agrees when PromQL does the counting. count_over_time drops
	// the metric name, so each metric is counted by its own selector.
	total := 0
	for _, name := range fields {
		r := n.query(t, "sum(count_over_time("+name+"[2h]))", at)
		require.Len(t, r.Data.Result, 1)
		c, err := strconv.Atoi(r.Data.Result[0].Value[1].(string))
		require.NoError(t, err)
		total += c
	}
	require.GreaterOrEqual(t, total, len(want))
}
