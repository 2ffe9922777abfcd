package sparkplug

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/quantrac/quantrac/ingest"
	pb "github.com/quantrac/quantrac/ingest/sparkplug/sparkplugpb"
)

const now = int64(1764749999000)

func newNode(t testing.TB) *EdgeNode {
	n, err := NewEdgeNode(group, gwID, Options{})
	require.NoError(t, err)
	return n
}

func decode(t testing.TB, n *EdgeNode, tp Topic, p *pb.Payload) (*recorder, Result) {
	var r recorder
	res, err := n.Decode(tp, marshal(t, p), now, &r)
	require.NoError(t, err)
	require.Equal(t, len(r.samples), res.Samples)
	require.Equal(t, len(r.reasons), res.Invalid)
	return &r, res
}

func TestParseTopic(t *testing.T) {
	tests := []struct {
		in   string
		want Topic
		err  bool
	}{
		{in: "spBv1.0/ha-noi/NBIRTH/hn-gw-001", want: Topic{Group: "ha-noi", Type: NBIRTH, EdgeNode: "hn-gw-001"}},
		{in: "spBv1.0/ha-noi/DDATA/hn-gw-001/pump-3", want: Topic{Group: "ha-noi", Type: DDATA, EdgeNode: "hn-gw-001", Device: "pump-3"}},
		{in: "spBv1.0/STATE/scada-1", want: Topic{Type: STATE, HostID: "scada-1"}},
		{in: "spBv1.0/ha-noi/NCMD/hn-gw-001", want: Topic{Group: "ha-noi", Type: NCMD, EdgeNode: "hn-gw-001"}},
		{in: "spBv1.0/ha-noi/DDATA/hn-gw-001", err: true},
		{in: "spBv1.0/ha-noi/NDATA/hn-gw-001/x", err: true},
		{in: "spBv1.0/ha-noi/DDATA/hn-gw-001/x/y", err: true},
		{in: "spBv1.0/ha-noi/NSOMETHING/hn-gw-001", err: true},
		{in: "spAv1.0/ha-noi/NDATA/hn-gw-001", err: true},
		{in: "spBv1.0//NDATA/hn-gw-001", err: true},
		{in: "spBv1.0/ha-noi/NDATA/", err: true},
		{in: "spBv1.0/ha-noi/STATE/x", err: true},
		{in: "", err: true},
	}
	for _, tt := range tests {
		got, err := ParseTopic(tt.in)
		if tt.err {
			require.Error(t, err, tt.in)
			continue
		}
		require.NoError(t, err, tt.in)
		require.Equal(t, tt.want, got, tt.in)
	}
}

func TestAppendMetricName(t *testing.T) {
	for in, want := range map[string]string{
		"Sensors/Temperature Outdoor": "sensors_temperature_outdoor",
		"Node 2/Flow-Rate (m3/h)":     "node_2_flow_rate_m3_h",
		"already_snake_case":          "already_snake_case",
		"__Leading//and trailing__ ":  "leading_and_trailing",
		"1st Floor/Temp":              "_1st_floor_temp",
		"a:b":                         "a_b",
		"Nhiệt độ/Trạm 1":             "nhi_t_tr_m_1",
		"///":                         "",
		"":                            "",
	} {
		require.Equal(t, want, string(AppendMetricName([]byte("x"), []byte(in)))[1:], in)
	}
}

