package gwsim

import (
	"time"

	"github.com/quantrac/quantrac/gateway-firmware-sim/batch"
	"github.com/quantrac/quantrac/gateway-firmware-sim/ledger"
	"github.com/quantrac/quantrac/gateway-firmware-sim/queue"
)

// complete handles the completion of the oldest flight: the broker
// acknowledged it (QoS 1) or the sender wrote it (QoS 0). The connection
// reports flights in the order they were sent (ackOrder).
func (p *publisher) complete(f *flight) {
	if len(p.inflight) == 0 || p.inflight[0] != f {
		panic("BUG: gwsim: flight completed out of order")
	}
	p.inflight = p.inflight[:copy(p.inflight, p.inflight[1:])]
	g := p.g
	switch f.kind {
	case flData:
		if f.queued {
			g.q.Ack(f.qidx)
			p.refreshBacklog()
		}
		if f.dropped {
			g.c.dropped.Add(-f.weight) // delivered after all
		}
		g.sim.acks.record(time.Since(f.sent))
		g.c.acked.Add(f.weight)
		g.c.ackedBatches.Add(1)
		p.record(ledger.Acked, f)
		if g.chance(streamDuplicate, f.seq, p.o.Faults.DuplicateRate) {
			// The duplicate takes over the payload buffer.
			p.extras = append(p.extras, &flight{kind: flDuplicate, seq: f.seq, weight: f.weight,
				payload: f.payload, msgs: f.msgs})
			f.payload, f.msgs = nil, nil
		}
	case flDuplicate:
		g.c.duplicates.Add(1)
		p.record(ledger.Duplicate, f)
	case flMalformed:
		g.c.malformed.Add(1)
		p.record(ledger.Malformed, f)
	case flBirth:
		f.payload = nil // not from the buffer pool
	}
	p.release(f)
}

// record writes f to the ledger, if there is one.
func (p *publisher) record(t ledger.Type, f *flight) {
	w := p.g.sim.ledger
	if w == nil {
		return
	}
	e := &p.entry
	*e = ledger.Entry{Type: t, Province: p.g.slug, Gateway: p.g.id, Format: p.o.Format, QoS: p.o.QoS,
		AckedAt: time.Now().UnixMilli(), Seq: f.seq, Readings: int(f.weight), Variant: f.variant}
	var err error
	switch {
	case t == ledger.Acked && f.queued:
		err = w.AppendAcked(e, f.rec)
	case t == ledger.Acked:
		e.Batch = *f.live
		err = w.Append(e)
		e.Batch = batch.Batch{}
	default:
		err = w.Append(e)
	}
	if err != nil {
		p.g.warn("cannot record acknowledged batch in ledger", "err", err)
	}
}

// release returns what a completed flight holds.
func (p *publisher) release(f *flight) {
	if f.live != nil {
		p.g.sim.putBatch(f.live)
	}
	p.putBuf(f.rec)
	p.putBuf(f.payload)
}

// connLost handles the end of the connection: nothing in flight counts as
// delivered. Batches from memory (in flight or waiting) go to the queue in
// the order they were cut; batches from the queue are still there and are
// resent from the oldest. Pending duplicates and malformed payloads are
// abandoned. The TCP connection is cut, unless polite, when an MQTT
// DISCONNECT ends it. why is nil for a link flap or a stop.
func (p *publisher) connLost(why error, polite bool) {
	cn := p.conn
	if cn == nil {
		return
	}
	if why != nil {
		p.g.log.Info("connection lost", "err", why)
	}
	close(cn.stop)
	if polite {
		p.g.disconnect(cn)
	} else {
		cn.abort()
	}
	p.conn = nil
	p.g.c.connected.Store(false)
	for _, f := range p.inflight {
		if f.live != nil {
			p.spill(f.live)
		}
		p.putBuf(f.rec) // paho never saw the record; the payload it may still hold
	}
	p.inflight = p.inflight[:0]
	for _, f := range p.extras {
		p.putBuf(f.payload)
	}
	p.extras = p.extras[:0]
	for _, b := range p.live {
		p.spill(b)
	}
	p.live = p.live[:0]
	p.g.q.Rewind()
	p.backlogTurn = true
	if p.linkUp && !p.stopping {
		p.cr.request(true)
	}
}

// connected adopts a new connection.
func (p *publisher) connected(cn *conn) {
	p.cr.taken()
	if !p.linkUp || p.stopping || p.conn != nil {
		p.g.disconnect(cn)
		return
	}
	p.conn = cn
	cn.start(p.g.dataTopic, p.o.Inflight+1, &p.g.sim.bg)
	g := p.g
	if g.c.connects.Add(1) == 1 {
		g.log.Info("connected", "broker", p.o.Broker)
	} else {
		g.log.Info("reconnected", "backlog_batches", g.q.Len())
	}
	g.c.connected.Store(true)
	g.q.Rewind()
	p.backlogTurn = true
	p.sendBirths()
}

// stop ends delivery: the connection is closed politely and everything not
// acknowledged is written to the queue, where a later run resumes it.
func (p *publisher) stop() {
	if p.stopping {
		return
	}
	p.stopping = true
	p.cr.request(false)
	p.connLost(nil, true)
}

// spill writes a batch from memory to the queue and returns it to the pool.
func (p *publisher) spill(b *batch.Batch) {
	p.bin = batch.Append(p.bin[:0], b)
	_, d, err := p.g.q.Append(uint32(len(b.Readings)), p.bin)
	p.noteDropped(d)
	if err != nil {
		p.g.c.lost.Add(int64(len(b.Readings)))
		p.g.warn("cannot queue batch; its readings are lost", "seq", b.Seq, "err", err)
	}
	p.dirty = true
	p.refreshBacklog()
	p.g.sim.putBatch(b)
}

// noteDropped accounts for records the queue dropped to make room. Those in
// flight are marked: if their acknowledgement still comes, they count as
// delivered instead.
func (p *publisher) noteDropped(d queue.Dropped) {
	if d.Records == 0 {
		return
	}
	p.g.c.dropped.Add(d.Weight)
	p.g.warn("queue full: dropped the oldest batches", "batches", d.Records, "readings", d.Weight)
	for _, f := range p.inflight {
		if f.queued && f.qidx < d.Below && !f.dropped {
			f.dropped = true
		}
	}
}

func (p *publisher) refreshBacklog() {
	st := p.g.q.Stats()
	p.g.c.backlog.Store(st.Weight)
	p.g.c.backlogBatches.Store(st.Records)
}

// sync makes queued batches durable: one fsync per burst of appends.
func (p *publisher) sync() {
	if !p.dirty {
		return
	}
	if err := p.g.q.Sync(); err != nil {
		p.g.warn("cannot sync queue", "err", err)
	}
	p.dirty = false
}
