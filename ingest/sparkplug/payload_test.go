package sparkplug

import (
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	pb "github.com/quantrac/quantrac/ingest/sparkplug/sparkplugpb"
)

const (
	group  = "ha-noi"
	gwID   = "hn-gw-001"
	tsBase = uint64(1764748800000)
)

func topic(t testing.TB, s string) Topic {
	tp, err := ParseTopic(s)
	require.NoError(t, err)
	return tp
}

func nodeTopic(t testing.TB, verb string) Topic {
	return topic(t, "spBv1.0/"+group+"/"+verb+"/"+gwID)
}

func devTopic(t testing.TB, verb, dev string) Topic {
	return topic(t, "spBv1.0/"+group+"/"+verb+"/"+gwID+"/"+dev)
}

func marshal(t testing.TB, p *pb.Payload) []byte {
	b, err := proto.Marshal(p)
	require.NoError(t, err)
	return b
}

// Metric builders for tests and the simulator-like fixtures below.

func named(name string, alias uint64, dt pb.DataType) *pb.Payload_Metric {
	return &pb.Payload_Metric{Name: proto.String(name), Alias: proto.Uint64(alias), Datatype: proto.Uint32(uint32(dt))}
}

func aliased(alias uint64) *pb.Payload_Metric {
	return &pb.Payload_Metric{Alias: proto.Uint64(alias)}
}

func withTS(m *pb.Payload_Metric, ts uint64) *pb.Payload_Metric {
	m.Timestamp = proto.Uint64(ts)
	return m
}

func withDouble(m *pb.Payload_Metric, v float64) *pb.Payload_Metric {
	m.Value = &pb.Payload_Metric_DoubleValue{DoubleValue: v}
	return m
}

func withFloat(m *pb.Payload_Metric, v float32) *pb.Payload_Metric {
	m.Value = &pb.Payload_Metric_FloatValue{FloatValue: v}
	return m
}

func withInt(m *pb.Payload_Metric, v uint32) *pb.Payload_Metric {
	m.Value = &pb.Payload_Metric_IntValue{IntValue: v}
	return m
}

func withLong(m *pb.Payload_Metric, v uint64) *pb.Payload_Metric {
	m.Value = &pb.Payload_Metric_LongValue{LongValue: v}
	return m
}

func withBool(m *pb.Payload_Metric, v bool) *pb.Payload_Metric {
	m.Value = &pb.Payload_Metric_BooleanValue{BooleanValue: v}
	return m
}

func withString(m *pb.Payload_Metric, v string) *pb.Payload_Metric {
	m.Value = &pb.Payload_Metric_StringValue{StringValue: v}
	return m
}

func payload(ts uint64, seq *uint64, metrics ...*pb.Payload_Metric) *pb.Payload {
	p := &pb.Payload{Metrics: metrics, Seq: seq}
	if ts != 0 {
		p.Timestamp = proto.Uint64(ts)
	}
	return p
}

// nbirth is a node birth with bdSeq, the mandatory Node Control/Rebirth
// metric, a string property and one numeric metric.
func nbirth(bdSeq uint64) *pb.Payload {
	return payload(tsBase, proto.Uint64(0),
		withLong(named("bdSeq", 0, pb.DataType_UInt64), bdSeq),
		withBool(named("Node Control/Rebirth", 1, pb.DataType_Boolean), false),
		withString(named("Properties/Hardware Make", 2, pb.DataType_String), "Advantech"),
		withTS(withDouble(named("Supply Voltage", 3, pb.DataType_Double), 12.1), tsBase),
	)
}

// stationFields are the metrics of the benchmark's weather station devices,
// one per data type that becomes a sample.
var stationFields = []struct {
	name string
	dt   pb.DataType
}{
	{"Sensors/Air Temperature", pb.DataType_Float},
	{"Sensors/Relative Humidity", pb.DataType_Double},
	{"Sensors/Air Pressure", pb.DataType_Double},
	{"Sensors/Wind Speed", pb.DataType_Float},
	{"Counters/Rain Tips", pb.DataType_UInt32},
	{"Status/Door Open", pb.DataType_Boolean},
}

func stationValue(m *pb.Payload_Metric, dt pb.DataType, i int) *pb.Payload_Metric {
	switch dt {
	case pb.DataType_Float:
		return withFloat(m, 20+float32(i%100)/10)
	case pb.DataType_Double:
		return withDouble(m, 1000+float64(i%100)/10)
	case pb.DataType_UInt32:
		return withInt(m, uint32(i))
	default:
		return withBool(m, i%7 == 0)
	}
}

// stationBirth is the DBIRTH of a device with readings/len(stationFields)
// stations' worth of metrics, aliases 100, 101, ...
func stationBirth(readings int, seq uint64) *pb.Payload {
	p := payload(tsBase, proto.Uint64(seq))
	for i := range readings {
		f := stationFields[i%len(stationFields)]
		name := f.name + " " + string(rune('A'+i/len(stationFields)%26)) + string(rune('a'+i/len(stationFields)/26))
		p.Metrics = append(p.Metrics, withTS(stationValue(named(name, uint64(100+i), f.dt), f.dt, i), tsBase))
	}
	return p
}

// stationData is a DDATA carrying every metric of stationBirth by alias,
// each with its own timestamp.
func stationData(readings int, seq uint64) *pb.Payload {
	p := payload(tsBase+1000, proto.Uint64(seq))
	for i := range readings {
		f := stationFields[i%len(stationFields)]
		p.Metrics = append(p.Metrics, withTS(stationValue(aliased(uint64(100+i)), f.dt, i+1), tsBase+1000+uint64(i)))
	}
	return p
}
