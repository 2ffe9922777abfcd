package gwsim

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/line-protocol/v2/lineprotocol"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fastjson"
	"google.golang.org/protobuf/proto"

	"github.com/quantrac/quantrac/gateway-firmware-sim/ledger"
	"github.com/quantrac/quantrac/gateway-firmware-sim/sensor"
	"github.com/quantrac/quantrac/gateway-firmware-sim/wire"
	"github.com/quantrac/quantrac/ingest"
	"github.com/quantrac/quantrac/ingest/sparkplug"
	pb "github.com/quantrac/quantrac/ingest/sparkplug/sparkplugpb"
	"github.com/quantrac/quantrac/province"
)

// sampleKey identifies one sample the platform would store.
type sampleKey struct {
	metric, province, gateway, device, kind string
	ts                                      int64
}

// samples maps each sample to its value.
type samples map[sampleKey]float64

// testOptions is a small fleet against broker b: 4 gateways of 6 devices,
// 5 simulated minutes at 1 s, unpaced.
func testOptions(t testing.TB, brokerURL string) Options {
	o := DefaultOptions()
	o.Broker = brokerURL
	o.Provinces = []string{"ha-noi", "ca-mau"}
	o.GatewaysPerProvince = 2
	o.DevicesPerGateway = 6
	o.SampleInterval = time.Second
	o.BatchSize = 25
	o.BatchAge = 5 * time.Second
	o.Start = time.Date(2025, 12, 3, 0, 0, 0, 0, time.UTC)
	o.Duration = 5 * time.Minute
	o.Unpaced = true
	o.Seed = 7
	o.QueueDir = t.TempDir()
	o.LedgerPath = filepath.Join(t.TempDir(), "ledger")
	o.MinBackoff = 10 * time.Millisecond
	o.MaxBackoff = 100 * time.Millisecond
	o.WriteTimeout = time.Second
	o.SyncInterval = 20 * time.Millisecond
	o.DrainTimeout = 60 * time.Second
	o.Logger = quiet
	return o
}

// run runs a simulation to its end.
func run(t testing.TB, o Options) *Simulator {
	t.Helper()
	s, err := New(o)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	require.NoError(t, s.Run(ctx))
	require.NoError(t, ctx.Err(), "the run ended by itself")
	return s
}

// expected computes, straight from the sensor model, every sample the
// fleet of o generates with nominal slot times in [from, to).
func expected(t testing.TB, o Options, from, to time.Time) samples {
	o = o.withDefaults()
	out := samples{}
	for _, slug := range o.Provinces {
		p, _ := province.Lookup(slug)
		for n := 1; n <= o.GatewaysPerProvince; n++ {
			site, err := sensor.NewSite(o.Seed, p, n, o.DevicesPerGateway, o.SampleInterval)
			require.NoError(t, err)
			var r sensor.Reading
			for k := site.FirstSlot(from.UnixMilli()); site.SlotTime(k) < to.UnixMilli(); k++ {
				for i := range site.Devices() {
					site.Read(k, i, &r)
					kind := r.Kind.String()
					if o.Format == wire.Sparkplug {
						kind = "" // Sparkplug carries no kind tag
					}
					for f, field := range r.Kind.Fields() {
						out[sampleKey{field.Metric, slug, site.Gateway(), string(r.AppendDeviceID(nil)),
							kind, r.TS}] = r.Float(f)
					}
				}
			}
		}
	}
	return out
}

// requireSameSamples fails with a short account of the differences.
func requireSameSamples(t testing.TB, want, got samples, msgAndArgs ...any) {
	t.Helper()
	var missing, extra, wrong []string
	for k, v := range want {
		g, ok := got[k]
		switch {
		case !ok:
			missing = append(missing, fmt.Sprint(k))
		case g != v:
			wrong = append(wrong, fmt.Sprintf("%v: want %v, got %v", k, v, g))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			extra = append(extra, fmt.Sprint(k))
		}
	}
	if len(missing)+len(extra)+len(wrong) == 0 {
		return
	}
	first := func(s []string) []string { return s[:min(len(s), 3)] }
	require.Fail(t, fmt.Sprintf("samples differ: %d of %d missing %v, %d extra %v, %d wrong %v",
		len(missing), len(want), first(missing), len(extra), first(extra), len(wrong), first(wrong)), msgAndArgs...)
}

// fromLedger returns the samples the ledger says were acknowledged.
func fromLedger(t testing.TB, path string) (samples, ledger.Summary) {
	out := samples{}
	sum, err := ledger.Samples(path, func(s ledger.Sample) error {
		k := sampleKey{s.Metric, s.Labels.Province, s.Labels.Gateway, s.Labels.Device, s.Labels.Kind, s.TS}
		_, dup := out[k]
		require.False(t, dup, "ledger enumerates %v twice", k)
		out[k] = s.Value
		return nil
	})
	require.NoError(t, err)
	return out, sum
}

// received decodes what a broker received: the samples with how many times
// each arrived, and the number of payloads that carried no valid reading.
type received struct {
	values    samples
	count     map[sampleKey]int
	malformed int
	seqGaps   uint64 // Sparkplug sequence gaps the platform's decoder saw
}

