package broker_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/stretchr/testify/require"

	"github.com/quantrac/quantrac/broker"
)

// mixedNode admits the gateways of its file and, for the tests' own
// publishers and subscribers, anonymous clients.
func mixedNode(t *testing.T, dataDir, file string) *node {
	t.Helper()
	return startNode(t, dataDir, true, broker.Settings{GatewaysFile: file})
}

const cmdTopic = "telemetry/ha-noi/hn-gw-001/cmd/"

// command publishes a QoS 1 command to the Hà Nội gateway, as an anonymous
// client (the platform's stand-in).
func command(t *testing.T, srv *node, name, payload string) {
	t.Helper()
	c, ack := dialRaw(t, srv.MQTTAddr(), connectOpts{clientID: "platform-" + name, clean: true})
	require.Equal(t, byte(0), ack.ReasonCode)
	puback, err := c.publish(cmdTopic+name, payload, 1, 1)
	require.NoError(t, err)
	require.Equal(t, byte(0), puback.ReasonCode)
}

func expectCommand(t *testing.T, c *rawClient, name string) packets.Packet {
	t.Helper()
	pk, err := c.read()
	require.NoError(t, err)
	require.Equal(t, packets.Publish, pk.FixedHeader.Type)
	require.Equal(t, cmdTopic+name, pk.TopicName)
	require.Equal(t, byte(1), pk.FixedHeader.Qos)
	return pk
}

// TestPersistentSessionRedelivery holds MQTT's promise for a persistent
// session: a QoS 1 message queued while the gateway is away, or sent and not
// acknowledged, is delivered when it reconnects, across a broker restart too.
func TestPersistentSessionRedelivery(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "gateways")
	writeGateways(t, file, hanoi)
	dataDir := filepath.Join(dir, "data")
	srv := mixedNode(t, dataDir, file)
	persistent := connectOpts{clientID: hanoi.id, username: hanoi.id, password: hanoi.password, sessionExpiry: 3600}

	gwc, ack := dialRaw(t, srv.MQTTAddr(), persistent)
	require.False(t, ack.SessionPresent)
	require.Equal(t, []byte{1}, gwc.subscribe(1, cmdTopic+"#"))
	gwc.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}})

	command(t, srv, "reboot", "queued while away")
	gwc, ack = dialRaw(t, srv.MQTTAddr(), persistent)
	require.True(t, ack.SessionPresent)
	// mochi sets DUP on everything it sends from a resumed session, even a
	// first delivery; the flag is advisory, so this test does not check it.
	pk := expectCommand(t, gwc, "reboot")
	require.Equal(t, "queued while away", string(pk.Payload))
	// Lose the connection without acknowledging: the message is sent again.
	gwc.conn.Close()
	eventually(t, "the server to see the gateway gone", func() bool {
		return metric(t, srv, `quantrac_mqtt_gateways_connected{province="ha-noi"}`) == 0
	})
	gwc, _ = dialRaw(t, srv.MQTTAddr(), persistent)
	pk = expectCommand(t, gwc, "reboot")
	require.True(t, pk.FixedHeader.Dup, "a redelivery carries DUP")
	gwc.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Puback}, PacketID: pk.PacketID})
	gwc.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}})

	// Queue one more, then restart the broker.
	command(t, srv, "calibrate", "queued before the restart")
	eventually(t, "the gateway to be away", func() bool {
		return metric(t, srv, `quantrac_mqtt_gateways_connected{province="ha-noi"}`) == 0
	})
	require.NoError(t, srv.stop())
	srv = mixedNode(t, dataDir, file)

	gwc, ack = dialRaw(t, srv.MQTTAddr(), persistent)
	require.True(t, ack.SessionPresent, "the session survives the restart")
	pk = expectCommand(t, gwc, "calibrate")
	require.Equal(t, "queued before the restart", string(pk.Payload))
	gwc.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Puback}, PacketID: pk.PacketID})
	// The subscription survived too: a new command arrives, and the
	// acknowledged "reboot" is not sent again.
	command(t, srv, "ping", "after the restart")
	pk = expectCommand(t, gwc, "ping")
	require.False(t, pk.FixedHeader.Dup)
	require.Equal(t, "after the restart", string(pk.Payload))
}

