package broker_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/stretchr/testify/require"

	"github.com/quantrac/quantrac/broker"
)

const temp = "air_temperature_celsius"

var (
	hanoi  = gw{id: "hn-gw-001", prov: "ha-noi", password: "hanoi-secret-password"}
	saigon = gw{id: "hc-gw-001", prov: "ho-chi-minh", password: "saigon-secret-password"}
)

// securedNode starts a node that admits only the gateways in its file.
func securedNode(t *testing.T, gws ...gw) (*node, string) {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "gateways")
	writeGateways(t, file, gws...)
	return startNode(t, filepath.Join(dir, "data"), false, broker.Settings{GatewaysFile: file}), file
}

func TestMosquittoPublishesOverTCP(t *testing.T) {
	srv, _ := securedNode(t, hanoi, saigon)
	host, port := hostPort(t, srv.MQTTAddr())
	ts := time.Now().UnixMilli()
	for i, v := range []string{"mqttv311", "mqttv5"} {
		t.Run(v, func(t *testing.T) {
			out, err := mosquitto(t, 10*time.Second, "mosquitto_pub", "-h", host, "-p", port, "-V", v,
				"-i", hanoi.id, "-u", hanoi.id, "-P", hanoi.password, "-q", "1",
				"-t", "telemetry/ha-noi/hn-gw-001/json", "-m", reading("d-"+v, ts, 20+float64(i)))
			require.NoError(t, err, out)
			got := query(t, srv, temp, ts)
			require.Equal(t, fmt.Sprint(20+i), got["ha-noi/hn-gw-001/d-"+v])
		})
	}
	// An empty client id is assigned the gateway id.
	out, err := mosquitto(t, 10*time.Second, "mosquitto_pub", "-h", host, "-p", port, "-V", "mqttv5",
		"-u", saigon.id, "-P", saigon.password, "-q", "1",
		"-t", "telemetry/ho-chi-minh/hc-gw-001/json", "-m", reading("d1", ts, 31))
	require.NoError(t, err, out)
	require.Equal(t, "31", query(t, srv, temp, ts)["ho-chi-minh/hc-gw-001/d1"])
}

func TestWrongPasswordIsRefused(t *testing.T) {
	srv, _ := securedNode(t, hanoi)
	host, port := hostPort(t, srv.MQTTAddr())
	ts := time.Now().UnixMilli()
	tests := []struct {
		name, version, user, password, want string
	}{
		{"wrong password 3.1.1", "mqttv311", hanoi.id, "not-the-password", "bad user name or password"},
		{"wrong password 5", "mqttv5", hanoi.id, "not-the-password", "Bad User Name or Password"},
		{"unknown gateway", "mqttv5", "hn-gw-999", hanoi.password, "Bad User Name or Password"},
		{"no credentials 3.1.1", "mqttv311", "", "", "not authorised"},
		{"no credentials 5", "mqttv5", "", "", "Not authorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"-h", host, "-p", port, "-V", tt.version, "-q", "1",
				"-t", "telemetry/ha-noi/hn-gw-001/json", "-m", reading("wrong", ts, 1)}
			if tt.user != "" {
				args = append(args, "-u", tt.user, "-P", tt.password)
			}
			out, err := mosquitto(t, 10*time.Second, "mosquitto_pub", args...)
			require.Error(t, err, "publish with bad credentials succeeded: %s", out)
			require.Contains(t, out, tt.want)
		})
	}
	require.Empty(t, query(t, srv, temp, ts), "a refused client's reading was stored")
	require.Equal(t, 3.0, metric(t, srv, `quantrac_mqtt_refusals_total{reason="bad_credentials"}`))
	require.Equal(t, 2.0, metric(t, srv, `quantrac_mqtt_refusals_total{reason="no_credentials"}`))
}

