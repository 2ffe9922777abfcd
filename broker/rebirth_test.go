package broker_test

import (
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/quantrac/quantrac/ingest/sparkplug"
	pb "github.com/quantrac/quantrac/ingest/sparkplug/sparkplugpb"
)

// A gateway whose Sparkplug data refers to metrics the platform never saw
// born (the platform restarted after the births, say) is sent an NCMD
// asking for a rebirth, and asked again only after a pause.
func TestUnknownSparkplugMetricsRequestARebirth(t *testing.T) {
	srv, _ := securedNode(t, hanoi)
	c, err := pahoConnect(t, "tcp://"+srv.MQTTAddr(), hanoi.id, hanoi.password, nil)
	require.NoError(t, err)

	cmds := make(chan []byte, 8)
	tok := c.Subscribe("spBv1.0/ha-noi/NCMD/hn-gw-001", 1, func(_ paho.Client, m paho.Message) {
		cmds <- m.Payload()
	})
	require.True(t, tok.WaitTimeout(5*time.Second))
	require.NoError(t, tok.Error())

	ndata := func(seq uint64) string {
		b, err := proto.Marshal(&pb.Payload{
			Timestamp: proto.Uint64(uint64(time.Now().UnixMilli())),
			Seq:       proto.Uint64(seq),
			Metrics: []*pb.Payload_Metric{{
				Alias: proto.Uint64(7),
				Value: &pb.Payload_Metric_DoubleValue{DoubleValue: 21.5},
			}},
		})
		require.NoError(t, err)
		return string(b)
	}
	pahoPublish(t, c, "spBv1.0/ha-noi/NDATA/hn-gw-001", ndata(0))

	select {
	case body := <-cmds:
		var p pb.Payload
		require.NoError(t, proto.Unmarshal(body, &p))
		require.Len(t, p.GetMetrics(), 1)
		require.Equal(t, sparkplug.RebirthMetric, p.GetMetrics()[0].GetName())
		require.True(t, p.GetMetrics()[0].GetBooleanValue())
	case <-time.After(5 * time.Second):
		t.Fatal("no rebirth request on the gateway's NCMD topic")
	}

	// More unknown data right away is not a reason to ask again.
	pahoPublish(t, c, "spBv1.0/ha-noi/NDATA/hn-gw-001", ndata(1))
	select {
	case <-cmds:
		t.Fatal("a second rebirth request within the pause")
	case <-time.After(300 * time.Millisecond):
	}
	require.Equal(t, 1.0, metric(t, srv, "quantrac_sparkplug_rebirth_requests_total"))
}
