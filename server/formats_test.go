package server

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	pb "github.com/quantrac/quantrac/ingest/sparkplug/sparkplugpb"
)

// Line protocol over MQTT, as Telegraf's MQTT output sends it: nanosecond
// timestamps, the device as a tag, several fields per line, each becoming
// measurement_field.
func TestLineProtocolOverMQTT(t *testing.T) {
	srv := startServer(t, t.TempDir())
	defer srv.Close()
	c := pahoClient(t, srv.MQTTAddr(), "hu-gw-002")
	defer c.Disconnect(100)

	ts := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	publish(t, c, "telemetry/hue/hu-gw-002/lp", fmt.Sprintf(
		"weather,device=aws-7,site=citadel air_temperature_celsius=29.1,relative_humidity_percent=77i %d\n"+
			"weather,device=aws-8 air_temperature_celsius=28.4 %d\n", ts.UnixNano(), ts.UnixNano()))

	got := queryAt(t, srv.HTTPAddr(), `weather_air_temperature_celsius{province="hue"}`, ts.UnixMilli())
	require.Len(t, got, 2)
	byDevice := map[string]sample{}
	for _, s := range got {
		byDevice[s.Metric["device"]] = s
	}
	require.Equal(t, map[string]string{
		"__name__": "weather_air_temperature_celsius", "province": "hue", "gateway": "hu-gw-002",
		"device": "aws-7", "site": "citadel",
	}, byDevice["aws-7"].Metric)
	require.Equal(t, "29.1", byDevice["aws-7"].Value[1])
	require.Equal(t, "28.4", byDevice["aws-8"].Value[1])
	got = queryAt(t, srv.HTTPAddr(), `weather_relative_humidity_percent`, ts.UnixMilli())
	require.Len(t, got, 1)
	require.Equal(t, "77", got[0].Value[1])
}

// A Sparkplug B edge node over MQTT: NBIRTH, DBIRTH binding aliases, DDATA
// by alias; the values and the online series come back through PromQL.
func TestSparkplugOverMQTT(t *testing.T) {
	srv := startServer(t, t.TempDir())
	defer srv.Close()
	c := pahoClient(t, srv.MQTTAddr(), "dn-gw-001")
	defer c.Disconnect(100)

	ts := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	ms := uint64(ts.UnixMilli())
	msg := func(seq uint64, at uint64, metrics ...*pb.Payload_Metric) string {
		b, err := proto.Marshal(&pb.Payload{Timestamp: proto.Uint64(at), Seq: proto.Uint64(seq), Metrics: metrics})
		require.NoError(t, err)
		return string(b)
	}
	dt := func(d pb.DataType) *uint32 { v := uint32(d); return &v }

	publish(t, c, "spBv1.0/da-nang/NBIRTH/dn-gw-001", msg(0, ms,
		&pb.Payload_Metric{Name: proto.String("bdSeq"), Datatype: dt(pb.DataType_UInt64), Value: &pb.Payload_Metric_LongValue{LongValue: 0}},
		&pb.Payload_Metric{Name: proto.String("Supply Voltage"), Alias: proto.Uint64(1), Datatype: dt(pb.DataType_Double),
			Value: &pb.Payload_Metric_DoubleValue{DoubleValue: 12.1}},
	))
	publish(t, c, "spBv1.0/da-nang/DBIRTH/dn-gw-001/pump-1", msg(1, ms,
		&pb.Payload_Metric{Name: proto.String("Flow Rate"), Alias: proto.Uint64(10), Datatype: dt(pb.DataType_Float),
			Value: &pb.Payload_Metric_FloatValue{FloatValue: 3.5}},
	))
	publish(t, c, "spBv1.0/da-nang/DDATA/dn-gw-001/pump-1", msg(2, ms+1000,
		&pb.Payload_Metric{Alias: proto.Uint64(10), Value: &pb.Payload_Metric_FloatValue{FloatValue: 4.25}},
	))

	got := queryAt(t, srv.HTTPAddr(), `flow_rate`, ts.UnixMilli()+1000)
	require.Len(t, got, 1)
	require.Equal(t, map[string]string{
		"__name__": "flow_rate", "province": "da-nang", "gateway": "dn-gw-001", "device": "pump-1",
	}, got[0].Metric)
	require.Equal(t, "4.25", got[0].Value[1])

	got = queryAt(t, srv.HTTPAddr(), `supply_voltage`, ts.UnixMilli())
	require.Len(t, got, 1)
	require.Equal(t, "12.1", got[0].Value[1])
	require.Equal(t, "dn-gw-001", got[0].Metric["device"])

	got = queryAt(t, srv.HTTPAddr(), `sparkplug_online`, ts.UnixMilli()+1000)
	require.Len(t, got, 2, "the node and its device are online")
	for _, s := range got {
		require.Equal(t, "1", s.Value[1])
	}
}