func TestClientIDMustBeTheGatewayID(t *testing.T) {
	srv, _ := securedNode(t, hanoi, saigon)
	for _, v := range []byte{4, 5} {
		_, ack := dialRaw(t, srv.MQTTAddr(), connectOpts{v: v, clientID: saigon.id, username: hanoi.id, password: hanoi.password, clean: true})
		want := packets.ErrClientIdentifierNotValid.Code
		if v == 4 {
			want = packets.Err3ClientIdentifierNotValid.Code
		}
		require.Equal(t, want, ack.ReasonCode, "protocol %d", v)
	}
	// mochi's own inline client id is never available.
	_, ack := dialRaw(t, srv.MQTTAddr(), connectOpts{clientID: "inline", username: hanoi.id, password: hanoi.password, clean: true})
	require.Equal(t, packets.ErrClientIdentifierNotValid.Code, ack.ReasonCode)
	require.Equal(t, 3.0, metric(t, srv, `quantrac_mqtt_refusals_total{reason="client_id"}`))
}

// A gateway publishing into another province's topics, or another
// gateway's, is refused as MQTT requires, and nothing of it is stored.
func TestPublishIntoAnotherProvinceIsRefused(t *testing.T) {
	srv, _ := securedNode(t, hanoi, saigon)
	ts := time.Now().UnixMilli()
	foreign := []string{
		"telemetry/ho-chi-minh/hc-gw-001/json", // another province's gateway
		"telemetry/ho-chi-minh/hn-gw-001/json", // own id, another province
		"telemetry/ha-noi/hn-gw-002/json",      // own province, another gateway
		"spBv1.0/ho-chi-minh/NDATA/hn-gw-001",  // Sparkplug, another province
		"telemetry/ha-noi/hn-gw-001/errors",    // the platform's topic
		"telemetry/ha-noi/hn-gw-001/cmd/reboot",
	}
	t.Run("MQTT 5 QoS 1 gets PUBACK 0x87", func(t *testing.T) {
		c, ack := dialRaw(t, srv.MQTTAddr(), connectOpts{clientID: hanoi.id, username: hanoi.id, password: hanoi.password, clean: true})
		require.Equal(t, byte(0), ack.ReasonCode)
		for i, topic := range foreign {
			puback, err := c.publish(topic, reading("spoof", ts, 99), 1, uint16(i+1))
			require.NoError(t, err)
			require.Equal(t, packets.Puback, puback.FixedHeader.Type)
			require.Equal(t, packets.ErrNotAuthorized.Code, puback.ReasonCode, topic)
		}
		// The same connection may still publish its own readings.
		puback, err := c.publish("telemetry/ha-noi/hn-gw-001/json", reading("own", ts, 21), 1, 100)
		require.NoError(t, err)
		require.Equal(t, byte(0), puback.ReasonCode)
	})
	t.Run("MQTT 3.1.1 QoS 1 is disconnected", func(t *testing.T) {
		c, ack := dialRaw(t, srv.MQTTAddr(), connectOpts{v: 4, clientID: hanoi.id, username: hanoi.id, password: hanoi.password, clean: true})
		require.Equal(t, byte(0), ack.ReasonCode)
		c.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1},
			TopicName: foreign[0], Payload: []byte(reading("spoof", ts, 98)), PacketID: 1})
		require.True(t, c.closedByServer(), "a 3.1.1 client publishing where it may not must be disconnected")
	})
	t.Run("QoS 0 is dropped", func(t *testing.T) {
		c, _ := dialRaw(t, srv.MQTTAddr(), connectOpts{clientID: hanoi.id, username: hanoi.id, password: hanoi.password, clean: true})
		_, err := c.publish(foreign[0], reading("spoof", ts, 97), 0, 0)
		require.NoError(t, err)
		puback, err := c.publish("telemetry/ha-noi/hn-gw-001/json", reading("own-after-qos0", ts, 22), 1, 1)
		require.NoError(t, err)
		require.Equal(t, byte(0), puback.ReasonCode)
	})
	t.Run("mosquitto_pub MQTT 5 is told", func(t *testing.T) {
		host, port := hostPort(t, srv.MQTTAddr())
		out, _ := mosquitto(t, 10*time.Second, "mosquitto_pub", "-h", host, "-p", port, "-V", "mqttv5", "-d",
			"-u", hanoi.id, "-P", hanoi.password, "-q", "1", "-t", foreign[0], "-m", reading("spoof", ts, 96))
		require.Contains(t, out, "received PUBACK (Mid: 1, RC:135)", out)
	})

	got := query(t, srv, temp, ts)
	for k := range got {
		require.NotContains(t, k, "spoof", "a refused publish was stored")
	}
	require.Equal(t, map[string]string{"ha-noi/hn-gw-001/own": "21", "ha-noi/hn-gw-001/own-after-qos0": "22"}, got)
	n := metric(t, srv, `quantrac_mqtt_refusals_total{reason="publish_not_authorized"}`)
	require.Equal(t, float64(len(foreign)+3), n)
}

