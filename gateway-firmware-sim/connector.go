package gwsim

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// conn is one established MQTT connection of a gateway. Every connection
// gets a fresh paho client: paho's own session resume would complete the
// tokens of the previous connection as if acknowledged, and the gateway's
// queue already resends what was not acknowledged.
type conn struct {
	client mqtt.Client
	mu     struct {
		sync.Mutex
		link *linkConn // the TCP connection under MQTT (and TLS)
	}
}

// abort drops the link abruptly, as a radio losing its signal would: the
// TCP connection is closed without an MQTT DISCONNECT.
func (c *conn) abort() {
	c.mu.Lock()
	l := c.mu.link
	c.mu.Unlock()
	if l != nil {
		l.cut()
	}
}

// errLinkDown is what reads return after a deliberate link drop.
var errLinkDown = errors.New("gateway uplink dropped")

// linkConn is the TCP connection under a gateway's MQTT session. paho
// ignores read errors that say the connection was closed (it assumes its
// own disconnect), so a link cut by the simulator reports errLinkDown
// instead: paho then notices the loss at once instead of at the next
// keep-alive.
type linkConn struct {
	net.Conn
	down atomic.Bool
}

func (l *linkConn) cut() {
	l.down.Store(true)
	l.Conn.Close()
}

func (l *linkConn) Read(b []byte) (int, error) {
	n, err := l.Conn.Read(b)
	if err != nil && l.down.Load() {
		err = errLinkDown
	}
	return n, err
}

func (l *linkConn) Write(b []byte) (int, error) {
	n, err := l.Conn.Write(b)
	if err != nil && l.down.Load() {
		err = errLinkDown
	}
	return n, err
}

// lostEvent reports that paho lost a connection.
type lostEvent struct {
	client mqtt.Client
	err    error
}

// connector dials the broker for one gateway, with exponential backoff and
// jitter between failed attempts. The publisher says whether it wants a
// connection; the connector delivers one connection per request.
type connector struct {
	g    *gateway
	want chan bool // latest wish of the publisher; capacity 1
	out  chan *conn
	lost chan lostEvent
	done <-chan struct{} // closed when the publisher exits
	rng  *rand.Rand
}

func newConnector(g *gateway, done <-chan struct{}) *connector {
	return &connector{
		g:    g,
		want: make(chan bool, 1),
		out:  make(chan *conn),
		lost: make(chan lostEvent, 4),
		done: done,
		rng:  rand.New(rand.NewPCG(g.key, uint64(time.Now().UnixNano()))),
	}
}

// request replaces the publisher's wish. Only the publisher calls it.
func (c *connector) request(want bool) {
	select {
	case <-c.want:
	default:
	}
	c.want <- want
}

// run dials while a connection is wanted, until ctx ends.
func (c *connector) run(ctx context.Context) {
	o := &c.g.sim.opts
	wanted, attempt := false, 0
	for {
		if !wanted {
			select {
			case wanted = <-c.want:
			case <-ctx.Done():
				return
			}
			continue
		}
		cn, err := c.dial(ctx)
		if err == nil {
			attempt = 0
			select {
			case c.out <- cn:
				wanted = false
			case wanted = <-c.want:
				c.g.disconnect(cn) // no longer wanted
			case <-ctx.Done():
				c.g.disconnect(cn)
				return
			}
			continue
		}
		if ctx.Err() != nil {
			return
		}
		c.g.warn("cannot connect to broker", "err", err, "attempt", attempt+1)
		backoff := min(o.MaxBackoff, o.MinBackoff<<min(attempt, 30))
		attempt++
		// Equal jitter: half the backoff, plus up to the other half at
		// random, so a province of gateways does not reconnect in lockstep.
		sleep := backoff/2 + time.Duration(c.rng.Int64N(int64(backoff/2)+1))
		t := time.NewTimer(sleep)
		select {
		case <-t.C:
		case wanted = <-c.want:
		case <-ctx.Done():
			t.Stop()
			return
		}
		t.Stop()
	}
}

