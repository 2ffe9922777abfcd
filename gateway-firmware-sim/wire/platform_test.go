package wire

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/quantrac/quantrac/gateway-firmware-sim/batch"
	"github.com/quantrac/quantrac/gateway-firmware-sim/sensor"
	"github.com/quantrac/quantrac/ingest"
	"github.com/quantrac/quantrac/ingest/jsonbatch"
	"github.com/quantrac/quantrac/ingest/lineproto"
	"github.com/quantrac/quantrac/ingest/sparkplug"
	pb "github.com/quantrac/quantrac/ingest/sparkplug/sparkplugpb"
)

// These tests decode the simulator's payloads with the platform's own
// decoders (package ingest), so the two cannot drift apart unnoticed.

// sample is what a platform decoder reported.
type sample struct {
	metric string
	tags   string // k=v,k=v in payload order
	ts     int64
	value  float64
}

type collector struct {
	ingest.TagHolder
	samples []sample
	invalid []string
}

func (c *collector) Sample(metric []byte, ts int64, value float64) {
	tags := c.Current
	s := sample{metric: string(metric), ts: ts, value: value}
	for i, t := range tags {
		if i > 0 {
			s.tags += ","
		}
		s.tags += string(t.Key) + "=" + string(t.Value)
	}
	c.samples = append(c.samples, s)
}

func (c *collector) Invalid(r ingest.Reason, err error) {
	c.invalid = append(c.invalid, fmt.Sprintf("%s: %v", r, err))
}

// want lists the samples of b in reading and field order, with the tags
// the format carries.
func want(b *batch.Batch, tags func(r *sensor.Reading) string) []sample {
	var out []sample
	for i := range b.Readings {
		r := &b.Readings[i]
		for f, field := range r.Kind.Fields() {
			out = append(out, sample{field.Metric, tags(r), r.TS, r.Float(f)})
		}
	}
	return out
}

func TestPlatformDecodesJSON(t *testing.T) {
	b := generated(t, 120)
	d, err := jsonbatch.New(jsonbatch.Options{})
	require.NoError(t, err)
	var c collector
	res, err := d.Decode(AppendJSON(nil, b), &c)
	require.NoError(t, err)
	require.Empty(t, c.invalid)
	require.Equal(t, int64(b.Seq), res.Seq)
	require.Equal(t, want(b, func(r *sensor.Reading) string {
		return "device=" + string(r.AppendDeviceID(nil)) + ",kind=" + r.Kind.String()
	}), c.samples)
}

func TestPlatformDecodesLineProtocol(t *testing.T) {
	b := generated(t, 120)
	d, err := lineproto.New(lineproto.Options{})
	require.NoError(t, err)
	var c collector
	_, err = d.Decode(AppendLineProtocol(nil, b), 0, &c)
	require.NoError(t, err)
	require.Empty(t, c.invalid)
	require.Equal(t, want(b, func(r *sensor.Reading) string {
		return "device=" + string(r.AppendDeviceID(nil)) + ",kind=" + r.Kind.String()
	}), c.samples)
}

// sparkplugSession feeds messages to the platform's edge node session.
func sparkplugSession(t *testing.T, node *sparkplug.EdgeNode, buf []byte, msgs []SparkplugMessage) collector {
	t.Helper()
	var c collector
	for _, m := range msgs {
		topic, err := sparkplug.ParseTopic(m.Topic)
		require.NoError(t, err)
		_, err = node.Decode(topic, buf[m.Start:m.End], 1, &c)
		require.NoError(t, err, m.Topic)
	}
	// The online series is the platform's own; the simulator does not send it.
	kept := c.samples[:0]
	for _, s := range c.samples {
		if s.metric != sparkplug.OnlineMetric {
			kept = append(kept, s)
		}
	}
	c.samples = kept
	return c
}

