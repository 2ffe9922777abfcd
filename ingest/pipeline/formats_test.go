package pipeline

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/quantrac/quantrac/ingest"
	"github.com/quantrac/quantrac/ingest/sparkplug/sparkplugpb"
)

func lpPayload(n int, ts int64) []byte {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "weather,device=aws-%04d air_temperature_celsius=%d.%d,relative_humidity_percent=8%d.5 %d\n",
			i%10, 20+i%10, i%10, i%10, (ts+int64(i)*1000)*1_000_000)
	}
	return []byte(b.String())
}

func TestLineProtocolLabelsAndRefusals(t *testing.T) {
	st := &memStore{done: doneCommit(t)}
	p := newTestPipeline(t, st)
	ts := now.Add(-time.Minute).UnixMilli()
	payload := fmt.Sprintf("river,device=wl-01,basin=red water_level_meters=3.42 %d\nbroken line\nriver,device=wl-02 value=1.5 %d\n",
		ts*1_000_000, ts*1_000_000)
	res, err := p.Ingest(&Message{Identity: Identity{"ha-noi", "hn-gw-002"}, Format: FormatLineProtocol, Payload: []byte(payload)}, true)
	require.NoError(t, err)
	require.Equal(t, 2, res.Accepted)
	require.Equal(t, 1, res.Rejected)
	require.Equal(t, labels.FromStrings("__name__", "river_water_level_meters", "basin", "red", "device", "wl-01",
		"gateway", "hn-gw-002", "province", "ha-noi"), st.lset(st.samples.Refs[0]))
	require.Equal(t, labels.FromStrings("__name__", "river", "device", "wl-02",
		"gateway", "hn-gw-002", "province", "ha-noi"), st.lset(st.samples.Refs[1]))
	require.Equal(t, []float64{3.42, 1.5}, st.samples.Vals)

	// A payload may not claim another gateway's identity through a tag: the
	// line parses, but is refused.
	before := len(st.samples.Refs)
	res, err = p.Ingest(&Message{Identity: Identity{"ha-noi", "hn-gw-002"}, Format: FormatLineProtocol,
		Payload: []byte(fmt.Sprintf("m,gateway=other value=1 %d\n", ts*1_000_000))}, true)
	require.NoError(t, err)
	require.Zero(t, res.Accepted)
	require.Equal(t, 1, res.Rejected)
	require.Equal(t, ingest.ReasonLabel, res.FirstReason)
	require.Len(t, st.samples.Refs, before)
}

func TestLineProtocolPathDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not held under -race")
	}
	st := &memStore{done: doneCommit(t)}
	p := newTestPipeline(t, st)
	msg := &Message{Identity: Identity{"hue", "hu-gw-001"}, Format: FormatLineProtocol,
		Payload: lpPayload(100, now.Add(-time.Hour).UnixMilli())}
	_, err := p.Ingest(msg, true)
	require.NoError(t, err)
	allocs := testing.AllocsPerRun(100, func() {
		st.samples.Reset()
		if _, err := p.Ingest(msg, true); err != nil {
			t.Fatal(err)
		}
	})
	require.Zero(t, allocs, "allocations per message of 200 readings")
}

func sparkplugPayload(t *testing.T, seq uint64, ts int64, metrics ...*sparkplugpb.Payload_Metric) []byte {
	t.Helper()
	b, err := proto.Marshal(&sparkplugpb.Payload{Timestamp: proto.Uint64(uint64(ts)), Seq: proto.Uint64(seq), Metrics: metrics})
	require.NoError(t, err)
	return b
}

func doubleMetric(name string, alias uint64, v float64) *sparkplugpb.Payload_Metric {
	m := &sparkplugpb.Payload_Metric{Alias: proto.Uint64(alias),
		Datatype: proto.Uint32(uint32(sparkplugpb.DataType_Double)),
		Value:    &sparkplugpb.Payload_Metric_DoubleValue{DoubleValue: v}}
	if name != "" {
		m.Name = proto.String(name)
	}
	return m
}

func TestSparkplugBirthDataDeath(t *testing.T) {
	st := &memStore{done: doneCommit(t)}
	p := newTestPipeline(t, st)
	id := Identity{"dong-nai", "dg-gw-001"}
	ts := now.Add(-time.Minute).UnixMilli()
	send := func(topic string, payload []byte) Result {
		t.Helper()
		res, err := p.Ingest(&Message{Identity: id, Format: FormatSparkplug, Topic: topic, Payload: payload}, true)
		require.NoError(t, err)
		return res
	}
	bdSeq := &sparkplugpb.Payload_Metric{Name: proto.String("bdSeq"), Datatype: proto.Uint32(uint32(sparkplugpb.DataType_UInt64)),
		Value: &sparkplugpb.Payload_Metric_LongValue{LongValue: 0}}
	send("spBv1.0/dong-nai/NBIRTH/dg-gw-001", sparkplugPayload(t, 0, ts, bdSeq))
	send("spBv1.0/dong-nai/DBIRTH/dg-gw-001/pump-7", sparkplugPayload(t, 1, ts, doubleMetric("Motor/Current", 5, 12.5)))
	res := send("spBv1.0/dong-nai/DDATA/dg-gw-001/pump-7", sparkplugPayload(t, 2, ts+1000, doubleMetric("", 5, 13.25)))
	require.Equal(t, 1, res.Accepted)

	var current []float64
	for i, ref := range st.samples.Refs {
		l := st.lset(ref)
		require.Equal(t, "dong-nai", l.Get("province"))
		require.Equal(t, "dg-gw-001", l.Get("gateway"))
		if l.Get("__name__") == "motor_current" {
			require.Equal(t, "pump-7", l.Get("device"))
			current = append(current, st.samples.Vals[i])
		}
	}
	require.Equal(t, []float64{12.5, 13.25}, current)

	// A topic naming another edge node than the authenticated one is refused.
	_, err := p.Ingest(&Message{Identity: id, Format: FormatSparkplug, Topic: "spBv1.0/dong-nai/NDATA/other-gw",
		Payload: sparkplugPayload(t, 3, ts, doubleMetric("", 5, 1))}, true)
	var pe *PayloadError
	require.ErrorAs(t, err, &pe)
}