// dial makes one connection attempt: TCP (and TLS), MQTT CONNECT, and the
// subscription to the gateway's errors topic.
func (c *connector) dial(ctx context.Context) (*conn, error) {
	g := c.g
	o := &g.sim.opts
	cn := &conn{}
	opts := mqtt.NewClientOptions().
		AddBroker(o.Broker).
		SetClientID(g.id).
		SetCleanSession(o.QoS == 0). // QoS 1 keeps the session so the broker redelivers
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetKeepAlive(o.KeepAlive).
		SetConnectTimeout(o.ConnectTimeout).
		SetWriteTimeout(o.ConnectTimeout).
		SetOrderMatters(false).
		SetStore(nopStore{}).
		SetCustomOpenConnectionFn(func(uri *url.URL, _ mqtt.ClientOptions) (net.Conn, error) {
			return c.open(ctx, cn, uri)
		}).
		SetConnectionLostHandler(func(cl mqtt.Client, err error) {
			select {
			case c.lost <- lostEvent{client: cl, err: err}:
			case <-c.done:
			}
		})
	if g.username != "" {
		opts.SetUsername(g.username).SetPassword(g.password)
	}
	cn.client = mqtt.NewClient(opts)
	if err := c.await(ctx, cn, cn.client.Connect()); err != nil {
		return nil, fmt.Errorf("cannot connect: %w", err)
	}
	sub := cn.client.Subscribe(g.errorsTopic, 1, g.onRefusal)
	if err := c.await(ctx, cn, sub); err != nil {
		return nil, fmt.Errorf("cannot subscribe to %s: %w", g.errorsTopic, err)
	}
	return cn, nil
}

// await waits for tok within the connect timeout; on failure the half-open
// connection is dropped.
func (c *connector) await(ctx context.Context, cn *conn, tok mqtt.Token) error {
	t := time.NewTimer(c.g.sim.opts.ConnectTimeout)
	defer t.Stop()
	var err error
	select {
	case <-tok.Done():
		err = tok.Error()
	case <-t.C:
		err = errors.New("timed out")
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		cn.abort()
		c.g.disconnect(cn)
	}
	return err
}

// open is paho's dialer: it keeps the raw connection so a link flap can cut
// it, and does TLS itself for ssl:// brokers.
func (c *connector) open(ctx context.Context, cn *conn, uri *url.URL) (net.Conn, error) {
	d := net.Dialer{Timeout: c.g.sim.opts.ConnectTimeout}
	tcp, err := d.DialContext(ctx, "tcp", uri.Host)
	if err != nil {
		return nil, err
	}
	raw := &linkConn{Conn: tcp}
	cn.mu.Lock()
	cn.mu.link = raw
	cn.mu.Unlock()
	if c.g.tlsCfg == nil {
		return raw, nil
	}
	tc := tls.Client(raw, c.g.tlsCfg)
	hctx, cancel := context.WithTimeout(ctx, c.g.sim.opts.ConnectTimeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		raw.Close()
		return nil, fmt.Errorf("cannot complete TLS handshake: %w", err)
	}
	return tc, nil
}

// disconnect ends a connection politely (MQTT DISCONNECT) in the
// background; Run waits for it before returning.
func (g *gateway) disconnect(cn *conn) {
	g.sim.bg.Go(func() { cn.client.Disconnect(100) })
}

// onRefusal counts a message on the gateway's errors topic: the platform
// refused something the gateway sent.
func (g *gateway) onRefusal(_ mqtt.Client, m mqtt.Message) {
	g.c.refused.Add(1)
	p := m.Payload()
	if len(p) > 200 {
		p = p[:200]
	}
	g.warn("platform refused a message", "reason", string(p))
}

// nopStore is a paho Store that keeps nothing: the gateway's own queue is
// its persistence, and each connection uses a fresh client, so paho never
// resumes from its store.
type nopStore struct{}

func (nopStore) Open()                             {}
func (nopStore) Put(string, packets.ControlPacket) {}
func (nopStore) Get(string) packets.ControlPacket  { return nil }
func (nopStore) All() []string                     { return nil }
func (nopStore) Del(string)                        {}
func (nopStore) Close()                            {}
func (nopStore) Reset()                            {}