func decodeReceived(t testing.TB, msgs []message) received {
	rc := received{values: samples{}, count: map[sampleKey]int{}}
	add := func(k sampleKey, v float64) {
		rc.values[k] = v
		rc.count[k]++
	}
	nodes := map[string]*sparkplug.EdgeNode{}
	for _, m := range msgs {
		if strings.HasPrefix(m.topic, wire.SparkplugNamespace+"/") {
			if !decodeSparkplug(t, nodes, m, add) {
				rc.malformed++
			}
			continue
		}
		parts := strings.Split(m.topic, "/")
		require.Len(t, parts, 4, m.topic)
		if len(nodes) > 0 {
			t.Fatalf("JSON or line protocol mixed with Sparkplug: %s", m.topic)
		}
		slug, gw := parts[1], parts[2]
		require.Equal(t, gw, m.client, "a gateway publishes under its own client id")
		ok := false
		switch parts[3] {
		case wire.JSON.String():
			ok = decodeJSON(m.payload, slug, gw, add)
		case wire.LineProtocol.String():
			ok = decodeLP(m.payload, slug, gw, add)
		default:
			t.Fatalf("unexpected topic %s", m.topic)
		}
		if !ok {
			rc.malformed++
		}
	}
	for _, n := range nodes {
		rc.seqGaps += n.Stats().SequenceGaps
	}
	return rc
}

// looksMalformed is the test broker's stand-in for the platform's refusal:
// a payload that yields no valid reading on its own.
func looksMalformed(t testing.TB, topic string, p []byte) bool {
	if strings.HasPrefix(topic, wire.SparkplugNamespace+"/") {
		return proto.Unmarshal(p, &pb.Payload{}) != nil
	}
	return decodeReceived(t, []message{{client: "x", topic: "telemetry/x/x/" + topic[strings.LastIndexByte(topic, '/')+1:], payload: p}}).malformed > 0
}

// decodeSparkplug feeds a message to its gateway's session in the
// platform's own Sparkplug decoder (messages of one client arrive in
// order). It reports false for a message that yields nothing and is not a
// birth or death.
func decodeSparkplug(t testing.TB, nodes map[string]*sparkplug.EdgeNode, m message, add func(sampleKey, float64)) bool {
	topic, err := sparkplug.ParseTopic(m.topic)
	require.NoError(t, err)
	require.Equal(t, topic.EdgeNode, m.client, "a gateway publishes under its own client id")
	node := nodes[topic.EdgeNode]
	if node == nil {
		node, err = sparkplug.NewEdgeNode(topic.Group, topic.EdgeNode, sparkplug.Options{})
		require.NoError(t, err)
		nodes[topic.EdgeNode] = node
	}
	c := &sampleSink{group: topic.Group, node: topic.EdgeNode, add: add}
	res, err := node.Decode(topic, m.payload, 0, c)
	if err != nil || c.invalid > 0 {
		return false
	}
	return c.n > 0 || res.Type != sparkplug.DDATA
}

// sampleSink turns platform decoder output into sample keys.
type sampleSink struct {
	ingest.TagHolder
	group, node string
	add         func(sampleKey, float64)
	n, invalid  int
}

func (s *sampleSink) Sample(metric []byte, ts int64, v float64) {
	tags := s.Current
	if string(metric) == sparkplug.OnlineMetric {
		return
	}
	var dev string
	for _, t := range tags {
		if string(t.Key) == "device" {
			dev = string(t.Value)
		}
	}
	s.n++
	s.add(sampleKey{string(metric), s.group, s.node, dev, "", ts}, v)
}

// Invalid counts refused readings. A sequence gap is not one: the data is
// kept, and received.seqGaps counts it.
func (s *sampleSink) Invalid(r ingest.Reason, _ error) {
	if r != ingest.ReasonSequence {
		s.invalid++
	}
}

func decodeJSON(p []byte, slug, gw string, add func(sampleKey, float64)) bool {
	v, err := fastjson.ParseBytes(p)
	if err != nil {
		return false
	}
	ok := false
	for _, r := range v.GetArray("readings") {
		ts := r.Get("ts")
		if ts == nil || ts.Type() != fastjson.TypeNumber {
			continue
		}
		dev, kind := string(r.GetStringBytes("device")), string(r.GetStringBytes("tags", "kind"))
		r.GetObject("fields").Visit(func(key []byte, fv *fastjson.Value) {
			if fv.Type() == fastjson.TypeNumber {
				add(sampleKey{string(key), slug, gw, dev, kind, ts.GetInt64()}, fv.GetFloat64())
				ok = true
			}
		})
	}
	return ok
}

func decodeLP(p []byte, slug, gw string, add func(sampleKey, float64)) bool {
	dec := lineprotocol.NewDecoderWithBytes(p)
	ok := false
	for dec.Next() {
		m, err := dec.Measurement()
		if err != nil {
			return false
		}
		tags := map[string]string{}
		for {
			k, v, err := dec.NextTag()
			if err != nil {
				return false
			}
			if k == nil {
				break
			}
			tags[string(k)] = string(v)
		}
		k, v, err := dec.NextField()
		if err != nil || string(k) != "value" {
			return false
		}
		ts, err := dec.Time(lineprotocol.Nanosecond, time.Time{})
		if err != nil {
			return false
		}
		add(sampleKey{string(m), slug, gw, tags["device"], tags["kind"], ts.UnixMilli()}, v.FloatV())
		ok = true
	}
	return ok && dec.Err() == nil
}