func TestPlatformDecodesSparkplug(t *testing.T) {
	b := generated(t, 120)
	var kinds []sensor.Kind
	var numbers []uint16
	seen := map[uint32]bool{}
	for _, r := range b.Readings[:100] { // devices of the first 100 readings
		if key := uint32(r.Kind)<<16 | uint32(r.Device); !seen[key] {
			seen[key] = true
			kinds, numbers = append(kinds, r.Kind), append(numbers, r.Device)
		}
	}
	last := b.Readings[len(b.Readings)-1]
	kinds, numbers = kinds[:len(kinds)-1], numbers[:len(numbers)-1] // one device is born on the fly
	require.False(t, kinds[len(kinds)-1] == last.Kind && numbers[len(numbers)-1] == last.Device)

	enc := NewSparkplugEncoder("can-tho", "ct-gw-001", kinds, numbers)
	node, err := sparkplug.NewEdgeNode("can-tho", "ct-gw-001", sparkplug.Options{})
	require.NoError(t, err)
	buf, msgs := enc.AppendBirths(nil, nil, 3, b.Readings[0].TS)
	require.Len(t, msgs, 1+len(kinds))
	require.Equal(t, "spBv1.0/can-tho/NBIRTH/ct-gw-001", msgs[0].Topic)
	c := sparkplugSession(t, node, buf, msgs)
	require.Empty(t, c.samples, "births carry no values")
	require.Empty(t, c.invalid)

	for round, historical := range []bool{false, true} {
		buf, msgs = enc.AppendData(buf[:0], msgs[:0], b, historical)
		if round == 0 {
			require.Equal(t, "DBIRTH", msgs[0].Topic[len("spBv1.0/can-tho/"):len("spBv1.0/can-tho/DBIRTH")])
		}
		c = sparkplugSession(t, node, buf, msgs)
		require.Empty(t, c.invalid)
		// DDATA groups readings by device: compare as multisets.
		require.ElementsMatch(t, want(b, func(r *sensor.Reading) string {
			return "device=" + string(r.AppendDeviceID(nil))
		}), c.samples)
		var p pb.Payload
		require.NoError(t, proto.Unmarshal(buf[msgs[len(msgs)-1].Start:msgs[len(msgs)-1].End], &p))
		require.Equal(t, historical, p.Metrics[0].GetIsHistorical())
	}
	st := node.Stats()
	require.Zero(t, st.SequenceGaps, "sequence numbers run without gaps")
	require.Zero(t, st.UnknownMetrics)
	require.Equal(t, uint64(1+len(kinds)+1), st.Births)

	// A new connection starts a new session.
	buf, msgs = enc.AppendBirths(buf[:0], msgs[:0], 4, b.Readings[0].TS)
	require.Len(t, msgs, 1+len(kinds)+1)
	sparkplugSession(t, node, buf, msgs)
	require.Zero(t, node.Stats().SequenceGaps)

	death := AppendSparkplugDeath(nil, 4, 5)
	topic, err := sparkplug.ParseTopic(enc.NodeTopic("NDEATH"))
	require.NoError(t, err)
	var dc collector
	_, err = node.Decode(topic, death, 6, &dc)
	require.NoError(t, err)
	require.Equal(t, uint64(1), node.Stats().Deaths, "the death matches the session's bdSeq")
}

func TestIsRebirthRequest(t *testing.T) {
	cmd := func(v bool) []byte {
		b, err := proto.Marshal(&pb.Payload{Metrics: []*pb.Payload_Metric{{Name: proto.String(SparkplugRebirth),
			Value: &pb.Payload_Metric_BooleanValue{BooleanValue: v}}}})
		require.NoError(t, err)
		return b
	}
	require.True(t, IsRebirthRequest(cmd(true)))
	require.False(t, IsRebirthRequest(cmd(false)))
	require.False(t, IsRebirthRequest([]byte{0xff, 0xff}))
}