// TestSessionLifecycle runs an edge node through births, data by alias and
// by name, device and node deaths, and checks every Sink call.
func TestSessionLifecycle(t *testing.T) {
	n := newNode(t)
	r, _ := decode(t, n, nodeTopic(t, "NBIRTH"), nbirth(7))
	require.Equal(t, []sample{
		"sparkplug_online{device=hn-gw-001} 1764748800000 1",
		"supply_voltage{device=hn-gw-001} 1764748800000 12.1",
	}, r.samples)
	require.Equal(t, []ingest.Reason{ingest.ReasonValue}, r.reasons, "string property is skipped")

	r, _ = decode(t, n, devTopic(t, "DBIRTH", "pump-3"), payload(tsBase+1, proto.Uint64(1),
		withTS(withFloat(named("Pump/Flow Rate", 10, pb.DataType_Float), 2.5), tsBase+1),
		withInt(named("Pump/Running", 11, pb.DataType_Int8), 0xFFFFFFFF), // Int8 -1, sign-extended
		named("Pump/Pressure", 12, pb.DataType_Int16),                    // no value at birth
	))
	require.Equal(t, []sample{
		"sparkplug_online{device=pump-3} 1764748800001 1",
		"pump_flow_rate{device=pump-3} 1764748800001 2.5",
		"pump_running{device=pump-3} 1764748800001 -1",
	}, r.samples)
	require.Empty(t, r.reasons)

	r, res := decode(t, n, devTopic(t, "DDATA", "pump-3"), payload(tsBase+2000, proto.Uint64(2),
		withTS(withFloat(aliased(10), 3.25), tsBase+1500),
		withInt(aliased(12), 0xFF85), // Int16 -123 in the low bits
		withBool(aliased(11), true),  // wrong carrier for Int8
	))
	require.Equal(t, []sample{
		"pump_flow_rate{device=pump-3} 1764748801500 3.25",
		"pump_pressure{device=pump-3} 1764748802000 -123",
	}, r.samples)
	require.Equal(t, []ingest.Reason{ingest.ReasonValue}, r.reasons)
	require.False(t, res.Rebirth)

	r, _ = decode(t, n, nodeTopic(t, "NDATA"), payload(tsBase+3000, proto.Uint64(3),
		withDouble(&pb.Payload_Metric{Name: proto.String("Supply Voltage")}, 11.9), // by name
		withBool(aliased(1), true), // Node Control/Rebirth: not telemetry
	))
	require.Equal(t, []sample{"supply_voltage{device=hn-gw-001} 1764748803000 11.9"}, r.samples)
	require.Empty(t, r.reasons)

	r, _ = decode(t, n, devTopic(t, "DDEATH", "pump-3"), payload(tsBase+4000, proto.Uint64(4)))
	require.Equal(t, []sample{"sparkplug_online{device=pump-3} 1764748804000 0"}, r.samples)

	r, res = decode(t, n, devTopic(t, "DDATA", "pump-3"), payload(tsBase+5000, proto.Uint64(5), withFloat(aliased(10), 1)))
	require.Empty(t, r.samples)
	require.Equal(t, []ingest.Reason{ingest.ReasonUnknownAlias}, r.reasons, "a dead device's metrics are gone")
	require.True(t, res.Rebirth)

	decode(t, n, devTopic(t, "DBIRTH", "valve-1"), payload(tsBase, proto.Uint64(6)))
	r, _ = decode(t, n, nodeTopic(t, "NDEATH"), payload(0, nil, withLong(named("bdSeq", 0, pb.DataType_UInt64), 7)))
	require.Equal(t, []sample{
		"sparkplug_online{device=hn-gw-001} 1764749999000 0",
		"sparkplug_online{device=valve-1} 1764749999000 0",
	}, r.samples)

	require.Equal(t, Stats{Births: 3, Deaths: 2, UnknownMetrics: 1}, n.Stats())
}

func TestStaleDeathIsIgnored(t *testing.T) {
	n := newNode(t)
	decode(t, n, nodeTopic(t, "NBIRTH"), nbirth(8))
	r, _ := decode(t, n, nodeTopic(t, "NDEATH"), payload(0, nil, withLong(named("bdSeq", 0, pb.DataType_UInt64), 7)))
	require.Empty(t, r.samples, "the will of the previous connection")
	require.Equal(t, uint64(1), n.Stats().StaleDeaths)
	r, _ = decode(t, n, nodeTopic(t, "NDATA"), payload(tsBase, proto.Uint64(1), withDouble(aliased(3), 12)))
	require.Equal(t, []sample{"supply_voltage{device=hn-gw-001} 1764748800000 12"}, r.samples, "still alive")
}

func TestSequence(t *testing.T) {
	n := newNode(t)
	decode(t, n, nodeTopic(t, "NBIRTH"), nbirth(0))
	data := func(seq *uint64) *recorder {
		r, _ := decode(t, n, nodeTopic(t, "NDATA"), payload(tsBase, seq, withDouble(aliased(3), 1)))
		require.Len(t, r.samples, 1, "data is accepted whatever its seq")
		return r
	}
	for s := uint64(1); s <= 255; s++ {
		require.Empty(t, data(proto.Uint64(s)).reasons)
	}
	require.Empty(t, data(proto.Uint64(0)).reasons, "255 wraps to 0")
	r := data(proto.Uint64(5))
	require.Equal(t, []ingest.Reason{ingest.ReasonSequence}, r.reasons)
	require.ErrorContains(t, r.errs[0], "seq 5 after 0")
	require.Empty(t, data(proto.Uint64(6)).reasons, "counting resumes from the new value")
	require.Equal(t, []ingest.Reason{ingest.ReasonSequence}, data(nil).reasons)
	require.Equal(t, []ingest.Reason{ingest.ReasonSequence}, data(proto.Uint64(300)).reasons)
	require.Equal(t, uint64(3), n.Stats().SequenceGaps)
}

