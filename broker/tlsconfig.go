package broker

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
)

// tlsFiles serves the TLS listeners from certificate, key and client CA
// files that Reload reads again: each new handshake uses the configuration
// loaded last, and connections already open keep theirs.
type tlsFiles struct {
	certFile, keyFile, caFile string
	requireClientCert         bool
	current                   atomic.Pointer[tls.Config]
}

func newTLSFiles(s *Settings) (*tlsFiles, error) {
	t := &tlsFiles{certFile: s.TLSCertFile, keyFile: s.TLSKeyFile, caFile: s.TLSClientCAFile,
		requireClientCert: s.RequireClientCert}
	if err := t.load(); err != nil {
		return nil, err
	}
	return t, nil
}

// load reads the files and, if they are good, makes them current.
func (t *tlsFiles) load() error {
	cert, err := tls.LoadX509KeyPair(t.certFile, t.keyFile)
	if err != nil {
		return fmt.Errorf("cannot load TLS certificate: %w", err)
	}
	conf := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
	}
	if t.caFile != "" {
		pem, err := os.ReadFile(t.caFile)
		if err != nil {
			return fmt.Errorf("cannot read client CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return errors.New("cannot load client CA file: no PEM certificates in it")
		}
		conf.ClientCAs = pool
		conf.ClientAuth = tls.VerifyClientCertIfGiven
		if t.requireClientCert {
			conf.ClientAuth = tls.RequireAndVerifyClientCert
		}
	}
	t.current.Store(conf)
	return nil
}

// config returns a listener's configuration, which defers each handshake to
// the configuration current at the time. nextProtos is the listener's ALPN
// list: "http/1.1" for WebSocket, none for MQTT (clients rarely offer one,
// and a Go server refuses a client whose offer it cannot match).
func (t *tlsFiles) config(nextProtos ...string) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: nextProtos,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			c := t.current.Load()
			if len(nextProtos) > 0 {
				c = c.Clone()
				c.NextProtos = nextProtos
			}
			return c, nil
		},
	}
}

// configIf is config when on, and nil (no TLS) otherwise.
func (t *tlsFiles) configIf(on bool, nextProtos ...string) *tls.Config {
	if !on || t == nil {
		return nil
	}
	return t.config(nextProtos...)
}
