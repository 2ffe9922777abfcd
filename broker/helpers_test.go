package broker_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/quantrac/quantrac/broker"
	"github.com/quantrac/quantrac/broker/gateways"
	"github.com/quantrac/quantrac/server"
)

// gw is a test gateway: its entry in the gateways file and its password.
type gw struct {
	id, prov, password, cn string
}

// writeGateways writes a gateways file of gws. Hashes use bcrypt's least
// cost: the cost is not what these tests are about. A gateway already in the
// file with the same password keeps its hash, so that rewriting the file
// leaves it unchanged, as `quantrac gateway` does.
func writeGateways(t testing.TB, path string, gws ...gw) {
	t.Helper()
	old, err := gateways.ReadOrEmpty(path)
	require.NoError(t, err)
	var entries []gateways.Entry
	for _, g := range gws {
		e := gateways.Entry{ID: g.id, Province: g.prov, CertCN: g.cn}
		for _, o := range old {
			if o.ID == g.id && o.PasswordHash != "" && gateways.CheckPassword(o.PasswordHash, []byte(g.password)) {
				e.PasswordHash = o.PasswordHash
			}
		}
		if g.password != "" && e.PasswordHash == "" {
			h, err := gateways.HashPassword([]byte(g.password), bcrypt.MinCost)
			require.NoError(t, err)
			e.PasswordHash = h
		}
		entries = append(entries, e)
	}
	require.NoError(t, gateways.Write(path, entries))
}

// node is a node started for a test.
type node struct {
	*server.Server
	once sync.Once
}

// stop closes the node once; the test's cleanup calls it too.
func (n *node) stop() error {
	var err error
	n.once.Do(func() { err = n.Server.Close() })
	return err
}

// startNode starts a node on loopback port 0 with the given broker settings
// and stops it when the test ends.
func startNode(t testing.TB, dir string, anonymous bool, s broker.Settings) *node {
	t.Helper()
	srv, err := server.Start(server.Options{
		DataDir:        dir,
		MQTTAddr:       "127.0.0.1:0",
		HTTPAddr:       "127.0.0.1:0",
		AllowAnonymous: anonymous,
		MQTT:           s,
		Logger:         testLogger(t),
	})
	require.NoError(t, err)
	n := &node{Server: srv}
	t.Cleanup(func() { _ = n.stop() })
	return n
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("QUANTRAC_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// mosquitto runs mosquitto_pub or mosquitto_sub with a deadline and returns
// its combined output and exit error.
func mosquitto(t testing.TB, timeout time.Duration, name string, args ...string) (string, error) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Fatalf("%s not installed (apt-get install mosquitto-clients): %v", name, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return string(out), err
}

func hostPort(t testing.TB, addr string) (string, string) {
	t.Helper()
	h, p, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	return h, p
}

// reading is a JSON batch of one reading of air_temperature_celsius.
func reading(device string, ts int64, v float64) string {
	return fmt.Sprintf(`{"readings":[{"device":%q,"ts":%d,"fields":{"air_temperature_celsius":%g}}]}`, device, ts, v)
}

// query reads metric's samples at exactly ts (Unix ms) from the node's
// store and returns their values by province/gateway/device. It reads the
// store directly: a node without anonymous access answers no HTTP query
// without a read token.
func query(t testing.TB, srv *node, metric string, ts int64) map[string]string {
	t.Helper()
	q, err := srv.DB().Querier(ts, ts)
	require.NoError(t, err)
	defer q.Close()
	set := q.Select(context.Background(), false, nil, labels.MustNewMatcher(labels.MatchEqual, model.MetricNameLabel, metric))
	out := map[string]string{}
	for set.Next() {
		s := set.At()
		it := s.Iterator(nil)
		for it.Next() == chunkenc.ValFloat {
			if at, v := it.At(); at == ts {
				l := s.Labels()
				out[l.Get("province")+"/"+l.Get("gateway")+"/"+l.Get("device")] = strconv.FormatFloat(v, 'g', -1, 64)
			}
		}
		require.NoError(t, it.Err())
	}
	require.NoError(t, set.Err())
	return out
}

// metric returns the value of one sample line of /metrics, e.g.
// `quantrac_mqtt_refusals_total{reason="bad_credentials"}`, or -1.
func metric(t testing.TB, srv *node, series string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + srv.HTTPAddr() + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			require.NoError(t, err)
			return f
		}
	}
	require.NoError(t, sc.Err())
	return -1
}

// eventually polls cond until it holds or a generous deadline passes. It
// waits for asynchronous effects (a disconnect seen by the server); it
// asserts nothing about speed.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testPKI is a CA and the certificates a test signs with it, as PEM files
// in a temporary directory.
type testPKI struct {
	dir     string
	caKey   *ecdsa.PrivateKey
	caCert  *x509.Certificate
	CAFile  string
	serial  int64
	expires time.Time
}

func newTestPKI(t testing.TB) *testPKI {
	t.Helper()
	p := &testPKI{dir: t.TempDir(), expires: time.Now().Add(time.Hour)}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Quantrac test CA"},
		NotBefore:             time.Now().Add(-time.Minute),
		NotAfter:              p.expires,
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	p.caKey = key
	p.caCert, err = x509.ParseCertificate(der)
	require.NoError(t, err)
	p.CAFile = filepath.Join(p.dir, "ca.pem")
	writePEM(t, p.CAFile, "CERTIFICATE", der)
	p.serial = 1
	return p
}

// issue signs a certificate for cn (a server for 127.0.0.1 and localhost,
// or a client) and returns the paths of its certificate and key.
func (p *testPKI) issue(t testing.TB, cn string, serverCert bool) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	p.serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(p.serial),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     p.expires,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if serverCert {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		tmpl.DNSNames = []string{"localhost"}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.caCert, &key.PublicKey, p.caKey)
	require.NoError(t, err)
	kder, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	name := strings.NewReplacer(" ", "_", "/", "_").Replace(cn)
	certFile, keyFile = filepath.Join(p.dir, name+".pem"), filepath.Join(p.dir, name+".key")
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "EC PRIVATE KEY", kder)
	return certFile, keyFile
}

func writePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600))
}