func TestDataBeforeBirth(t *testing.T) {
	n := newNode(t)
	r, res := decode(t, n, nodeTopic(t, "NDATA"), payload(tsBase, proto.Uint64(9),
		withDouble(aliased(3), 1), withDouble(&pb.Payload_Metric{Name: proto.String("x")}, 2)))
	require.Empty(t, r.samples)
	require.Equal(t, []ingest.Reason{ingest.ReasonUnknownAlias, ingest.ReasonUnknownAlias}, r.reasons)
	require.True(t, res.Rebirth)
	r, _ = decode(t, n, devTopic(t, "DDATA", "nobody"), payload(tsBase, proto.Uint64(10), withDouble(aliased(3), 1)))
	require.Equal(t, []ingest.Reason{ingest.ReasonUnknownAlias}, r.reasons)
}

// TestValueTypes fixes how each data type and carrier becomes a sample or
// an Invalid report.
func TestValueTypes(t *testing.T) {
	type tc struct {
		name string
		m    *pb.Payload_Metric
		want string // sample value, or "" for ReasonValue
	}
	tests := []tc{
		{"Int8 sign-extended", withInt(named("a", 1, pb.DataType_Int8), 0xFFFFFF80), "-128"},
		{"Int8 low byte", withInt(named("a", 1, pb.DataType_Int8), 0x80), "-128"},
		{"Int16", withInt(named("a", 1, pb.DataType_Int16), 0x7FFF), "32767"},
		{"Int32", withInt(named("a", 1, pb.DataType_Int32), 0xFFFFFFFE), "-2"},
		{"Int64", withLong(named("a", 1, pb.DataType_Int64), math.MaxUint64), "-1"},
		{"UInt8", withInt(named("a", 1, pb.DataType_UInt8), 200), "200"},
		{"UInt32", withInt(named("a", 1, pb.DataType_UInt32), math.MaxUint32), "4.294967295e+09"},
		{"UInt64", withLong(named("a", 1, pb.DataType_UInt64), 1<<63), "9.223372036854776e+18"},
		{"Float", withFloat(named("a", 1, pb.DataType_Float), 0.5), "0.5"},
		{"Double", withDouble(named("a", 1, pb.DataType_Double), -2.25), "-2.25"},
		{"Boolean", withBool(named("a", 1, pb.DataType_Boolean), true), "1"},
		{"Float NaN", withFloat(named("a", 1, pb.DataType_Float), float32(math.NaN())), ""},
		{"Double Inf", withDouble(named("a", 1, pb.DataType_Double), math.Inf(-1)), ""},
		{"String", withString(named("a", 1, pb.DataType_String), "x"), ""},
		{"DateTime", withLong(named("a", 1, pb.DataType_DateTime), 5), ""},
		{"Int32 in long_value", withLong(named("a", 1, pb.DataType_Int32), 5), ""},
		{"unknown type", withInt(named("a", 1, 99), 5), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newNode(t)
			r, _ := decode(t, n, nodeTopic(t, "NBIRTH"), payload(tsBase, proto.Uint64(0), tt.m))
			if tt.want == "" {
				require.Equal(t, []sample{"sparkplug_online{device=hn-gw-001} 1764748800000 1"}, r.samples)
				require.Equal(t, []ingest.Reason{ingest.ReasonValue}, r.reasons)
				return
			}
			require.Equal(t, sample("a{device=hn-gw-001} 1764748800000 "+tt.want), r.samples[1])
			require.Empty(t, r.reasons)
		})
	}
}

