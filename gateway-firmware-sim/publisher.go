package gwsim

import (
	"context"
	"time"

	"github.com/quantrac/quantrac/gateway-firmware-sim/batch"
	"github.com/quantrac/quantrac/gateway-firmware-sim/ledger"
	"github.com/quantrac/quantrac/gateway-firmware-sim/wire"
)

// flightKind is what a publish carries.
type flightKind uint8

const (
	flData      flightKind = iota + 1 // a batch
	flDuplicate                       // a batch published again on purpose
	flMalformed                       // a broken payload on purpose
	flBirth                           // Sparkplug births, QoS 0
)

// flight is a publish awaiting completion, or an extra waiting to be sent.
// It comes back on the connection's done channel once complete.
type flight struct {
	kind    flightKind
	qos     byte
	seq     uint64
	weight  int64        // readings
	live    *batch.Batch // a batch from memory, returned to the pool when done
	queued  bool         // a batch from the queue
	qidx    uint64       // its queue index
	rec     []byte       // its batch.Append form, for the ledger
	payload []byte
	// msgs splits payload into Sparkplug messages, each with its topic;
	// empty for JSON and line protocol, one message on the data topic.
	msgs    []wire.SparkplugMessage
	dropped bool      // the queue dropped it while in flight
	sent    time.Time // when the publisher handed it to the sender
	variant uint8
}

// publisher owns a gateway's uplink: the connection, the inflight window,
// the batches waiting in memory and the queue. It runs on one goroutine, so
// none of its fields need a lock.
type publisher struct {
	g    *gateway
	o    *Options
	conn *conn
	cr   *connector

	live     []*batch.Batch // cut, waiting for a window slot, oldest first
	inflight []*flight      // sent, in send order
	extras   []*flight      // duplicates and malformed payloads to send next

	linkUp      bool // false during a link flap
	backlogTurn bool // whose turn it is when live and backlog both wait
	genDone     bool
	stopping    bool
	dirty       bool // appended to the queue since the last sync

	bufs    [][]byte // free payload and record buffers
	bin     []byte   // scratch for batch.Append
	decoded batch.Batch
	entry   ledger.Entry
}

// run runs the gateway: generator, connector and publisher, until
// generation has ended and the backlog is delivered (or DrainTimeout), or
// ctx is cancelled. It closes the gateway's queue.
func (g *gateway) run(ctx context.Context, clk *clock) {
	events := make(chan event, 16)
	pubDone := make(chan struct{})
	crCtx, crCancel := context.WithCancel(context.Background())
	p := &publisher{g: g, o: &g.sim.opts, linkUp: true, backlogTurn: true,
		cr: newConnector(g, pubDone)}
	genExited := make(chan struct{})
	go func() { g.generate(ctx, clk, events); close(genExited) }()
	crExited := make(chan struct{})
	go func() { p.cr.run(crCtx); close(crExited) }()

	p.cr.request(true)
	p.loop(ctx, events)

	close(pubDone)
	crCancel()
	<-crExited
	<-genExited
	if err := g.q.Close(); err != nil {
		g.log.Error("cannot close queue", "err", err)
	}
	g.c.connected.Store(false)
}

