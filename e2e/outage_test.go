package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"math"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	gwsim "github.com/quantrac/quantrac/gateway-firmware-sim"
	"github.com/quantrac/quantrac/gateway-firmware-sim/ledger"
	"github.com/quantrac/quantrac/gateway-firmware-sim/wire"
)

// These tests run the gateway simulator (package gwsim, in this process)
// against the quantrac binary through an outage of the node, and prove with
// the simulator's ledger that every acknowledged reading is stored exactly
// once, with its exact value.

// outageFleet is a small fleet of gateways playing simulated time at 30x, so
// a few simulated minutes pass in seconds. Its simulated clock starts far
// enough back to stay behind the wall clock.
func outageFleet(t *testing.T, broker string, format wire.Format) gwsim.Options {
	o := gwsim.DefaultOptions()
	o.Broker = "tcp://" + broker
	o.Provinces = []string{"lao-cai", "ca-mau"}
	o.GatewaysPerProvince = 1
	o.DevicesPerGateway = 6
	o.SampleInterval = time.Second
	o.BatchSize = 40
	o.BatchAge = 10 * time.Second
	o.Format = format
	o.QoS = 1
	o.Speed = 30
	o.Start = time.Now().Add(-15 * time.Minute).Truncate(time.Second)
	o.Seed = 11
	o.QueueDir = filepath.Join(t.TempDir(), "queues")
	o.LedgerPath = filepath.Join(t.TempDir(), "ledger")
	o.MinBackoff = 100 * time.Millisecond
	o.MaxBackoff = 500 * time.Millisecond
	o.ConnectTimeout = 2 * time.Second
	o.WriteTimeout = time.Second
	o.DrainTimeout = 20 * time.Second
	o.SyncInterval = 50 * time.Millisecond
	o.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	return o
}

// waitUntil polls cond; the deadline only keeps a broken test from hanging.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		require.True(t, time.Now().Before(deadline), "gave up waiting for %s", what)
		time.Sleep(10 * time.Millisecond)
	}
}

// TestOutageStoresEveryLedgerReadingOnce: the node is killed while the
// gateways publish, stays down for several seconds while their readings go
// to their on-disk queues, and comes back on the same address and data
// directory. Every reading in the ledger is then stored exactly once.
func TestOutageStoresEveryLedgerReadingOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the quantrac binary")
	}
	bin := buildQuantrac(t)
	dir := t.TempDir()
	n := startNode(t, bin, dir)

	o := outageFleet(t, n.mqttAddr, wire.JSON)
	o.Duration = 5 * time.Minute // 10 s of wall time
	// Duplicate sends on top: the node must store their readings once.
	o.Faults.DuplicateRate = 0.1
	sim, err := gwsim.New(o)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- sim.Run(context.Background()) }()

	waitUntil(t, "acknowledgements", func() bool { return sim.Status().AckedBatches >= 4 })
	n.kill(t)
	down := time.Now()
	waitUntil(t, "a backlog on disk", func() bool {
		st := sim.Status()
		return st.Connected == 0 && st.BacklogBatches >= 4 && time.Since(down) >= 3*time.Second
	})
	backlog := sim.Status().Backlog
	n = startNode(t, bin, dir, "--mqtt-addr", n.mqttAddr)
	defer n.stop(t)
	require.NoError(t, <-done)

	st := sim.Status()
	require.Equal(t, st.Generated, st.Acked, "everything generated was acknowledged")
	require.Zero(t, st.Backlog+st.Dropped+st.Lost)
	require.Positive(t, st.Reconnects)
	require.Positive(t, st.Duplicates)
	sum := requireStoredOnce(t, n, o.LedgerPath, o.Start)
	require.Equal(t, st.Generated, sum.Readings)
	t.Logf("%d readings (%d samples) in the ledger, %d of them queued during the outage, %d duplicate sends",
		sum.Readings, sum.Samples, backlog, sum.Duplicates)
}

// TestSimulatorRestartDuringOutageLosesNothing: the node goes down, the
// simulator is stopped with its backlog on disk and started again (the next
// simulated minutes) while the node is still down; when the node returns,
// the old backlog and the new readings are all stored, once. Sparkplug B,
// so births, sequence numbers and historical data cross a real node too.
func TestSimulatorRestartDuringOutageLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the quantrac binary")
	}
	bin := buildQuantrac(t)
	dir := t.TempDir()
	n := startNode(t, bin, dir)

	o := outageFleet(t, n.mqttAddr, wire.Sparkplug)
	o.Duration = 2 * time.Minute // 4 s of wall time per run
	s1, err := gwsim.New(o)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s1.Run(ctx) }()
	waitUntil(t, "acknowledgements", func() bool { return s1.Status().AckedBatches >= 4 })
	n.stop(t) // a clean shutdown this time; the crash is the test above
	perRun := int64(2 * 6 * 120)
	waitUntil(t, "the first run to generate everything", func() bool { return s1.Status().Generated == perRun })
	cancel()
	require.NoError(t, <-done)
	st1 := s1.Status()
	require.Positive(t, st1.Backlog, "the first run stopped with a backlog")
	require.Equal(t, perRun, st1.Acked+st1.Backlog, "what was not acknowledged is on disk")

	// The second run resumes the queues and generates the next two minutes
	// while the node is still down.
	o2 := o
	o2.Start = o.Start.Add(o.Duration)
	s2, err := gwsim.New(o2)
	require.NoError(t, err)
	go func() { done <- s2.Run(context.Background()) }()
	waitUntil(t, "the second run to queue new readings", func() bool {
		return s2.Status().Backlog > st1.Backlog
	})
	n = startNode(t, bin, dir, "--mqtt-addr", n.mqttAddr)
	defer n.stop(t)
	require.NoError(t, <-done)

	st2 := s2.Status()
	require.Equal(t, perRun, st2.Generated)
	require.Equal(t, st1.Backlog+perRun, st2.Acked, "the old backlog and the new readings")
	require.Zero(t, st2.Backlog+st2.Dropped+st2.Lost)
	sum := requireStoredOnce(t, n, o.LedgerPath, o.Start)
	require.Equal(t, 2*perRun, sum.Readings, "both runs, every reading")
}

