package broker_test

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/require"

	"github.com/quantrac/quantrac/broker"
)

func pahoConnect(t *testing.T, url, id, password string, tlsConf *tls.Config) (paho.Client, error) {
	t.Helper()
	opts := paho.NewClientOptions().AddBroker(url).SetClientID(id).SetUsername(id).SetPassword(password).
		SetConnectTimeout(5 * time.Second).SetAutoReconnect(false).SetTLSConfig(tlsConf).
		SetProtocolVersion(4) // no fallback to 3.1 after a refusal
	c := paho.NewClient(opts)
	tok := c.Connect()
	require.True(t, tok.WaitTimeout(10*time.Second), "connect timed out")
	if tok.Error() != nil {
		return nil, tok.Error()
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c, nil
}

func pahoPublish(t *testing.T, c paho.Client, topic, payload string) {
	t.Helper()
	tok := c.Publish(topic, 1, false, payload)
	require.True(t, tok.WaitTimeout(10*time.Second), "PUBACK timed out")
	require.NoError(t, tok.Error())
}

// TestPahoOverWebSocket publishes with paho over ws:// and wss://, and
// checks that the WebSocket listener authenticates like the others.
func TestPahoOverWebSocket(t *testing.T) {
	pki := newTestPKI(t)
	cert, key := pki.issue(t, "quantrac ws node", true)
	dir := t.TempDir()
	file := filepath.Join(dir, "gateways")
	writeGateways(t, file, hanoi)
	plain := startNode(t, filepath.Join(dir, "ws"), false, broker.Settings{GatewaysFile: file, WSAddr: "127.0.0.1:0"})
	secure := startNode(t, filepath.Join(dir, "wss"), false, broker.Settings{GatewaysFile: file, WSAddr: "127.0.0.1:0",
		WSTLS: true, TLSCertFile: cert, TLSKeyFile: key})
	ca, err := os.ReadFile(pki.CAFile)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	ts := time.Now().UnixMilli()

	c, err := pahoConnect(t, "ws://"+plain.MQTTWSAddr()+"/mqtt", hanoi.id, hanoi.password, nil)
	require.NoError(t, err)
	pahoPublish(t, c, "telemetry/ha-noi/hn-gw-001/json", reading("over-ws", ts, 24.5))
	require.Equal(t, map[string]string{"ha-noi/hn-gw-001/over-ws": "24.5"}, query(t, plain, temp, ts))

	c, err = pahoConnect(t, "wss://"+secure.MQTTWSAddr()+"/mqtt", hanoi.id, hanoi.password, &tls.Config{RootCAs: pool})
	require.NoError(t, err)
	pahoPublish(t, c, "telemetry/ha-noi/hn-gw-001/json", reading("over-wss", ts, 25.5))
	require.Equal(t, map[string]string{"ha-noi/hn-gw-001/over-wss": "25.5"}, query(t, secure, temp, ts))

	_, err = pahoConnect(t, "ws://"+plain.MQTTWSAddr()+"/mqtt", hanoi.id, "wrong password", nil)
	require.Error(t, err)
	require.Equal(t, 1.0, metric(t, plain, `quantrac_mqtt_refusals_total{reason="bad_credentials"}`))
}
