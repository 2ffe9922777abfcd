package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// wsListener serves MQTT over WebSocket (binary frames, subprotocol "mqtt"),
// optionally over TLS. It uses the gorilla/websocket module that mochi itself
// depends on.
type wsListener struct {
	b        *Broker
	id       string
	addr     string
	tls      *tls.Config // nil for ws://
	ln       net.Listener
	srv      *http.Server
	upgrader websocket.Upgrader
	set      connSet
	// establish is set by Serve before the HTTP server starts.
	establish listeners.EstablishFn
}

func newWSListener(b *Broker, id, addr string, tlsConf *tls.Config) *wsListener {
	l := &wsListener{b: b, id: id, addr: addr, tls: tlsConf}
	l.upgrader = websocket.Upgrader{
		HandshakeTimeout: b.opts.ConnectTimeout,
		ReadBufferSize:   2048,
		// Write buffers are taken from a pool only while a message is
		// written, so an idle gateway holds none.
		WriteBufferPool: &sync.Pool{},
		Subprotocols:    []string{"mqtt", "mqttv3.1"},
		// The default origin check stays: a web page in an operator's
		// browser must not reach a broker on the operator's network.
	}
	return l
}

func (l *wsListener) ID() string { return l.id }

// Address returns the bound address once Init has run.
func (l *wsListener) Address() string {
	if l.ln != nil {
		return l.ln.Addr().String()
	}
	return l.addr
}

func (l *wsListener) Protocol() string {
	if l.tls != nil {
		return "wss"
	}
	return "ws"
}

func (l *wsListener) Init(*slog.Logger) error {
	ln, err := net.Listen("tcp", l.addr)
	if err != nil {
		return err
	}
	if l.tls != nil {
		ln = tls.NewListener(ln, l.tls)
	}
	l.ln = ln
	l.srv = &http.Server{
		Handler:           http.HandlerFunc(l.handle),
		ReadHeaderTimeout: l.b.opts.ConnectTimeout,
		ErrorLog:          slog.NewLogLogger(l.b.limitedLog.Handler(), slog.LevelDebug),
	}
	return nil
}

func (l *wsListener) Serve(establish listeners.EstablishFn) {
	l.establish = establish
	if err := l.srv.Serve(l.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		l.b.log.Error("WebSocket listener failed", "listener", l.id, "err", err)
	}
}

func (l *wsListener) handle(w http.ResponseWriter, r *http.Request) {
	if !l.b.gate.enter() {
		l.b.refuse(refuseMaxConnections, "connection refused: too many open", "listener", l.id)
		http.Error(w, "too many connections", http.StatusServiceUnavailable)
		return
	}
	ws, err := l.upgrader.Upgrade(w, r, nil)
	if err != nil {
		l.b.gate.open.Add(-1)
		return // the upgrader has answered with an HTTP error
	}
	ws.SetReadLimit(int64(l.b.opts.MaxPacketSize) + 16)
	c := &gatedConn{Conn: &wsConn{ws: ws}, gate: &l.b.gate}
	if r.TLS != nil {
		c.peer = r.TLS.PeerCertificates
	}
	if !l.set.add(c) {
		_ = c.Close()
		return
	}
	l.b.serveConn(&l.set, l.id, c, l.establish)
}

func (l *wsListener) Close(closeClients listeners.CloseFn) {
	if l.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = l.srv.Shutdown(ctx) // hijacked connections are ours to close
		cancel()
	}
	closeClients(l.id)
	l.set.closeAll()
}

// wsConn presents a WebSocket as the byte stream mochi reads MQTT from. An
// MQTT packet may span WebSocket messages and a message may hold several
// packets, so reads run on across message boundaries.
type wsConn struct {
	ws *websocket.Conn
	r  io.Reader // the message being read, or nil
	// writeDeadline is applied by Write: gorilla keeps its write deadline
	// in a plain field read by the writer, and mochi sets deadlines from
	// the reading goroutine.
	writeDeadline atomic.Pointer[time.Time]
}

var errTextFrame = errors.New("MQTT over WebSocket needs binary messages")

func (c *wsConn) Read(p []byte) (int, error) {
	for {
		if c.r == nil {
			typ, r, err := c.ws.NextReader()
			if err != nil {
				return 0, err
			}
			if typ != websocket.BinaryMessage {
				return 0, errTextFrame
			}
			c.r = r
		}
		n, err := c.r.Read(p)
		if errors.Is(err, io.EOF) {
			c.r = nil
			if n == 0 {
				continue
			}
			err = nil
		}
		return n, err
	}
}

// Write sends p as one binary message. mochi serialises its writes to a
// client, as gorilla/websocket requires.
func (c *wsConn) Write(p []byte) (int, error) {
	var deadline time.Time
	if d := c.writeDeadline.Load(); d != nil {
		deadline = *d
	}
	if err := c.ws.SetWriteDeadline(deadline); err != nil {
		return 0, err
	}
	if err := c.ws.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (c *wsConn) Close() error         { return c.ws.Close() }
func (c *wsConn) LocalAddr() net.Addr  { return c.ws.LocalAddr() }
func (c *wsConn) RemoteAddr() net.Addr { return c.ws.RemoteAddr() }

func (c *wsConn) SetDeadline(t time.Time) error {
	c.writeDeadline.Store(&t)
	return c.ws.SetReadDeadline(t)
}
func (c *wsConn) SetReadDeadline(t time.Time) error { return c.ws.SetReadDeadline(t) }
func (c *wsConn) SetWriteDeadline(t time.Time) error {
	c.writeDeadline.Store(&t)
	return nil
}
