package broker_test

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quantrac/quantrac/broker"
)

// TestMosquittoOverTLS runs the real mosquitto clients against the TLS
// listener, with a CA the test makes: passwords over TLS, and gateways
// identified by their client certificate alone.
func TestMosquittoOverTLS(t *testing.T) {
	pki := newTestPKI(t)
	serverCert, serverKey := pki.issue(t, "quantrac test node", true)
	byCert := gw{id: "dn-gw-007", prov: "da-nang", cn: "dn-gw-007.gateways.test"}
	dir := t.TempDir()
	file := filepath.Join(dir, "gateways")
	writeGateways(t, file, hanoi, byCert)
	srv := startNode(t, filepath.Join(dir, "data"), false, broker.Settings{
		GatewaysFile:    file,
		TLSAddr:         "127.0.0.1:0",
		TLSCertFile:     serverCert,
		TLSKeyFile:      serverKey,
		TLSClientCAFile: pki.CAFile,
	})
	host, port := hostPort(t, srv.MQTTTLSAddr())
	ts := time.Now().UnixMilli()
	pub := func(t *testing.T, extra ...string) (string, error) {
		return mosquitto(t, 10*time.Second, "mosquitto_pub", append([]string{"-h", host, "-p", port, "--cafile", pki.CAFile, "-q", "1"}, extra...)...)
	}

	for i, v := range []string{"mqttv311", "mqttv5"} {
		t.Run("password "+v, func(t *testing.T) {
			out, err := pub(t, "-V", v, "-u", hanoi.id, "-P", hanoi.password,
				"-t", "telemetry/ha-noi/hn-gw-001/json", "-m", reading("tls-"+v, ts, float64(10+i)))
			require.NoError(t, err, out)
		})
		t.Run("certificate "+v, func(t *testing.T) {
			cert, key := pki.issue(t, byCert.cn, false)
			out, err := pub(t, "-V", v, "--cert", cert, "--key", key,
				"-t", "telemetry/da-nang/dn-gw-007/json", "-m", reading("cert-"+v, ts, float64(30+i)))
			require.NoError(t, err, out)
		})
	}
	require.Equal(t, map[string]string{
		"ha-noi/hn-gw-001/tls-mqttv311":   "10",
		"ha-noi/hn-gw-001/tls-mqttv5":     "11",
		"da-nang/dn-gw-007/cert-mqttv311": "30",
		"da-nang/dn-gw-007/cert-mqttv5":   "31",
	}, query(t, srv, temp, ts))

	t.Run("certificate of no gateway", func(t *testing.T) {
		cert, key := pki.issue(t, "stranger.gateways.test", false)
		out, err := pub(t, "-V", "mqttv5", "--cert", cert, "--key", key,
			"-t", "telemetry/da-nang/dn-gw-007/json", "-m", reading("stranger", ts, 1))
		require.Error(t, err, out)
		require.Contains(t, out, "Not authorized")
	})
	t.Run("certificate gateway publishing as another", func(t *testing.T) {
		cert, key := pki.issue(t, byCert.cn, false)
		out, _ := pub(t, "-V", "mqttv5", "-d", "--cert", cert, "--key", key,
			"-t", "telemetry/ha-noi/hn-gw-001/json", "-m", reading("impostor", ts, 1))
		require.Contains(t, out, "RC:135", out)
	})
	t.Run("certificate from another CA", func(t *testing.T) {
		other := newTestPKI(t)
		cert, key := other.issue(t, byCert.cn, false)
		out, err := pub(t, "-V", "mqttv5", "--cert", cert, "--key", key,
			"-t", "telemetry/da-nang/dn-gw-007/json", "-m", reading("forged", ts, 1))
		require.Error(t, err, out)
	})
	t.Run("client that does not trust the node", func(t *testing.T) {
		other := newTestPKI(t)
		out, err := mosquitto(t, 10*time.Second, "mosquitto_pub", "-h", host, "-p", port, "--cafile", other.CAFile,
			"-u", hanoi.id, "-P", hanoi.password, "-t", "telemetry/ha-noi/hn-gw-001/json", "-m", reading("x", ts, 1))
		require.Error(t, err, out)
	})
	require.Len(t, query(t, srv, temp, ts), 4, "a refused client's reading was stored")
	require.Equal(t, 1.0, metric(t, srv, `quantrac_mqtt_refusals_total{reason="unknown_certificate"}`))
}

// A renewed certificate is picked up by Reload without a restart.
func TestTLSCertificateReload(t *testing.T) {
	pki := newTestPKI(t)
	certFile, keyFile := pki.issue(t, "node one", true)
	dir := t.TempDir()
	srv := startNode(t, dir, true, broker.Settings{TLSAddr: "127.0.0.1:0", TLSCertFile: certFile, TLSKeyFile: keyFile})
	serverCN := func() string {
		pool := x509.NewCertPool()
		ca, err := os.ReadFile(pki.CAFile)
		require.NoError(t, err)
		pool.AppendCertsFromPEM(ca)
		c, err := tls.Dial("tcp", srv.MQTTTLSAddr(), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
		require.NoError(t, err)
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	require.Equal(t, "node one", serverCN())
	newCert, newKey := pki.issue(t, "node two", true)
	require.NoError(t, os.Rename(newCert, certFile))
	require.NoError(t, os.Rename(newKey, keyFile))
	require.NoError(t, srv.Reload())
	require.Equal(t, "node two", serverCN())

	// A broken file is refused and the certificate in use stays.
	require.NoError(t, os.WriteFile(certFile, []byte("not PEM"), 0o600))
	require.Error(t, srv.Reload())
	require.Equal(t, "node two", serverCN())
}