// TestMalformed fixes the outcome of bad messages: refused as a whole with
// a reason (and the session unchanged), or which metrics are skipped.
func TestMalformed(t *testing.T) {
	good := marshal(t, payload(tsBase, proto.Uint64(1), withDouble(aliased(3), 1)))
	badMetric := append([]byte{0x12, 0x03, 0x10, 0x03, 0x68}, good...) // alias 3, then a truncated double
	tests := []struct {
		name    string
		topic   Topic
		payload []byte
		opts    Options
		refuse  ingest.Reason
		samples int
		invalid []ingest.Reason
	}{
		{name: "truncated varint", topic: nodeTopic(t, "NDATA"), payload: []byte{0x08, 0xff}, refuse: ingest.ReasonSyntax},
		{name: "length past the end", topic: nodeTopic(t, "NDATA"), payload: []byte{0x12, 0x40, 0x10}, refuse: ingest.ReasonSyntax},
		{name: "field number zero", topic: nodeTopic(t, "NDATA"), payload: []byte{0x00, 0x01}, refuse: ingest.ReasonSyntax},
		{name: "another gateway's topic", topic: topic(t, "spBv1.0/ha-noi/NDATA/hn-gw-002"), payload: good, refuse: ingest.ReasonTopic},
		{name: "another province's topic", topic: topic(t, "spBv1.0/hue/NDATA/hn-gw-001"), payload: good, refuse: ingest.ReasonTopic},
		{name: "device type without device", topic: Topic{Group: group, EdgeNode: gwID, Type: DDATA}, payload: good, refuse: ingest.ReasonTopic},
		{name: "too many metrics", topic: nodeTopic(t, "NDATA"), payload: bytes.Repeat(good, 5), opts: Options{MaxReadings: 4},
			refuse: ingest.ReasonTooManyReadings},
		{name: "too many devices", topic: devTopic(t, "DBIRTH", "d2"), payload: good, opts: Options{MaxDevices: 1},
			refuse: ingest.ReasonSchema},
		{name: "broken metric skips that metric", topic: nodeTopic(t, "NDATA"), payload: badMetric,
			samples: 1, invalid: []ingest.Reason{ingest.ReasonSyntax}},
		{name: "no timestamp anywhere", topic: nodeTopic(t, "NDATA"),
			payload: marshal(t, payload(0, proto.Uint64(1), withDouble(aliased(3), 1))),
			invalid: []ingest.Reason{ingest.ReasonTimestamp}},
		{name: "empty payload is an empty message", topic: nodeTopic(t, "NDATA"), payload: nil,
			invalid: []ingest.Reason{ingest.ReasonSequence}},
		{name: "commands are ignored", topic: nodeTopic(t, "NCMD"), payload: []byte{0xff}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := NewEdgeNode(group, gwID, tt.opts)
			require.NoError(t, err)
			decode(t, n, nodeTopic(t, "NBIRTH"), nbirth(1))
			decode(t, n, devTopic(t, "DBIRTH", "d1"), payload(tsBase, proto.Uint64(0)))
			before := n.Stats()
			var r recorder
			res, err := n.Decode(tt.topic, tt.payload, now, &r)
			if tt.refuse != ingest.ReasonNone {
				var pe *ingest.PayloadError
				require.True(t, errors.As(err, &pe), "want a *ingest.PayloadError, got %v", err)
				require.Equal(t, tt.refuse, pe.Reason, "%v", err)
				require.Empty(t, r.samples)
				require.Empty(t, r.reasons)
				require.Equal(t, before, n.Stats())
				return
			}
			require.NoError(t, err)
			require.Len(t, r.samples, tt.samples)
			require.Equal(t, tt.invalid, r.reasons, "%v", r.errs)
			require.Equal(t, len(r.reasons), res.Invalid)
		})
	}
}

// TestDecodeAllocs holds data messages at zero allocations once the
// metrics are born.
func TestDecodeAllocs(t *testing.T) {
	n := newNode(t)
	decode(t, n, nodeTopic(t, "NBIRTH"), nbirth(1))
	decode(t, n, devTopic(t, "DBIRTH", "station-1"), stationBirth(100, 1))
	tp := devTopic(t, "DDATA", "station-1")
	var data [256][]byte
	for s := range data {
		data[s] = marshal(t, stationData(100, uint64(s)))
	}
	var sink countSink
	seq := 2
	allocs := testing.AllocsPerRun(300, func() {
		if _, err := n.Decode(tp, data[seq%256], now, &sink); err != nil {
			t.Fatal(err)
		}
		seq++
	})
	require.Zero(t, allocs, "allocations per 100-metric DDATA")
	require.Zero(t, sink.invalid)
	require.Zero(t, n.Stats().SequenceGaps)

	// Node data, by alias and by name, continuing the same sequence.
	var ndata [256][]byte
	for s := range ndata {
		ndata[s] = marshal(t, payload(tsBase, proto.Uint64(uint64(s)), withDouble(aliased(3), 12),
			withDouble(&pb.Payload_Metric{Name: proto.String("Supply Voltage")}, 12)))
	}
	ntp := nodeTopic(t, "NDATA")
	allocs = testing.AllocsPerRun(300, func() {
		if _, err := n.Decode(ntp, ndata[seq%256], now, &sink); err != nil {
			t.Fatal(err)
		}
		seq++
	})
	require.Zero(t, allocs, "allocations per NDATA")
	require.Zero(t, sink.invalid)
}
