package broker_test

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/stretchr/testify/require"

	"github.com/quantrac/quantrac/broker"
)

func limitedNode(t *testing.T, s broker.Settings, gws ...gw) *node {
	t.Helper()
	dir := t.TempDir()
	s.GatewaysFile = filepath.Join(dir, "gateways")
	writeGateways(t, s.GatewaysFile, gws...)
	return startNode(t, filepath.Join(dir, "data"), false, s)
}

func TestRateLimit(t *testing.T) {
	ts := time.Now().UnixMilli()
	t.Run("MQTT 5 QoS 1 over the limit is refused with 0x96", func(t *testing.T) {
		srv := limitedNode(t, broker.Settings{RateLimit: 0.001, RateBurst: 2}, hanoi)
		c, _ := dialRaw(t, srv.MQTTAddr(), connectOpts{clientID: hanoi.id, username: hanoi.id, password: hanoi.password, clean: true})
		for i, want := range []byte{0, 0, packets.ErrMessageRateTooHigh.Code} {
			puback, err := c.publish("telemetry/ha-noi/hn-gw-001/json", reading("d"+string(rune('0'+i)), ts, float64(i)), 1, uint16(i+1))
			require.NoError(t, err)
			require.Equal(t, want, puback.ReasonCode, "publish %d", i)
		}
		require.Equal(t, map[string]string{"ha-noi/hn-gw-001/d0": "0", "ha-noi/hn-gw-001/d1": "1"}, query(t, srv, temp, ts))
		// The bucket belongs to the gateway, not the connection.
		c, _ = dialRaw(t, srv.MQTTAddr(), connectOpts{clientID: hanoi.id, username: hanoi.id, password: hanoi.password, clean: true})
		puback, err := c.publish("telemetry/ha-noi/hn-gw-001/json", reading("again", ts, 9), 1, 1)
		require.NoError(t, err)
		require.Equal(t, packets.ErrMessageRateTooHigh.Code, puback.ReasonCode)
		require.Equal(t, 2.0, metric(t, srv, `quantrac_mqtt_refusals_total{reason="rate_limited"}`))
	})
	t.Run("MQTT 3.1.1 over the limit is slowed, not refused", func(t *testing.T) {
		srv := limitedNode(t, broker.Settings{RateLimit: 2, RateBurst: 1}, hanoi)
		c, _ := dialRaw(t, srv.MQTTAddr(), connectOpts{v: 4, clientID: hanoi.id, username: hanoi.id, password: hanoi.password, clean: true})
		for i := range 3 {
			_, err := c.publish("telemetry/ha-noi/hn-gw-001/json", reading("q0-"+string(rune('0'+i)), ts, float64(i)), 0, 0)
			require.NoError(t, err)
		}
		puback, err := c.publish("telemetry/ha-noi/hn-gw-001/json", reading("q1", ts, 3), 1, 1)
		require.NoError(t, err)
		require.Equal(t, packets.Puback, puback.FixedHeader.Type)
		eventually(t, "all four readings stored", func() bool { return len(query(t, srv, temp, ts)) == 4 })
		// Each publish after the first waits up to half a second for its
		// token, unless the one before took that long to store.
		require.GreaterOrEqual(t, metric(t, srv, "quantrac_mqtt_publishes_throttled_total"), 1.0)
		require.Equal(t, 0.0, metric(t, srv, `quantrac_mqtt_refusals_total{reason="rate_limited"}`))
	})
}

func TestMaxConnections(t *testing.T) {
	srv := limitedNode(t, broker.Settings{MaxConnections: 3, ConnectTimeout: time.Minute}, hanoi)
	var held []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", srv.MQTTAddr())
		require.NoError(t, err)
		defer c.Close()
		held = append(held, c)
	}
	eventually(t, "three open connections", func() bool { return metric(t, srv, "quantrac_mqtt_connections_open") == 3 })
	over, err := net.Dial("tcp", srv.MQTTAddr())
	require.NoError(t, err)
	_ = over.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = over.Read(make([]byte, 1))
	require.Error(t, err, "the connection over the limit must be closed")
	require.False(t, isTimeout(err), "the connection over the limit was left open")
	require.Equal(t, 1.0, metric(t, srv, `quantrac_mqtt_refusals_total{reason="max_connections"}`))

	held[0].Close()
	eventually(t, "the slot to come free", func() bool { return metric(t, srv, "quantrac_mqtt_connections_open") == 2 })
	_, ack := dialRaw(t, srv.MQTTAddr(), connectOpts{clientID: hanoi.id, username: hanoi.id, password: hanoi.password, clean: true})
	require.Equal(t, byte(0), ack.ReasonCode)
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// A connection that never sends CONNECT is closed after ConnectTimeout
// rather than holding its goroutine and buffers for ever.
func TestConnectTimeout(t *testing.T) {
	srv := limitedNode(t, broker.Settings{ConnectTimeout: 200 * time.Millisecond}, hanoi)
	c, err := net.Dial("tcp", srv.MQTTAddr())
	require.NoError(t, err)
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, err = c.Read(make([]byte, 1))
	require.Error(t, err)
	require.False(t, isTimeout(err), "the silent connection was not closed by the server")
	eventually(t, "the refusal to be counted", func() bool {
		return metric(t, srv, `quantrac_mqtt_refusals_total{reason="connect_timeout"}`) == 1
	})
}

func TestKeepaliveIsEnforced(t *testing.T) {
	srv := limitedNode(t, broker.Settings{MaxKeepalive: time.Minute}, hanoi, saigon)
	_, ack := dialRaw(t, srv.MQTTAddr(), connectOpts{clientID: hanoi.id, username: hanoi.id, password: hanoi.password, clean: true, keepalive: 0})
	require.True(t, ack.Properties.ServerKeepAliveFlag, "a client asking for no keepalive is given one")
	require.Equal(t, uint16(60), ack.Properties.ServerKeepAlive)
	_, ack = dialRaw(t, srv.MQTTAddr(), connectOpts{clientID: saigon.id, username: saigon.id, password: saigon.password, clean: true, keepalive: 3600})
	require.Equal(t, uint16(60), ack.Properties.ServerKeepAlive)
	c, ack := dialRaw(t, srv.MQTTAddr(), connectOpts{clientID: hanoi.id, username: hanoi.id, password: hanoi.password, clean: true, keepalive: 30})
	require.False(t, ack.Properties.ServerKeepAliveFlag, "a keepalive within the limit is the client's")
	c.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pingreq}})
	pk, err := c.read()
	require.NoError(t, err)
	require.Equal(t, packets.Pingresp, pk.FixedHeader.Type)
}

func TestPacketSizeLimit(t *testing.T) {
	srv := limitedNode(t, broker.Settings{MaxPacketSize: 2048}, hanoi)
	c, _ := dialRaw(t, srv.MQTTAddr(), connectOpts{clientID: hanoi.id, username: hanoi.id, password: hanoi.password, clean: true})
	payload := `{"readings":[{"device":"big","ts":1,"fields":{"x":1}}],"pad":"` + strings.Repeat("x", 4096) + `"}`
	c.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1},
		TopicName: "telemetry/ha-noi/hn-gw-001/json", Payload: []byte(payload), PacketID: 1})
	require.True(t, c.closedByServer(), "a packet over the limit must end the connection")
	eventually(t, "the refusal to be counted", func() bool {
		return metric(t, srv, `quantrac_mqtt_refusals_total{reason="packet_too_large"}`) == 1
	})
}
