package sparkplug

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	pb "github.com/quantrac/quantrac/ingest/sparkplug/sparkplugpb"

	"github.com/quantrac/quantrac/ingest"
)

// FuzzSparkplug feeds arbitrary payloads, under each message type, to a
// session that has seen an NBIRTH and a DBIRTH, and checks: no panic; every
// metric name valid and one device tag; finite values; counts that match
// the calls; no Sink call for a refused message. Where proto.Unmarshal
// accepts the payload, the wire walker must agree with it on the header and
// on every metric it decodes. Seeds: f.Add below and
// testdata/fuzz/FuzzSparkplug.
func FuzzSparkplug(f *testing.F) {
	f.Add(uint8(DDATA), marshal(f, stationData(6, 2)))
	f.Add(uint8(NDATA), marshal(f, payload(tsBase, proto.Uint64(1), withDouble(aliased(3), 1))))
	f.Add(uint8(NBIRTH), marshal(f, nbirth(3)))
	f.Add(uint8(DBIRTH), marshal(f, stationBirth(12, 1)))
	f.Add(uint8(NDEATH), marshal(f, payload(0, nil, withLong(named("bdSeq", 0, pb.DataType_UInt64), 1))))
	f.Add(uint8(DDEATH), marshal(f, payload(tsBase, proto.Uint64(3))))
	f.Fuzz(func(t *testing.T, typ uint8, data []byte) {
		n, err := NewEdgeNode(group, gwID, Options{MaxReadings: 64, MaxDevices: 2})
		require.NoError(t, err)
		decode(t, n, nodeTopic(t, "NBIRTH"), nbirth(1))
		decode(t, n, devTopic(t, "DBIRTH", "station-1"), stationBirth(12, 1))

		tp := Topic{Group: group, EdgeNode: gwID, Type: MessageType(typ%uint8(STATE)) + 1}
		if tp.Type.deviceLevel() {
			tp.Device = "station-1"
		}
		sink := checkingSink{t: t}
		res, err := n.Decode(tp, data, now, &sink)
		require.Equal(t, sink.samples, res.Samples)
		require.Equal(t, sink.invalid, res.Invalid)
		if err != nil {
			var pe *ingest.PayloadError
			require.True(t, errors.As(err, &pe), "error %v is not a *ingest.PayloadError", err)
			require.Zero(t, sink.samples+sink.invalid, "refused message made Sink calls")
		}
		checkWalker(t, data)
	})
}

// checkWalker compares readHeader and readMetric with proto.Unmarshal.
func checkWalker(t *testing.T, data []byte) {
	var p pb.Payload
	if proto.Unmarshal(data, &p) != nil {
		return
	}
	h, err := readHeader(data)
	require.NoError(t, err, "proto.Unmarshal accepts what readHeader refuses")
	require.Equal(t, len(p.Metrics), h.metrics)
	require.Equal(t, p.Timestamp != nil, h.hasTS)
	require.Equal(t, p.GetTimestamp(), h.ts)
	require.Equal(t, p.Seq != nil, h.hasSeq)
	require.Equal(t, p.GetSeq(), h.seq)
	b := data
	for _, want := range p.Metrics {
		raw, rest, ok := nextMetric(b)
		require.True(t, ok)
		b = rest
		got, err := readMetric(raw)
		if err != nil {
			continue // a known field with an unexpected wire type
		}
		require.Equal(t, want.Name != nil, got.hasName)
		require.Equal(t, want.GetName(), string(got.name))
		require.Equal(t, want.GetAlias(), got.alias)
		require.Equal(t, want.GetTimestamp(), got.ts)
		require.Equal(t, want.GetDatatype(), got.datatype)
		require.Equal(t, want.GetIsNull(), got.isNull)
		switch v := want.Value.(type) {
		case *pb.Payload_Metric_IntValue:
			require.Equal(t, metricInt, got.valueField)
			require.Equal(t, uint64(v.IntValue), got.value&0xFFFFFFFF)
		case *pb.Payload_Metric_LongValue:
			require.Equal(t, metricLong, got.valueField)
			require.Equal(t, v.LongValue, got.value)
		case *pb.Payload_Metric_DoubleValue:
			require.Equal(t, metricDouble, got.valueField)
		case *pb.Payload_Metric_FloatValue:
			require.Equal(t, metricFloat, got.valueField)
		case *pb.Payload_Metric_BooleanValue:
			require.Equal(t, metricBool, got.valueField)
			require.Equal(t, v.BooleanValue, got.value != 0)
		}
	}
}
