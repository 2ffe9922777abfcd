package gwsim

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"

	"github.com/quantrac/quantrac/gateway-firmware-sim/wire"
)

// Direct publishing. A connection's sender writes the PUBLISH packets of
// its data itself, at QoS 0 and at QoS 1, and paho keeps only the session
// (CONNECT, subscriptions, keep-alive, the errors topic and Sparkplug
// commands). Through paho a publish cost a goroutine hand-off to its writer,
// a packet built in a bytes.Buffer grown from empty (a copy of the payload
// and half a dozen allocations), a token and a goroutine to wait on it:
// about a fifth of the load generator's CPU at 100 readings per message,
// CPU the node under test shares.
//
// At QoS 1 the sender takes packet identifiers from the upper half of the
// range (directIDBase up); paho numbers its own packets from 1 and uses a
// handful per connection, so the two never meet. The broker acknowledges
// QoS 1 publishes in the order it received them (MQTT 3.1.1, 4.6), so the
// acknowledgements are matched in order: ackConn takes the PUBACK packets
// of the sender's identifiers out of the stream paho reads, and ackOrder
// completes each flight when its last message is acknowledged. A QoS 0
// flight is complete once written, but it is reported only after the
// flights sent before it, so the publisher sees completions in window order.

// directIDBase is the first packet identifier of direct QoS 1 publishes.
const directIDBase = 0x8000

// errAckOutOfOrder is why a connection is dropped whose broker acknowledged
// a publish before one sent earlier.
var errAckOutOfOrder = errors.New("broker acknowledged publishes out of order")

// ackOrder holds a direct connection's publishes in the order they were
// written, until they are complete. The sender adds to it, the goroutine
// reading the connection (paho's, through ackConn) takes acknowledgements.
type ackOrder struct {
	done chan<- *flight // the connection's, to the publisher
	stop <-chan struct{}

	mu      sync.Mutex
	q       []pendingPub // oldest first
	head    int          // q[head:] are pending
	nextID  uint16
	pending int // QoS 1 entries in q[head:]
}

// pendingPub is one message of a flight (QoS 1), or a whole QoS 0 flight.
type pendingPub struct {
	f    *flight
	id   uint16 // 0 for a written QoS 0 flight
	last bool   // the flight completes with this entry
}

func newAckOrder(done chan<- *flight, stop <-chan struct{}) *ackOrder {
	return &ackOrder{done: done, stop: stop, nextID: directIDBase}
}

// reserve returns the packet identifier of f's next message, recording it
// as pending; last says it is f's last. It fails when half the identifier
// space is pending (a window of tens of thousands of messages).
func (o *ackOrder) reserve(f *flight, last bool) (uint16, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.pending >= 0x10000-directIDBase {
		return 0, false
	}
	id := o.nextID
	o.nextID++
	if o.nextID == 0 {
		o.nextID = directIDBase
	}
	o.q = append(o.q, pendingPub{f: f, id: id, last: last})
	o.pending++
	return id, true
}

// written records a QoS 0 flight as written: it completes as soon as the
// flights before it have.
func (o *ackOrder) written(f *flight) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.q = append(o.q, pendingPub{f: f, last: true})
	o.settleLocked()
}

// ack takes the PUBACK of packet identifier id. It reports whether the
// identifier is one of the sender's: if not, the packet is paho's. An
// acknowledgement of a pending publish that is not the oldest is an error:
// the connection must be dropped.
func (o *ackOrder) ack(id uint16) (mine bool, err error) {
	if id < directIDBase {
		return false, nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.head == len(o.q) || o.q[o.head].id != id {
		for _, p := range o.q[o.head:] {
			if p.id == id {
				return true, errAckOutOfOrder
			}
		}
		return false, nil
	}
	o.pending--
	o.popLocked()
	o.settleLocked()
	return true, nil
}

// settleLocked completes the written QoS 0 flights at the head.
func (o *ackOrder) settleLocked() {
	for o.head < len(o.q) && o.q[o.head].id == 0 {
		o.popLocked()
	}
	if o.head == len(o.q) {
		o.q, o.head = o.q[:0], 0
	}
}

// popLocked removes the oldest entry and reports its flight complete if
// the entry was the flight's last.
func (o *ackOrder) popLocked() {
	p := o.q[o.head]
	o.q[o.head] = pendingPub{}
	o.head++
	if p.last {
		select {
		case o.done <- p.f:
		case <-o.stop:
		}
	}
}

// ackConn is the connection paho reads. It passes every packet through,
// except the PUBACK packets of the sender's direct publishes, which it
// hands to the connection's ackOrder. Only a PUBACK is held until whole;
// other packets pass as their bytes arrive.
type ackConn struct {
	net.Conn
	order *atomic.Pointer[ackOrder] // nil until the publisher adopts the connection
	kill  func()                    // drops the connection (an acknowledgement out of order)

	in   []byte // read from Conn, not yet passed on or taken
	r    int    // in[r:] are unconsumed
	pass int    // bytes at in[r:] that belong to a packet paho gets
	left int    // bytes of that packet still to arrive after in
}

// Read implements net.Conn.
func (a *ackConn) Read(b []byte) (int, error) {
	for {
		if a.pass > 0 {
			n := copy(b, a.in[a.r:a.r+a.pass])
			a.r += n
			a.pass -= n
			return n, nil
		}
		if a.left > 0 && a.r == len(a.in) {
			// The rest of a packet paho gets: straight into b.
			n, err := a.Conn.Read(b[:min(len(b), a.left)])
			a.left -= n
			return n, err
		}
		if a.r < len(a.in) && a.classify() {
			continue
		}
		if err := a.fill(); err != nil {
			return 0, err
		}
	}
}

// classify looks at the packet starting at in[r:] and reports whether it
// could decide: a PUBACK of the sender's is taken, any other packet is
// marked to pass on. It needs the whole fixed header, and for a PUBACK the
// whole packet.
func (a *ackConn) classify() bool {
	if a.left > 0 { // the rest of a packet being passed on
		n := min(a.left, len(a.in)-a.r)
		a.pass, a.left = n, a.left-n
		return true
	}
	rest := a.in[a.r:]
	rem, hdr, ok := wire.FixedHeader(rest)
	if !ok {
		return false
	}
	if rest[0] == 0x40 && rem == 2 { // PUBACK
		if len(rest) < 4 {
			return false
		}
		if o := a.order.Load(); o != nil {
			mine, err := o.ack(uint16(rest[2])<<8 | uint16(rest[3]))
			if err != nil {
				a.kill()
			}
			if mine {
				a.r += 4
				a.compact()
				return true
			}
		}
	}
	size := hdr + rem
	n := min(size, len(rest))
	a.pass, a.left = n, size-n
	return true
}

// fill reads more bytes into in.
func (a *ackConn) fill() error {
	a.compact()
	if cap(a.in) == 0 {
		a.in = make([]byte, 0, 4096)
	}
	if len(a.in) == cap(a.in) {
		a.in = append(a.in, 0)[:len(a.in)]
	}
	n, err := a.Conn.Read(a.in[len(a.in):cap(a.in)])
	a.in = a.in[:len(a.in)+n]
	if n > 0 {
		return nil
	}
	return err
}

// compact moves the unconsumed bytes to the start of in.
func (a *ackConn) compact() {
	if a.r == 0 {
		return
	}
	a.in = a.in[:copy(a.in, a.in[a.r:])]
	a.r = 0
}