// TestMosquittoSubResumesAPersistentSession: the real mosquitto_sub, MQTT
// 3.1.1 with clean session off, receives a command queued while it was away.
func TestMosquittoSubResumesAPersistentSession(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "gateways")
	writeGateways(t, file, hanoi)
	srv := mixedNode(t, filepath.Join(dir, "data"), file)
	gwc, _ := dialRaw(t, srv.MQTTAddr(), connectOpts{v: 4, clientID: hanoi.id, username: hanoi.id, password: hanoi.password})
	require.Equal(t, []byte{1}, gwc.subscribe(1, cmdTopic+"#"))
	gwc.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}})
	command(t, srv, "open-valve", "42")

	host, port := hostPort(t, srv.MQTTAddr())
	out, err := mosquitto(t, 10*time.Second, "mosquitto_sub", "-h", host, "-p", port, "-V", "mqttv311", "-c",
		"-i", hanoi.id, "-u", hanoi.id, "-P", hanoi.password, "-q", "1", "-t", cmdTopic+"#", "-C", "1", "-v")
	require.NoError(t, err, out)
	require.Equal(t, cmdTopic+"open-valve 42\n", out)
}

// TestWillMessages: a gateway lost without DISCONNECT has its will
// published and, on a data topic, stored like a reading; a clean
// DISCONNECT sends none; a will on a topic the gateway may not publish on
// is refused at CONNECT.
func TestWillMessages(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "gateways")
	writeGateways(t, file, hanoi)
	srv := mixedNode(t, filepath.Join(dir, "data"), file)
	ts := time.Now().UnixMilli()
	const willTopic = "telemetry/ha-noi/hn-gw-001/json"

	sub, _ := dialRaw(t, srv.MQTTAddr(), connectOpts{clientID: "watcher", clean: true})
	require.Equal(t, []byte{1}, sub.subscribe(1, willTopic))

	for _, v := range []byte{4, 5} {
		gwc, ack := dialRaw(t, srv.MQTTAddr(), connectOpts{v: v, clientID: hanoi.id, username: hanoi.id,
			password: hanoi.password, clean: true, willTopic: willTopic, willPayload: reading("clean-exit", ts, float64(v))})
		require.Equal(t, byte(0), ack.ReasonCode)
		gwc.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}})
		eventually(t, "the clean disconnect", func() bool {
			return metric(t, srv, `quantrac_mqtt_gateways_connected{province="ha-noi"}`) == 0
		})

		gwc, _ = dialRaw(t, srv.MQTTAddr(), connectOpts{v: v, clientID: hanoi.id, username: hanoi.id,
			password: hanoi.password, clean: true, willTopic: willTopic, willPayload: reading("lost", ts, float64(v))})
		gwc.conn.Close()
		pk, err := sub.read()
		require.NoError(t, err)
		require.Equal(t, willTopic, pk.TopicName)
		require.Equal(t, reading("lost", ts, float64(v)), string(pk.Payload))
		require.False(t, pk.FixedHeader.Retain)
		eventually(t, "the will to be stored", func() bool {
			return query(t, srv, temp, ts)["ha-noi/hn-gw-001/lost"] == map[byte]string{4: "4", 5: "5"}[v]
		})
	}
	require.NotContains(t, query(t, srv, temp, ts), "ha-noi/hn-gw-001/clean-exit", "a will sent after a clean DISCONNECT")

	for _, topic := range []string{"telemetry/ho-chi-minh/hc-gw-001/json", cmdTopic + "x", "anything/else"} {
		_, ack := dialRaw(t, srv.MQTTAddr(), connectOpts{clientID: hanoi.id, username: hanoi.id,
			password: hanoi.password, clean: true, willTopic: topic, willPayload: "x"})
		require.Equal(t, packets.ErrNotAuthorized.Code, ack.ReasonCode, topic)
	}
	require.Equal(t, 3.0, metric(t, srv, `quantrac_mqtt_refusals_total{reason="will_topic"}`))
}