func TestPlatformRefusesMalformed(t *testing.T) {
	b := generated(t, 3)
	jd, err := jsonbatch.New(jsonbatch.Options{})
	require.NoError(t, err)
	ld, err := lineproto.New(lineproto.Options{})
	require.NoError(t, err)
	for v := range uint64(MalformedVariants) {
		t.Run("json/"+strconv.Itoa(int(v)), func(t *testing.T) {
			var c collector
			_, err := jd.Decode(AppendMalformed(nil, JSON, v, b), &c)
			require.Empty(t, c.samples)
			require.True(t, err != nil || len(c.invalid) > 0)
		})
		t.Run("lp/"+strconv.Itoa(int(v)), func(t *testing.T) {
			var c collector
			_, err := ld.Decode(AppendMalformed(nil, LineProtocol, v, b), 0, &c)
			require.Empty(t, c.samples)
			require.True(t, err != nil || len(c.invalid) > 0)
		})
		t.Run("sparkplug/"+strconv.Itoa(int(v)), func(t *testing.T) {
			enc := NewSparkplugEncoder("can-tho", "ct-gw-001", []sensor.Kind{b.Readings[0].Kind}, []uint16{b.Readings[0].Device})
			node, err := sparkplug.NewEdgeNode("can-tho", "ct-gw-001", sparkplug.Options{})
			require.NoError(t, err)
			buf, msgs := enc.AppendBirths(nil, nil, 0, 1)
			sparkplugSession(t, node, buf, msgs)
			topic, err := sparkplug.ParseTopic(enc.DataTopic(b.Readings[0].Kind, b.Readings[0].Device))
			require.NoError(t, err)
			var c collector
			_, err = node.Decode(topic, AppendMalformed(nil, Sparkplug, v, b), 2, &c)
			require.Empty(t, c.samples)
			require.True(t, err != nil || len(c.invalid) > 0)
		})
	}
}

func TestSparkplugDataDoesNotAllocate(t *testing.T) {
	b := generated(t, 200)
	var kinds []sensor.Kind
	var numbers []uint16
	for _, r := range b.Readings[:16] {
		kinds, numbers = append(kinds, r.Kind), append(numbers, r.Device)
	}
	enc := NewSparkplugEncoder("can-tho", "ct-gw-001", kinds, numbers)
	buf, msgs := enc.AppendData(nil, nil, b, false)
	allocs := testing.AllocsPerRun(20, func() { buf, msgs = enc.AppendData(buf[:0], msgs[:0], b, false) })
	require.Zero(t, allocs)
}

func BenchmarkAppendSparkplugData(b *testing.B) {
	bt := generated(b, 500)
	enc := NewSparkplugEncoder("can-tho", "ct-gw-001", nil, nil)
	buf, msgs := enc.AppendData(nil, nil, bt, false)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		buf, msgs = enc.AppendData(buf[:0], msgs[:0], bt, false)
	}
	b.ReportMetric(float64(b.N)*500/b.Elapsed().Seconds(), "readings/s")
	b.ReportMetric(float64(len(buf))/500, "bytes/reading")
}

// TestSparkplugDataMatchesProtoMarshal checks the hand-written DDATA
// against the generated types: unmarshalled and marshalled again by
// proto, every message comes back byte for byte, with the values, aliases
// and timestamps of the readings.
func TestSparkplugDataMatchesProtoMarshal(t *testing.T) {
	b := generated(t, 64)
	enc := NewSparkplugEncoder("can-tho", "ct-gw-001", nil, nil)
	for _, historical := range []bool{false, true} {
		buf, msgs := enc.AppendData(nil, nil, b, historical)
		data := 0
		for _, m := range msgs {
			var p pb.Payload
			require.NoError(t, proto.Unmarshal(buf[m.Start:m.End], &p))
			again, err := proto.MarshalOptions{Deterministic: true}.Marshal(&p)
			require.NoError(t, err)
			require.Equal(t, buf[m.Start:m.End], again, m.Topic)
			if p.GetMetrics()[0].GetName() != "" {
				continue // a DBIRTH
			}
			data++
			for _, mt := range p.GetMetrics() {
				require.Equal(t, historical, mt.GetIsHistorical())
				require.NotZero(t, mt.GetAlias())
				require.NotZero(t, mt.GetTimestamp())
				_, ok := mt.GetValue().(*pb.Payload_Metric_DoubleValue)
				require.True(t, ok)
			}
		}
		require.Equal(t, 16, data, "one DDATA per device")
	}
}
