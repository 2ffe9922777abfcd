package broker_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/stretchr/testify/require"

	"github.com/quantrac/quantrac/broker"
)

// TestReadingsReachSubscribers: the broker skips looking for subscribers to
// readings until a filter that can match a data topic is subscribed to
// (broker/fanout.go); from then on readings are delivered, to a wildcard
// subscriber and to a persistent session restored after a restart.
func TestReadingsReachSubscribers(t *testing.T) {
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	srv := startNode(t, dataDir, true, broker.Settings{})
	const topic = "telemetry/ha-noi/hn-gw-001/json"
	ts := time.Now().UnixMilli()

	gwc, _ := dialRaw(t, srv.MQTTAddr(), connectOpts{clientID: "hn-gw-001", clean: true})
	_, err := gwc.publish(topic, reading("before", ts, 1), 0, 0)
	require.NoError(t, err)
	eventually(t, "the first reading", func() bool { return query(t, srv, temp, ts)["ha-noi/hn-gw-001/before"] == "1" })

	persistent := connectOpts{clientID: "watcher", sessionExpiry: 3600}
	sub, _ := dialRaw(t, srv.MQTTAddr(), persistent)
	require.Equal(t, []byte{1}, sub.subscribe(1, "telemetry/+/+/json"))
	_, err = gwc.publish(topic, reading("watched", ts, 2), 0, 0)
	require.NoError(t, err)
	pk, err := sub.read()
	require.NoError(t, err)
	require.Equal(t, topic, pk.TopicName)
	require.Equal(t, reading("watched", ts, 2), string(pk.Payload))
	sub.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}})

	// The watcher's subscription comes back from the session store; the
	// watcher resumes it without subscribing again.
	require.NoError(t, srv.stop())
	srv = startNode(t, dataDir, true, broker.Settings{})
	sub, ack := dialRaw(t, srv.MQTTAddr(), persistent)
	require.True(t, ack.SessionPresent)
	gwc, _ = dialRaw(t, srv.MQTTAddr(), connectOpts{clientID: "hn-gw-001", clean: true})
	_, err = gwc.publish(topic, reading("resumed", ts, 3), 0, 0)
	require.NoError(t, err)
	pk, err = sub.read()
	require.NoError(t, err)
	require.Equal(t, topic, pk.TopicName)
	require.Equal(t, reading("resumed", ts, 3), string(pk.Payload))
}
