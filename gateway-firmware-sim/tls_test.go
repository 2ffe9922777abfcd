package gwsim

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/stretchr/testify/require"
)

// testPKI is a throwaway CA that signs a broker certificate and one client
// certificate per gateway.
type testPKI struct {
	dir    string
	caCert *x509.Certificate
	caKey  *ecdsa.PrivateKey
	serial int64
}

func newPKI(t testing.TB) *testPKI {
	p := &testPKI{dir: t.TempDir()}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	p.caCert, err = x509.ParseCertificate(der)
	require.NoError(t, err)
	p.caKey = key
	writePEM(t, filepath.Join(p.dir, "ca.pem"), "CERTIFICATE", der)
	return p
}

func writePEM(t testing.TB, path, typ string, der []byte) {
	require.NoError(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600))
}

// issue signs a certificate for name and writes name.crt and name.key.
func (p *testPKI) issue(t testing.TB, name string, server bool) tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	p.serial++
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(p.serial + 1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.caCert, &key.PublicKey, p.caKey)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	writePEM(t, filepath.Join(p.dir, name+".crt"), "CERTIFICATE", der)
	writePEM(t, filepath.Join(p.dir, name+".key"), "EC PRIVATE KEY", keyDER)
	cert, err := tls.LoadX509KeyPair(filepath.Join(p.dir, name+".crt"), filepath.Join(p.dir, name+".key"))
	require.NoError(t, err)
	return cert
}

// certHook admits a client only if its certificate names its client id.
type certHook struct {
	mochi.HookBase
	mu       sync.Mutex
	admitted map[string]bool
}

func (h *certHook) ID() string { return "cert" }

func (h *certHook) Provides(x byte) bool {
	return x == mochi.OnConnectAuthenticate || x == mochi.OnACLCheck
}

func (h *certHook) OnConnectAuthenticate(cl *mochi.Client, _ packets.Packet) bool {
	tc, ok := cl.Net.Conn.(*tls.Conn)
	if !ok {
		return false
	}
	certs := tc.ConnectionState().PeerCertificates
	if len(certs) == 0 || certs[0].Subject.CommonName != cl.ID {
		return false
	}
	h.mu.Lock()
	h.admitted[cl.ID] = true
	h.mu.Unlock()
	return true
}

func (h *certHook) OnACLCheck(*mochi.Client, string, bool) bool { return true }

func TestClientCertificatePerGateway(t *testing.T) {
	pki := newPKI(t)
	pool := x509.NewCertPool()
	pool.AddCert(pki.caCert)
	serverCert := pki.issue(t, "broker", true)
	hook := &certHook{admitted: map[string]bool{}}
	b := startBroker(t, brokerConfig{auth: hook, tls: &tls.Config{
		Certificates: []tls.Certificate{serverCert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}})

	o := testOptions(t, "ssl://"+b.addr)
	o.Duration = time.Minute
	s, err := New(o)
	require.NoError(t, err)
	for _, g := range s.Gateways() {
		pki.issue(t, g.ID, false)
	}
	o.TLS = TLSOptions{CAFile: filepath.Join(pki.dir, "ca.pem"),
		CertFile: filepath.Join(pki.dir, "{gateway}.crt"), KeyFile: filepath.Join(pki.dir, "{gateway}.key")}
	s = run(t, o)
	require.Equal(t, int64(4*6*60), s.Status().Acked)
	require.Equal(t, map[string]bool{"hn-gw-001": true, "hn-gw-002": true, "cm-gw-001": true, "cm-gw-002": true}, hook.admitted)

	// At QoS 0 the gateways write their PUBLISH packets themselves, through
	// the TLS connection.
	// The same readings again: as many messages as at QoS 1.
	n := len(b.messages())
	o.QoS = 0
	s = run(t, o)
	require.Equal(t, int64(4*6*60), s.Status().Acked)
	waitFor(t, "every QoS 0 message", func() bool { return len(b.messages()) == 2*n })

	// A missing certificate file is a setup error from Run.
	o.TLS.CertFile = filepath.Join(pki.dir, "missing-{gateway}.crt")
	s, err = New(o)
	require.NoError(t, err)
	require.ErrorContains(t, s.Run(t.Context()), "cannot load client certificate")
}
