package broker_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestSysTopicsAndMetrics reads the broker's figures as an operator does:
// $SYS topics with mosquitto_sub (anonymous clients may read them in
// development mode; gateways may not) and /metrics.
func TestSysTopicsAndMetrics(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "gateways")
	writeGateways(t, file, hanoi, saigon)
	srv := mixedNode(t, filepath.Join(dir, "data"), file)
	host, port := hostPort(t, srv.MQTTAddr())

	out, err := mosquitto(t, 10*time.Second, "mosquitto_sub", "-h", host, "-p", port, "-V", "mqttv5",
		"-t", "$SYS/quantrac/gateways/configured", "-t", "$SYS/broker/version", "-C", "2", "-v")
	require.NoError(t, err, out)
	require.Contains(t, out, "$SYS/quantrac/gateways/configured 2\n")
	require.Contains(t, out, "$SYS/broker/version ")

	ts := time.Now().UnixMilli()
	c, _ := dialRaw(t, srv.MQTTAddr(), connectOpts{clientID: hanoi.id, username: hanoi.id, password: hanoi.password, clean: true})
	payload := reading("m1", ts, 1)
	puback, err := c.publish("telemetry/ha-noi/hn-gw-001/json", payload, 1, 1)
	require.NoError(t, err)
	require.Equal(t, byte(0), puback.ReasonCode)
	// A gateway may not read $SYS.
	require.Equal(t, []byte{0x87}, c.subscribe(2, "$SYS/#"))

	require.Equal(t, 1.0, metric(t, srv, `quantrac_mqtt_gateways_connected{province="ha-noi"}`))
	require.Equal(t, 0.0, metric(t, srv, `quantrac_mqtt_gateways_connected{province="ho-chi-minh"}`))
	require.Equal(t, 2.0, metric(t, srv, "quantrac_mqtt_gateways_configured"))
	require.Equal(t, 1.0, metric(t, srv, "quantrac_mqtt_messages_received_total"))
	require.Equal(t, float64(len(payload)), metric(t, srv, "quantrac_mqtt_payload_bytes_received_total"))
	require.Equal(t, 1.0, metric(t, srv, `quantrac_mqtt_refusals_total{reason="subscribe_not_authorized"}`))
	for _, reason := range []string{"bad_credentials", "rate_limited", "publish_not_authorized", "connect_timeout"} {
		require.Equal(t, 0.0, metric(t, srv, `quantrac_mqtt_refusals_total{reason="`+reason+`"}`), reason)
	}
}