func TestSubscriptionsAreLimitedToOwnTopics(t *testing.T) {
	srv, _ := securedNode(t, hanoi)
	allowed := []string{
		"telemetry/ha-noi/hn-gw-001/errors",
		"telemetry/ha-noi/hn-gw-001/cmd/#",
		"telemetry/ha-noi/hn-gw-001/cmd/+",
		"telemetry/ha-noi/hn-gw-001/cmd/reboot",
		"spBv1.0/ha-noi/NCMD/hn-gw-001",
		"spBv1.0/ha-noi/DCMD/hn-gw-001/+",
		"spBv1.0/STATE/+",
	}
	refused := []string{
		"telemetry/ha-noi/hn-gw-002/errors",
		"telemetry/ha-noi/#",
		"telemetry/+/hn-gw-001/errors",
		"telemetry/ha-noi/hn-gw-001/json",
		"#",
		"$SYS/#",
		"$share/g/telemetry/ha-noi/hn-gw-001/errors",
		"spBv1.0/ha-noi/NDATA/hn-gw-001",
	}
	for _, v := range []byte{4, 5} {
		c, _ := dialRaw(t, srv.MQTTAddr(), connectOpts{v: v, clientID: hanoi.id, username: hanoi.id, password: hanoi.password, clean: true})
		codes := c.subscribe(1, append(append([]string{}, allowed...), refused...)...)
		wantRefused := packets.ErrNotAuthorized.Code
		if v == 4 {
			wantRefused = 0x80
		}
		for i, f := range allowed {
			require.Equal(t, byte(1), codes[i], "protocol %d, %s", v, f)
		}
		for i, f := range refused {
			require.Equal(t, wantRefused, codes[len(allowed)+i], "protocol %d, %s", v, f)
		}
	}
	require.Equal(t, float64(2*len(refused)), metric(t, srv, `quantrac_mqtt_refusals_total{reason="subscribe_not_authorized"}`))
}

// A gateway's refusals reach it on its own error topic.
func TestRefusalsAreReportedOnTheErrorTopic(t *testing.T) {
	srv, _ := securedNode(t, hanoi)
	c, _ := dialRaw(t, srv.MQTTAddr(), connectOpts{v: 4, clientID: hanoi.id, username: hanoi.id, password: hanoi.password, clean: true})
	require.Equal(t, []byte{1}, c.subscribe(1, "telemetry/ha-noi/hn-gw-001/errors"))
	// MQTT 3.1.1 has no negative PUBACK: a refused payload is acknowledged
	// and reported.
	// The report is published while the PUBACK is being decided, so the
	// two may arrive in either order.
	first, err := c.publish("telemetry/ha-noi/hn-gw-001/json", `{"readings": [`, 1, 2)
	require.NoError(t, err)
	second, err := c.read()
	require.NoError(t, err)
	puback, report := first, second
	if first.FixedHeader.Type == packets.Publish {
		puback, report = second, first
	}
	require.Equal(t, packets.Puback, puback.FixedHeader.Type)
	require.Equal(t, packets.Publish, report.FixedHeader.Type)
	require.Equal(t, "telemetry/ha-noi/hn-gw-001/errors", report.TopicName)
	var r struct{ Topic, Reason, Error string }
	require.NoError(t, json.Unmarshal(report.Payload, &r), string(report.Payload))
	require.Equal(t, "telemetry/ha-noi/hn-gw-001/json", r.Topic)
	require.Equal(t, "syntax", r.Reason)
	require.NotEmpty(t, r.Error)
	require.Equal(t, 1.0, metric(t, srv, `quantrac_mqtt_refusals_total{reason="payload_invalid"}`))
}
