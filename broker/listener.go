package broker

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// Our listeners replace mochi's TCP and WebSocket ones to add what a broker
// exposed to mobile networks needs: a bound on open connections over all
// listeners, a deadline for the TLS handshake and CONNECT (mochi waits for
// CONNECT forever), accept errors survived rather than ending the listener,
// the bound address of a port-0 listener, and the client certificate at hand
// for authentication.

// connGate bounds the connections open over all listeners.
type connGate struct {
	open atomic.Int64
	max  int64
}

func (g *connGate) enter() bool {
	if g.open.Add(1) > g.max {
		g.open.Add(-1)
		return false
	}
	return true
}

// gatedConn is a client connection holding a place in the gate, which it
// gives back when closed.
type gatedConn struct {
	net.Conn
	gate     *connGate
	released atomic.Bool
	// peer is the verified client certificate chain, if any. For TLS over
	// TCP it is read from the connection once the handshake is done.
	peer []*x509.Certificate
	// established is set once the client is authenticated and admitted.
	established atomic.Bool
}

func (c *gatedConn) Close() error {
	err := c.Conn.Close()
	if c.released.CompareAndSwap(false, true) {
		c.gate.open.Add(-1)
	}
	return err
}

// peerCertificates returns the client's verified certificate chain, leaf
// first, or nil. For TLS the handshake must be complete, which it is once
// CONNECT has been read.
func (c *gatedConn) peerCertificates() []*x509.Certificate {
	if tc, ok := c.Conn.(*tls.Conn); ok {
		return tc.ConnectionState().PeerCertificates
	}
	return c.peer
}

// connSet tracks a listener's connections so that Close can end them all,
// including those still in the TLS handshake or before CONNECT, and wait
// for their goroutines.
type connSet struct {
	mu struct {
		sync.Mutex
		closed bool
		conns  map[*gatedConn]struct{}
	}
	wg sync.WaitGroup
}

// add registers c and reports false if the set is closed.
func (s *connSet) add(c *gatedConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return false
	}
	if s.mu.conns == nil {
		s.mu.conns = map[*gatedConn]struct{}{}
	}
	s.mu.conns[c] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *connSet) done(c *gatedConn) {
	s.mu.Lock()
	delete(s.mu.conns, c)
	s.mu.Unlock()
	s.wg.Done()
}

// closeAll closes every tracked connection and waits for their goroutines.
func (s *connSet) closeAll() {
	s.mu.Lock()
	s.mu.closed = true
	for c := range s.mu.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// serveConn runs mochi's establish for one connection and accounts for how
// it ended. It owns c.
func (b *Broker) serveConn(set *connSet, id string, c *gatedConn, establish listeners.EstablishFn) {
	defer set.done(c)
	_ = c.SetDeadline(time.Now().Add(b.opts.ConnectTimeout))
	err := establish(id, c)
	_ = c.Close()
	if err != nil && !c.established.Load() && errors.Is(err, os.ErrDeadlineExceeded) {
		b.refuse(refuseConnectTimeout, "client did not complete TLS and CONNECT in time",
			"listener", id, "remote", c.RemoteAddr().String())
	}
}

// tcpListener is a plain or TLS MQTT listener.
type tcpListener struct {
	b    *Broker
	id   string
	addr string
	tls  *tls.Config // nil for plain TCP
	ln   net.Listener
	set  connSet
}

func (l *tcpListener) ID() string { return l.id }

// Address returns the bound address once Init has run.
func (l *tcpListener) Address() string {
	if l.ln != nil {
		return l.ln.Addr().String()
	}
	return l.addr
}

func (l *tcpListener) Protocol() string {
	if l.tls != nil {
		return "mqtts"
	}
	return "mqtt"
}

func (l *tcpListener) Init(*slog.Logger) error {
	ln, err := net.Listen("tcp", l.addr)
	if err != nil {
		return err
	}
	if l.tls != nil {
		ln = tls.NewListener(ln, l.tls)
	}
	l.ln = ln
	return nil
}

func (l *tcpListener) Serve(establish listeners.EstablishFn) {
	var backoff time.Duration
	for {
		conn, err := l.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: wait and go on, as
			// net/http does, rather than stop listening for good.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			l.b.limitedLog.Warn("cannot accept MQTT connection", "listener", l.id, "err", err, "retry_in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		if !l.b.gate.enter() {
			_ = conn.Close()
			l.b.refuse(refuseMaxConnections, "connection refused: too many open", "listener", l.id)
			continue
		}
		c := &gatedConn{Conn: conn, gate: &l.b.gate}
		if !l.set.add(c) {
			_ = c.Close()
			return
		}
		go l.b.serveConn(&l.set, l.id, c, establish)
	}
}

func (l *tcpListener) Close(closeClients listeners.CloseFn) {
	if l.ln != nil {
		_ = l.ln.Close()
	}
	closeClients(l.id)
	l.set.closeAll()
}

// peerCertificates returns the verified client certificate chain of cl's
// connection, or nil.
func peerCertificates(cl *mqtt.Client) []*x509.Certificate {
	if gc, ok := cl.Net.Conn.(*gatedConn); ok {
		return gc.peerCertificates()
	}
	return nil
}
