package gwsim

import (
	"context"
	"math"
	"time"

	"github.com/quantrac/quantrac/gateway-firmware-sim/batch"
)

// eventKind says what the generator tells the publisher.
type eventKind uint8

const (
	evBatch    eventKind = iota + 1 // a batch was cut
	evLinkDown                      // a link flap starts
	evLinkUp                        // a link flap ends
	evDone                          // generation ended; nothing follows
)

type event struct {
	kind eventKind
	b    *batch.Batch
}

// generate is the gateway firmware's sampling loop. It walks the slots from
// the start to the end of the run, reads every device in each slot, cuts
// batches by size and age, and hands them to the publisher on out. Paced, it
// processes a slot once the simulated clock has passed its end; unpaced, as
// fast as out takes batches. Link flaps are announced on out at slot
// boundaries, in order with the batches.
//
// On cancellation it cuts the open batch and stops. It always ends by
// sending evDone: the publisher reads out until then.
func (g *gateway) generate(ctx context.Context, clk *clock, out chan<- event) {
	o := &g.sim.opts
	site := g.site
	iv := site.Interval()
	end := int64(math.MaxInt64)
	if o.Duration > 0 {
		end = clk.startMS + o.Duration.Milliseconds()
	}
	age := o.BatchAge.Milliseconds()
	fl := newFlapper(g, o.Faults)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()

	var b *batch.Batch
	var first int64 // slot time of b's first reading
	cut := func() {
		seq, err := g.seq.take()
		if err != nil {
			g.log.Error("cannot reserve batch sequence numbers", "err", err)
		}
		b.Seq = seq
		out <- event{kind: evBatch, b: b}
		b = nil
	}
	k := site.FirstSlot(clk.startMS)
	if fl != nil {
		out <- fl.initial(site.SlotTime(k))
	}
	for ; site.SlotTime(k) < end && ctx.Err() == nil; k++ {
		slot := site.SlotTime(k)
		if !clk.unpaced && !g.waitFor(ctx, clk, timer, slot+iv) {
			break
		}
		if fl != nil {
			if ev, ok := fl.at(slot); ok {
				out <- ev
			}
		}
		g.c.simTime.Store(slot)
		for i := range site.Devices() {
			if b == nil {
				b, first = g.sim.getBatch(), slot
			}
			n := len(b.Readings)
			b.Readings = b.Readings[:n+1]
			site.Read(k, i, &b.Readings[n])
			if n+1 == o.BatchSize {
				cut()
			}
		}
		g.c.generated.Add(int64(site.Devices()))
		if b != nil && slot+iv-first >= age {
			cut()
		}
	}
	if b != nil {
		cut()
	}
	if err := g.seq.close(); err != nil {
		g.log.Error("cannot record the batch sequence", "err", err)
	}
	out <- event{kind: evDone}
}

// waitFor sleeps until the simulated clock reaches ms. It returns false if
// ctx was cancelled first.
func (g *gateway) waitFor(ctx context.Context, clk *clock, timer *time.Timer, ms int64) bool {
	for {
		d := clk.until(ms)
		if d <= 0 {
			return true
		}
		timer.Reset(d)
		select {
		case <-timer.C:
		case <-ctx.Done():
			return false
		}
	}
}

// flapper follows a gateway's link-flap schedule: down for FlapDown at the
// start of every FlapEvery period, periods aligned to the Unix epoch plus a
// phase drawn per gateway (so gateways do not all drop at once), or no phase
// with FlapTogether (so they do).
type flapper struct {
	every, down, phase int64 // ms
	isDown             bool
}

func newFlapper(g *gateway, f Faults) *flapper {
	if f.FlapEvery <= 0 {
		return nil
	}
	every := f.FlapEvery.Milliseconds()
	fl := &flapper{every: every, down: f.FlapDown.Milliseconds()}
	if !f.FlapTogether {
		fl.phase = int64(mix(g.key^streamFlap) % uint64(every))
	}
	return fl
}

func (f *flapper) downAt(t int64) bool {
	pos := (t - f.phase) % f.every
	if pos < 0 {
		pos += f.every
	}
	return pos < f.down
}

// initial returns the link state at the first slot.
func (f *flapper) initial(t int64) event {
	f.isDown = f.downAt(t)
	if f.isDown {
		return event{kind: evLinkDown}
	}
	return event{kind: evLinkUp}
}

// at returns the event for a change of link state by slot time t, if any.
func (f *flapper) at(t int64) (event, bool) {
	d := f.downAt(t)
	if d == f.isDown {
		return event{}, false
	}
	f.isDown = d
	if d {
		return event{kind: evLinkDown}, true
	}
	return event{kind: evLinkUp}, true
}