func (p *publisher) loop(ctx context.Context, events <-chan event) {
	checkpoint := time.NewTicker(p.o.SyncInterval)
	defer checkpoint.Stop()
	var drainTimeout <-chan time.Time
	stop := ctx.Done()
	for {
		p.pump()
		p.sync()
		if p.genDone && (p.stopping || p.drained()) {
			break
		}
		var evCh <-chan event
		if !p.genDone && p.acceptsBatches() {
			evCh = events
		}
		var completed <-chan *flight
		if p.conn != nil {
			completed = p.conn.done
		}
		select {
		case ev := <-evCh:
			p.handle(ev)
			// Take what else is ready, so one fsync covers a burst.
			for i := 0; i < 64 && !p.genDone && p.acceptsBatches(); i++ {
				select {
				case ev := <-events:
					p.handle(ev)
					continue
				default:
				}
				break
			}
			if p.genDone && !p.stopping {
				drainTimeout = time.After(p.o.DrainTimeout)
			}
		case cn := <-p.cr.out:
			p.connected(cn)
		case l := <-p.cr.lost:
			if p.conn != nil && l.client == p.conn.client {
				p.connLost(l.err, false)
			}
		case f := <-completed:
			p.complete(f)
			// Take the other completions that are ready too, so that one
			// pump refills the window for all of them: at QoS 0 and one
			// reading per message, a wake-up per message was much of the
			// simulator's cost.
			for i := 0; i < p.o.Inflight && p.conn != nil && p.conn.done == completed; i++ {
				select {
				case f := <-completed:
					p.complete(f)
					continue
				default:
				}
				break
			}
		case <-p.cr.rebirth:
			if p.conn != nil && !p.birthInFlight() {
				p.g.log.Info("the platform asked for Sparkplug births")
				p.sendBirths()
			}
		case <-checkpoint.C:
			if err := p.g.q.Checkpoint(); err != nil {
				p.g.warn("cannot checkpoint queue", "err", err)
			}
		case <-drainTimeout:
			p.g.log.Warn("drain timeout: leaving the rest in the queue",
				"backlog_readings", p.g.q.Stats().Weight)
			p.stop()
		case <-stop:
			stop = nil
			p.stop()
		}
	}
	if p.conn != nil {
		close(p.conn.stop)
		p.g.disconnect(p.conn)
		p.conn = nil
	}
	p.sync()
}

// acceptsBatches says whether the publisher takes the generator's next
// event now. Paced generation never waits: batches that find no window slot
// spill to the queue. Unpaced generation waits while the gateway is
// connected and its memory buffer is full: that is its backpressure.
func (p *publisher) acceptsBatches() bool {
	return p.stopping || p.conn == nil || !p.o.Unpaced || len(p.live) < p.o.LiveBuffer
}

func (p *publisher) drained() bool {
	return len(p.live) == 0 && len(p.inflight) == 0 && len(p.extras) == 0 && p.g.q.Len() == 0
}

// handle applies one generator event.
func (p *publisher) handle(ev event) {
	switch ev.kind {
	case evBatch:
		if p.conn == nil {
			p.spill(ev.b)
			return
		}
		p.live = append(p.live, ev.b)
		if len(p.live) > p.o.LiveBuffer {
			p.spill(p.live[0])
			p.live = p.live[:copy(p.live, p.live[1:])]
		}
	case evLinkDown:
		p.linkUp = false
		p.g.c.flaps.Add(1)
		p.cr.request(false)
		if p.conn != nil {
			p.g.log.Info("link flap: link down")
			p.connLost(nil, false)
		}
	case evLinkUp:
		if !p.linkUp {
			p.g.log.Info("link flap: link up")
		}
		p.linkUp = true
		if p.conn == nil && !p.stopping {
			p.cr.request(true)
		}
	case evDone:
		p.genDone = true
		// The fault schedule ends with generation: bring the link back to
		// deliver the backlog.
		if !p.linkUp && !p.stopping {
			p.linkUp = true
			p.cr.request(true)
		}
	}
}

// pump fills the inflight window. Extras (duplicates, malformed payloads)
// go first. When live batches and queued backlog both wait, they take turns
// batch by batch, so the backlog drains at half the window or more while
// live data stays current; when only one waits, it takes every slot.
func (p *publisher) pump() {
	for p.conn != nil && len(p.inflight) < p.o.Inflight {
		if len(p.extras) > 0 {
			f := p.extras[0]
			p.extras = p.extras[:copy(p.extras, p.extras[1:])]
			p.publish(f)
			continue
		}
		if (p.backlogTurn || len(p.live) == 0) && p.sendBacklog() {
			p.backlogTurn = false
			continue
		}
		if len(p.live) == 0 {
			return
		}
		b := p.live[0]
		p.live = p.live[:copy(p.live, p.live[1:])]
		p.sendData(&flight{kind: flData, seq: b.Seq, weight: int64(len(b.Readings)), live: b}, b)
		p.backlogTurn = true
	}
}

