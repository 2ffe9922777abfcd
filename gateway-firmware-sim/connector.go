package gwsim

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/quantrac/quantrac/gateway-firmware-sim/wire"
)

// conn is one established MQTT connection of a gateway. Every connection
// gets a fresh paho client: paho's own session resume would complete the
// tokens of the previous connection as if acknowledged, and the gateway's
// queue already resends what was not acknowledged.
type conn struct {
	client mqtt.Client
	bdSeq  uint64 // Sparkplug birth/death sequence number of this connection
	mu     struct {
		sync.Mutex
		link *linkConn // the TCP connection under MQTT (and TLS)
	}
	// out is what MQTT packets are written to: the link, or the TLS
	// connection over it. Set by the dialer.
	out io.Writer
	// order completes the connection's publishes (direct.go); set by start.
	order atomic.Pointer[ackOrder]

	// Set by start, when the publisher adopts the connection.
	topic string        // data topic of JSON and line-protocol flights
	pkt   []byte        // the sender's scratch for one packet
	send  chan *flight  // publisher -> sender, in window order
	done  chan *flight  // ackOrder -> publisher, completed, in the same order
	stop  chan struct{} // closed by the publisher when it abandons the connection
}

// start runs the connection's sender goroutine, which writes the PUBLISH
// packets of the publisher's flights itself, in window order (direct.go):
// a write can block for as long as the broker applies backpressure, so the
// publisher never writes. capacity is at least the publisher's window, so
// handing a flight over, and reporting it complete, never blocks.
func (c *conn) start(topic string, capacity int, wg *sync.WaitGroup) {
	c.topic = topic
	c.send = make(chan *flight, capacity)
	c.done = make(chan *flight, capacity)
	c.stop = make(chan struct{})
	c.order.Store(newAckOrder(c.done, c.stop))
	wg.Go(c.sender)
}

func (c *conn) sender() {
	for {
		select {
		case f := <-c.send:
			if !c.write(f) {
				return
			}
		case <-c.stop:
			return
		}
	}
}

// write writes the messages of f as PUBLISH packets at f's QoS. A failed
// write closes the socket, so paho reports the connection lost and the
// publisher takes the flight back; the sender then stops. It gives up
// when the publisher abandons the connection, so that a Sparkplug flight
// of many messages does not wait out the write timeout once per message.
//
// Once the last message of a QoS 1 flight is written, its acknowledgement
// may complete the flight and hand it back to the publisher at any moment:
// write reads f only before that.
func (c *conn) write(f *flight) bool {
	o := c.order.Load()
	qos, payload, msgs := f.qos, f.payload, f.msgs
	if len(msgs) == 0 {
		return c.writePublish(o, f, qos, c.topic, payload, true)
	}
	for i, m := range msgs {
		select {
		case <-c.stop:
			return false
		default:
		}
		if !c.writePublish(o, f, qos, m.Topic, payload[m.Start:m.End], i == len(msgs)-1) {
			return false
		}
	}
	return true
}

// writePublish writes one message of f; at QoS 0 the last completes f.
func (c *conn) writePublish(o *ackOrder, f *flight, qos byte, topic string, payload []byte, last bool) bool {
	if qos == 0 {
		c.pkt = wire.AppendPublishQoS0(c.pkt[:0], topic, payload)
	} else {
		id, ok := o.reserve(f, last)
		if !ok {
			c.closeLink()
			return false
		}
		c.pkt = wire.AppendPublishQoS1(c.pkt[:0], topic, id, payload)
	}
	if _, err := c.out.Write(c.pkt); err != nil {
		c.closeLink()
		return false
	}
	if cap(c.pkt) > keepBuffer {
		c.pkt = nil
	}
	if qos == 0 && last {
		o.written(f)
	}
	return true
}