// TestGatewaysAuthenticateWithTheirPasswords: the simulated gateways are
// provisioned with `quantrac gateway add` (each its own generated password,
// written to <id>.password), the node admits no anonymous client, and
// every gateway logs in as itself and writes its province's series.
func TestGatewaysAuthenticateWithTheirPasswords(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the quantrac binary")
	}
	bin := buildQuantrac(t)
	dir := t.TempDir()
	secrets := t.TempDir()
	gwFile := filepath.Join(secrets, "gateways")

	o := outageFleet(t, "127.0.0.1:1", wire.JSON)
	o.Duration = time.Minute
	probe, err := gwsim.New(o)
	require.NoError(t, err)
	for _, g := range probe.Gateways() {
		out, err := exec.Command(bin, "gateway", "add", "--file", gwFile, "--id", g.ID,
			"--province", g.Province.Slug).Output()
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(secrets, g.ID+".password"), out, 0o600))
	}
	n := startNode(t, bin, dir, "--gateways", gwFile, "--insecure-allow-anonymous=false")

	// Without credentials nothing gets in.
	anon := outageFleet(t, n.mqttAddr, wire.JSON)
	anon.Duration = 10 * time.Second
	anon.DrainTimeout = 300 * time.Millisecond
	s, err := gwsim.New(anon)
	require.NoError(t, err)
	require.NoError(t, s.Run(context.Background()))
	require.Zero(t, s.Status().Acked)
	require.Equal(t, s.Status().Generated, s.Status().Backlog, "refused, the readings stay queued")

	o.Broker = "tcp://" + n.mqttAddr
	o.Username, o.PasswordFile = "{gateway}", filepath.Join(secrets, "{gateway}.password")
	s, err = gwsim.New(o)
	require.NoError(t, err)
	require.NoError(t, s.Run(context.Background()))
	st := s.Status()
	require.Equal(t, st.Generated, st.Acked)
	require.Zero(t, st.Refused)
	// Reading needs a token on this node; an open node on the same data
	// reads what it stored.
	n.stop(t)
	n = startNode(t, bin, dir)
	defer n.stop(t)
	sum := requireStoredOnce(t, n, o.LedgerPath, o.Start)
	require.Equal(t, st.Generated, sum.Readings)
}

// TestGatewaysAuthenticateWithTheirCertificates: every simulated gateway
// presents its own client certificate over MQTT-over-TLS, the node knows it
// by its common name only (`quantrac gateway add --cn ... --no-password`),
// and its readings are all stored.
func TestGatewaysAuthenticateWithTheirCertificates(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the quantrac binary")
	}
	bin := buildQuantrac(t)
	dir := t.TempDir()
	pki := t.TempDir()
	gwFile := filepath.Join(pki, "gateways")
	ca := newTestCA(t, pki)
	ca.issue(t, "node", "127.0.0.1")

	o := outageFleet(t, "127.0.0.1:1", wire.Sparkplug)
	o.Duration = time.Minute
	probe, err := gwsim.New(o)
	require.NoError(t, err)
	for _, g := range probe.Gateways() {
		cn := g.ID + ".gateways.example.vn"
		ca.issue(t, g.ID, cn)
		out, err := exec.Command(bin, "gateway", "add", "--file", gwFile, "--id", g.ID,
			"--province", g.Province.Slug, "--cn", cn, "--no-password").CombinedOutput()
		require.NoError(t, err, "%s", out)
	}
	n := startNode(t, bin, dir, "--gateways", gwFile, "--insecure-allow-anonymous=false",
		"--mqtt-tls-addr", "127.0.0.1:0", "--mqtt-tls-cert", filepath.Join(pki, "node.crt"),
		"--mqtt-tls-key", filepath.Join(pki, "node.key"), "--mqtt-tls-client-ca", filepath.Join(pki, "ca.pem"))
	var tlsAddr string
	waitUntil(t, "the TLS listener", func() bool {
		for _, line := range strings.Split(n.logs.String(), "\n") {
			var rec struct{ Msg, Listener, Addr string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" && rec.Listener == "mqtt-tls" {
				tlsAddr = rec.Addr
			}
		}
		return tlsAddr != ""
	})

	o.Broker = "ssl://" + tlsAddr
	o.TLS = gwsim.TLSOptions{CAFile: filepath.Join(pki, "ca.pem"),
		CertFile: filepath.Join(pki, "{gateway}.crt"), KeyFile: filepath.Join(pki, "{gateway}.key")}
	s, err := gwsim.New(o)
	require.NoError(t, err)
	require.NoError(t, s.Run(context.Background()))
	st := s.Status()
	require.Positive(t, st.Generated)
	require.Equal(t, st.Generated, st.Acked)
	require.Zero(t, st.Reconnects, "admitted at the first attempt")

	n.stop(t)
	n = startNode(t, bin, dir)
	defer n.stop(t)
	sum := requireStoredOnce(t, n, o.LedgerPath, o.Start)
	require.Equal(t, st.Generated, sum.Readings)
}