// sendBacklog sends the oldest queued batch not yet in flight, if any.
func (p *publisher) sendBacklog() bool {
	buf := p.getBuf()
	idx, weight, rec, ok, err := p.g.q.Next(buf)
	if err != nil {
		p.g.warn("cannot read queue", "err", err)
	}
	if !ok {
		p.putBuf(buf)
		return false
	}
	if _, err := batch.Decode(rec, &p.decoded); err != nil {
		// The record passed its checksum, so this is a bug in what we wrote.
		panic("BUG: gwsim: queued batch does not decode: " + err.Error())
	}
	f := &flight{kind: flData, seq: p.decoded.Seq, weight: int64(weight), queued: true, qidx: idx, rec: rec}
	p.sendData(f, &p.decoded)
	return true
}

// sendData encodes and publishes a batch, then queues a malformed payload
// after it if the fault schedule says so. A batch from the queue goes out
// as Sparkplug historical data.
func (p *publisher) sendData(f *flight, b *batch.Batch) {
	buf := p.getBuf()
	switch p.o.Format {
	case wire.LineProtocol:
		f.payload = wire.AppendLineProtocol(buf, b)
	case wire.Sparkplug:
		f.payload, f.msgs = p.g.sp.AppendData(buf, f.msgs[:0], b, f.queued)
	default:
		f.payload = wire.AppendJSON(buf, b)
	}
	p.publish(f)
	if p.g.chance(streamMalformed, b.Seq, p.o.Faults.MalformedRate) && len(b.Readings) > 0 {
		v := uint8(mix(p.g.key^streamVariant^b.Seq) % wire.MalformedVariants)
		m := &flight{kind: flMalformed, seq: b.Seq, variant: v}
		m.payload = wire.AppendMalformed(p.getBuf(), p.o.Format, uint64(v), b)
		if p.g.sp != nil {
			r := &b.Readings[0]
			m.msgs = []wire.SparkplugMessage{{Topic: p.g.sp.DataTopic(r.Kind, r.Device), End: len(m.payload)}}
		}
		p.extras = append(p.extras, m)
	}
}

// publish puts f in the window and hands it to the connection's sender.
// The send never blocks: the window is no larger than the sender's queue.
// paho keeps the payload until the publish completes.
func (p *publisher) publish(f *flight) {
	if f.kind != flBirth {
		f.qos = p.o.QoS
	}
	f.sent = time.Now()
	p.inflight = append(p.inflight, f)
	p.conn.send <- f
}

// birthInFlight reports whether births are being sent: a rebirth request
// then needs nothing more.
func (p *publisher) birthInFlight() bool {
	for _, f := range p.inflight {
		if f.kind == flBirth {
			return true
		}
	}
	return false
}

// sendBirths starts a Sparkplug session on the current connection: NBIRTH
// and a DBIRTH per device, at QoS 0 as the specification has them. They go
// through the connection's sender like data, so they stay ahead of later
// data; they may take one slot beyond the window.
func (p *publisher) sendBirths() {
	if p.g.sp == nil {
		return
	}
	f := &flight{kind: flBirth, qos: 0}
	f.payload, f.msgs = p.g.sp.AppendBirths(nil, nil, p.conn.bdSeq, p.g.simNow())
	p.publish(f)
}

func (p *publisher) getBuf() []byte {
	if n := len(p.bufs); n > 0 {
		b := p.bufs[n-1]
		p.bufs = p.bufs[:n-1]
		return b[:0]
	}
	return nil
}

// putBuf returns a buffer that nothing else references any more. Buffers
// grown past 4 MiB are left to the garbage collector.
func (p *publisher) putBuf(b []byte) {
	if b != nil && cap(b) <= 4<<20 && len(p.bufs) < 2*p.o.Inflight+8 {
		p.bufs = append(p.bufs, b)
	}
}