// closeLink closes the socket under the connection, so that paho's reader
// reports the connection lost.
func (c *conn) closeLink() {
	c.mu.Lock()
	l := c.mu.link
	c.mu.Unlock()
	if l != nil {
		l.Conn.Close()
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

// lostEvent reports that paho lost a connection.
type lostEvent struct {
	client mqtt.Client
	err    error
}

// connector dials the broker for one gateway, with exponential backoff and
// jitter between failed attempts. The publisher says whether it wants a
// connection; the connector delivers one connection per request.
//
// Wishes are numbered. A wish made while a connection was being dialled is
// settled when the publisher takes that connection; the connector ignores
// it if it reads it later. Acting on it would dial a second connection with
// the same client id, and the broker would drop the first for it.
type connector struct {
	g       *gateway
	want    chan wish // latest wish of the publisher; capacity 1
	wishes  uint64    // number of the publisher's last wish; the publisher owns it
	settled atomic.Uint64
	out     chan *conn
	lost    chan lostEvent
	rebirth chan struct{}   // the platform asked for Sparkplug births; capacity 1
	done    <-chan struct{} // closed when the publisher exits
	rng     *rand.Rand
	bdSeq   uint64 // next Sparkplug bdSeq; the connector goroutine owns it
}

func newConnector(g *gateway, done <-chan struct{}) *connector {
	return &connector{
		g:       g,
		want:    make(chan wish, 1),
		out:     make(chan *conn),
		lost:    make(chan lostEvent, 4),
		rebirth: make(chan struct{}, 1),
		done:    done,
		rng:     rand.New(rand.NewPCG(g.key, uint64(time.Now().UnixNano()))),
	}
}

// wish is the publisher's wish for a connection, numbered from 1.
type wish struct {
	want bool
	id   uint64
}

// request replaces the publisher's wish. Only the publisher calls it.
func (c *connector) request(want bool) {
	select {
	case <-c.want:
	default:
	}
	c.wishes++
	c.want <- wish{want: want, id: c.wishes}
}

// taken settles every wish made so far: the publisher calls it when it
// receives a connection, before it makes another wish.
func (c *connector) taken() { c.settled.Store(c.wishes) }

// read applies w to wanted unless a delivered connection settled it.
func (c *connector) read(w wish, wanted *bool) {
	if w.id > c.settled.Load() {
		*wanted = w.want
	}
}

// run dials while a connection is wanted, until ctx ends.
func (c *connector) run(ctx context.Context) {
	o := &c.g.sim.opts
	wanted, attempt := false, 0
	for {
		if !wanted {
			select {
			case w := <-c.want:
				c.read(w, &wanted)
			case <-ctx.Done():
				return
			}
			continue
		}
		cn, err := c.dial(ctx)
		if err == nil {
			attempt = 0
			if !c.deliver(ctx, cn) {
				return
			}
			wanted = false
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
		case w := <-c.want:
			c.read(w, &wanted)
		case <-ctx.Done():
			t.Stop()
			return
		}
		t.Stop()
	}
}

// deliver offers cn to the publisher until it takes it, the publisher no
// longer wants a connection, or ctx ends (then deliver reports false). A
// connection not taken is closed.
func (c *connector) deliver(ctx context.Context, cn *conn) bool {
	for {
		select {
		case c.out <- cn:
			return true
		case w := <-c.want:
			wanted := true
			c.read(w, &wanted)
			if !wanted {
				c.g.disconnect(cn)
				return true
			}
		case <-ctx.Done():
			c.g.disconnect(cn)
			return false
		}
	}
}

// dial makes one connection attempt: TCP (and TLS), MQTT CONNECT, and the
// subscription to the gateway's errors topic.
func (c *connector) dial(ctx context.Context) (*conn, error) {
	g := c.g
	o := &g.sim.opts
	cn := &conn{bdSeq: c.bdSeq}
	c.bdSeq = (c.bdSeq + 1) % 256
	opts := mqtt.NewClientOptions().
		AddBroker(o.Broker).
		SetClientID(g.id).
		SetCleanSession(o.QoS == 0). // QoS 1 keeps the session so the broker redelivers
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetKeepAlive(o.KeepAlive).
		SetConnectTimeout(o.ConnectTimeout).
		SetWriteTimeout(o.WriteTimeout).
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
	if g.sp != nil {
		// The broker publishes the NDEATH if the link dies.
		opts.SetBinaryWill(g.sp.NodeTopic("NDEATH"), wire.AppendSparkplugDeath(nil, cn.bdSeq, g.simNow()), 1, false)
	}
	cn.client = mqtt.NewClient(opts)
	if err := c.await(ctx, cn, cn.client.Connect()); err != nil {
		return nil, fmt.Errorf("cannot connect: %w", err)
	}
	subs := map[string]mqtt.MessageHandler{g.errorsTopic: g.onRefusal}
	if g.sp != nil {
		subs[g.sp.NodeTopic("NCMD")] = c.onCommand
	}
	for topic, h := range subs {
		if err := c.await(ctx, cn, cn.client.Subscribe(topic, 1, h)); err != nil {
			return nil, fmt.Errorf("cannot subscribe to %s: %w", topic, err)
		}
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

// sendBuffer bounds the bytes a gateway's socket holds for the broker. Left
// to the kernel's autotuning it grew to megabytes on a link saturated at
// QoS 0, and a keep-alive ping queued behind them went unanswered past
// paho's ping timeout, which dropped the connection: 28 of 102 gateways
// once each in a 60 s qos0-single window, 3 with 128 KiB, at the same
// throughput. A QoS 1 window of 8 batches of 100 readings is about 80 KiB.
const sendBuffer = 128 << 10

// open is paho's dialer: it keeps the raw connection so a link flap can cut
// it, and does TLS itself for ssl:// brokers.
func (c *connector) open(ctx context.Context, cn *conn, uri *url.URL) (net.Conn, error) {
	d := net.Dialer{Timeout: c.g.sim.opts.ConnectTimeout}
	tcp, err := d.DialContext(ctx, "tcp", uri.Host)
	if err != nil {
		return nil, err
	}
	if tc, ok := tcp.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(sendBuffer)
	}
	raw := newLinkConn(tcp, c.g.sim.opts.WriteTimeout)
	cn.mu.Lock()
	cn.mu.link = raw
	cn.mu.Unlock()
	if c.g.tlsCfg == nil {
		cn.out = raw
		return &ackConn{Conn: raw, order: &cn.order, kill: cn.closeLink}, nil
	}
	tc := tls.Client(raw, c.g.tlsCfg)
	hctx, cancel := context.WithTimeout(ctx, c.g.sim.opts.ConnectTimeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		raw.Close()
		return nil, fmt.Errorf("cannot complete TLS handshake: %w", err)
	}
	cn.out = tc
	return &ackConn{Conn: tc, order: &cn.order, kill: cn.closeLink}, nil
}

// onCommand handles a Sparkplug NCMD: a rebirth request makes the
// publisher send the births again.
func (c *connector) onCommand(_ mqtt.Client, m mqtt.Message) {
	if wire.IsRebirthRequest(m.Payload()) {
		select {
		case c.rebirth <- struct{}{}:
		default:
		}
	}
}

// disconnect ends a connection politely in the background (a Sparkplug
// edge node first publishes its NDEATH, which the MQTT DISCONNECT keeps the
// broker from sending as the will); Run waits for it before returning.
func (g *gateway) disconnect(cn *conn) {
	g.sim.bg.Go(func() {
		if g.sp != nil && cn.client.IsConnectionOpen() {
			death := wire.AppendSparkplugDeath(nil, cn.bdSeq, g.simNow())
			cn.client.Publish(g.sp.NodeTopic("NDEATH"), 0, false, death).WaitTimeout(time.Second)
		}
		cn.client.Disconnect(100)
	})
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