// testCA is a throwaway certificate authority in a directory: ca.pem, and
// <name>.crt and <name>.key for each certificate it issues.
type testCA struct {
	dir  string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	n    int64
}

func newTestCA(t *testing.T, dir string) *testCA {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "e2e gateway CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	writePEM(t, filepath.Join(dir, "ca.pem"), "CERTIFICATE", der)
	return &testCA{dir: dir, cert: cert, key: key, n: 1}
}

// issue writes name.crt and name.key: a server certificate for an IP
// address, or a client certificate with common name cn.
func (c *testCA) issue(t *testing.T, name, cnOrIP string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	c.n++
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(c.n), Subject: pkix.Name{CommonName: cnOrIP},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature}
	if ip := net.ParseIP(cnOrIP); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	require.NoError(t, err)
	writePEM(t, filepath.Join(c.dir, name+".crt"), "CERTIFICATE", der)
	kder, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	writePEM(t, filepath.Join(c.dir, name+".key"), "EC PRIVATE KEY", kder)
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	require.NoError(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600))
}

// storedKey is one sample as the node stores it: series and timestamp.
type storedKey struct {
	metric, labels string // labels: name=value pairs sorted by name, without __name__
	ts             int64
}

// requireStoredOnce reads every sample the ledger at path says was
// acknowledged and checks the node holds each exactly once, with its exact
// value, and nothing else for the ledger's gateways. It checks twice: the
// raw samples of each metric, and PromQL's count_over_time.
func requireStoredOnce(t *testing.T, n *node, path string, start time.Time) ledger.Summary {
	t.Helper()
	want := map[storedKey]float64{}
	perMetric := map[string]int{}
	gateways := map[string]bool{}
	sum, err := ledger.Samples(path, func(s ledger.Sample) error {
		var b strings.Builder
		for i, l := range s.Labels.Pairs() {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(l.Name + "=" + l.Value)
		}
		k := storedKey{s.Metric, b.String(), s.TS}
		if _, dup := want[k]; !dup {
			perMetric[s.Metric]++
		}
		want[k] = s.Value
		gateways[s.Labels.Gateway] = true
		return nil
	})
	require.NoError(t, err)
	require.Zero(t, sum.TornBytes)
	require.Equal(t, sum.Samples, int64(len(want)), "the ledger names each sample once")

	var gws []string
	for g := range gateways {
		gws = append(gws, g)
	}
	sort.Strings(gws)
	match := `{gateway=~"` + strings.Join(gws, "|") + `"}`
	at := time.Now().Add(time.Minute)
	window := "[" + strconv.Itoa(int(time.Since(start).Minutes())+5) + "m]"

	got := map[storedKey]int{}
	for metric, count := range perMetric {
		r := n.query(t, metric+match+window, at)
		for _, s := range r.Data.Result {
			var names []string
			for name := range s.Metric {
				if name != "__name__" {
					names = append(names, name)
				}
			}
			sort.Strings(names)
			pairs := make([]string, len(names))
			for i, name := range names {
				pairs[i] = name + "=" + s.Metric[name]
			}
			for _, pair := range s.Values {
				secs, _ := pair[0].(float64)
				k := storedKey{metric, strings.Join(pairs, ","), int64(math.Round(secs * 1000))}
				got[k]++
				wantV, ok := want[k]
				require.True(t, ok, "the node stores %v, which no acknowledged batch carried", k)
				v, err := strconv.ParseFloat(pair[1].(string), 64)
				require.NoError(t, err)
				require.Equal(t, wantV, v, "value of %v", k)
			}
		}
		c := n.query(t, "sum(count_over_time("+metric+match+window+"))", at)
		require.Len(t, c.Data.Result, 1, metric)
		stored, err := strconv.Atoi(c.Data.Result[0].Value[1].(string))
		require.NoError(t, err)
		require.Equal(t, count, stored, "%s: samples counted by PromQL", metric)
	}
	for k, c := range got {
		require.Equal(t, 1, c, "%v stored once", k)
	}
	require.Equal(t, len(want), len(got), "every acknowledged sample is stored; node log:\n%s", n.logs)
	return sum
}
