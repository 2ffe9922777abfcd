package broker_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/stretchr/testify/require"
)

// rawClient speaks MQTT packet by packet, using mochi's codec, so that tests
// can see exactly which reason codes the broker sends: paho.mqtt.golang
// speaks 3.1.1 only, and mosquitto_pub prints only some of them.
type rawClient struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
	v    byte // protocol version: 4 (3.1.1) or 5
}

// connectOpts are the fields of CONNECT a test sets.
type connectOpts struct {
	v                  byte // 4 or 5; default 5
	clientID           string
	username, password string
	keepalive          uint16
	clean              bool
	sessionExpiry      uint32 // MQTT 5
	willTopic          string
	willPayload        string
	tls                *tls.Config // dial TLS with this configuration
}

// dialRaw connects and sends CONNECT, and returns the client and CONNACK.
func dialRaw(t testing.TB, addr string, o connectOpts) (*rawClient, packets.Packet) {
	t.Helper()
	if o.v == 0 {
		o.v = 5
	}
	var conn net.Conn
	var err error
	if o.tls != nil {
		conn, err = tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, o.tls)
	} else {
		conn, err = net.DialTimeout("tcp", addr, 5*time.Second)
	}
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	c := &rawClient{t: t, conn: conn, r: bufio.NewReader(conn), v: o.v}
	pk := packets.Packet{
		FixedHeader:     packets.FixedHeader{Type: packets.Connect},
		ProtocolVersion: o.v,
		Connect: packets.ConnectParams{
			ProtocolName:     []byte("MQTT"),
			ClientIdentifier: o.clientID,
			Keepalive:        o.keepalive,
			Clean:            o.clean,
		},
	}
	if o.username != "" {
		pk.Connect.UsernameFlag, pk.Connect.Username = true, []byte(o.username)
	}
	if o.password != "" {
		pk.Connect.PasswordFlag, pk.Connect.Password = true, []byte(o.password)
	}
	if o.sessionExpiry > 0 {
		pk.Properties.SessionExpiryInterval, pk.Properties.SessionExpiryIntervalFlag = o.sessionExpiry, true
	}
	if o.willTopic != "" {
		pk.Connect.WillFlag, pk.Connect.WillTopic, pk.Connect.WillPayload, pk.Connect.WillQos = true, o.willTopic, []byte(o.willPayload), 1
	}
	c.send(pk)
	ack, err := c.read()
	require.NoError(t, err, "reading CONNACK")
	require.Equal(t, packets.Connack, ack.FixedHeader.Type)
	return c, ack
}

func (c *rawClient) send(pk packets.Packet) {
	c.t.Helper()
	pk.ProtocolVersion = c.v
	var buf bytes.Buffer
	var err error
	switch pk.FixedHeader.Type {
	case packets.Connect:
		err = pk.ConnectEncode(&buf)
	case packets.Publish:
		err = pk.PublishEncode(&buf)
	case packets.Puback:
		err = pk.PubackEncode(&buf)
	case packets.Subscribe:
		err = pk.SubscribeEncode(&buf)
	case packets.Disconnect:
		err = pk.DisconnectEncode(&buf)
	case packets.Pingreq:
		err = pk.PingreqEncode(&buf)
	default:
		err = fmt.Errorf("rawClient cannot send packet type %d", pk.FixedHeader.Type)
	}
	require.NoError(c.t, err)
	_, err = c.conn.Write(buf.Bytes())
	require.NoError(c.t, err)
}

// read reads one packet, waiting at most 10 s.
func (c *rawClient) read() (packets.Packet, error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var pk packets.Packet
	hb, err := c.r.ReadByte()
	if err != nil {
		return pk, err
	}
	if err := pk.FixedHeader.Decode(hb); err != nil {
		return pk, err
	}
	n, _, err := packets.DecodeLength(c.r)
	if err != nil {
		return pk, err
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(c.r, body); err != nil {
		return pk, err
	}
	pk.ProtocolVersion = c.v
	pk.FixedHeader.Remaining = n
	switch pk.FixedHeader.Type {
	case packets.Connack:
		err = pk.ConnackDecode(body)
	case packets.Publish:
		err = pk.PublishDecode(body)
	case packets.Puback:
		err = pk.PubackDecode(body)
	case packets.Suback:
		err = pk.SubackDecode(body)
	case packets.Disconnect:
		err = pk.DisconnectDecode(body)
	case packets.Pingresp:
	default:
		err = fmt.Errorf("unexpected packet type %d", pk.FixedHeader.Type)
	}
	return pk, err
}

// publish sends a PUBLISH; for QoS 1 it returns the PUBACK.
func (c *rawClient) publish(topic, payload string, qos byte, id uint16) (packets.Packet, error) {
	c.t.Helper()
	c.send(packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: qos},
		TopicName:   topic, Payload: []byte(payload), PacketID: id,
	})
	if qos == 0 {
		return packets.Packet{}, nil
	}
	return c.read()
}

// subscribe subscribes to filters at QoS 1 and returns the SUBACK codes.
func (c *rawClient) subscribe(id uint16, filters ...string) []byte {
	c.t.Helper()
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, PacketID: id}
	for _, f := range filters {
		pk.Filters = append(pk.Filters, packets.Subscription{Filter: f, Qos: 1})
	}
	c.send(pk)
	ack, err := c.read()
	require.NoError(c.t, err)
	require.Equal(c.t, packets.Suback, ack.FixedHeader.Type)
	return ack.ReasonCodes
}

// closedByServer reports whether the server closed the connection (the
// next read ends without a packet, or with a DISCONNECT) rather than
// leaving it open.
func (c *rawClient) closedByServer() bool {
	for {
		pk, err := c.read()
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return false
		}
		if err != nil {
			return true
		}
		if pk.FixedHeader.Type == packets.Disconnect {
			return true
		}
		if pk.FixedHeader.Type != packets.Publish {
			return false
		}
	}
}
