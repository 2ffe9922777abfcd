package gwsim

import (
	"sync"
	"sync/atomic"
	"time"
)

// counters are one gateway's running totals. Readings are counted, not
// samples: a hydromet reading is one reading of five samples.
type counters struct {
	connected      atomic.Bool
	generated      atomic.Int64 // readings sampled
	acked          atomic.Int64 // readings acknowledged (QoS 1) or written (QoS 0)
	ackedBatches   atomic.Int64
	backlog        atomic.Int64 // readings in the on-disk queue, unacknowledged
	backlogBatches atomic.Int64
	dropped        atomic.Int64 // readings dropped from a full queue
	lost           atomic.Int64 // readings that could not be written to the queue
	refused        atomic.Int64 // messages on the errors topic
	malformed      atomic.Int64 // malformed payloads acknowledged
	duplicates     atomic.Int64 // duplicate publishes acknowledged
	connects       atomic.Int64 // successful connections
	flaps          atomic.Int64 // link flaps begun
	simTime        atomic.Int64 // the generator's simulated clock, Unix ms
}

// Status is a snapshot of a running simulation, for a live status line.
type Status struct {
	Gateways  int
	Connected int
	// Generated, Acked and Dropped count readings since Run started.
	// Dropped readings were pushed out of a full queue; Lost ones could not
	// be written to it. Generated = Acked + Backlog + Dropped + Lost +
	// readings in memory (being batched or in flight).
	Generated, Acked, Dropped, Lost int64
	AckedBatches                    int64
	// Backlog is what waits in the on-disk queues.
	Backlog, BacklogBatches int64
	// Refused counts messages heard on the gateways' errors topics: the
	// platform refused something. It is approximate: a refusal sent while
	// a link is down is missed, and one may be heard twice (QoS 1).
	Refused int64
	// Malformed and Duplicates count fault-injection messages acknowledged.
	Malformed, Duplicates int64
	// Reconnects counts connections made after a gateway's first.
	Reconnects int64
	// Flaps counts link flaps injected (Faults.FlapEvery).
	Flaps int64
	// AckLatency is the histogram of acknowledgement latencies since Run
	// started: AckLatency.Quantile(0.99) is the p99.
	AckLatency Latency
	// ReadingsPerSecond and AckedPerSecond are rates over the last second.
	ReadingsPerSecond, AckedPerSecond float64
	// SimTime is the simulated clock of the gateway furthest behind.
	SimTime time.Time
}

// rates turns totals into per-second rates, updated by a ticker in Run.
type rates struct {
	mu struct {
		sync.Mutex
		at                 time.Time
		generated, acked   int64
		genRate, ackedRate float64
	}
}

func (r *rates) update(now time.Time, generated, acked int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.mu.at.IsZero() {
		dt := now.Sub(r.mu.at).Seconds()
		if dt > 0 {
			r.mu.genRate = float64(generated-r.mu.generated) / dt
			r.mu.ackedRate = float64(acked-r.mu.acked) / dt
		}
	}
	r.mu.at, r.mu.generated, r.mu.acked = now, generated, acked
}

func (r *rates) get() (gen, acked float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mu.genRate, r.mu.ackedRate
}

// totals sums the counters of all gateways.
func (s *Simulator) totals() Status {
	st := Status{Gateways: len(s.gateways)}
	minSim := int64(0)
	for i, g := range s.gateways {
		c := &g.c
		if c.connected.Load() {
			st.Connected++
		}
		st.Generated += c.generated.Load()
		st.Acked += c.acked.Load()
		st.AckedBatches += c.ackedBatches.Load()
		st.Backlog += c.backlog.Load()
		st.BacklogBatches += c.backlogBatches.Load()
		st.Dropped += c.dropped.Load()
		st.Lost += c.lost.Load()
		st.Refused += c.refused.Load()
		st.Malformed += c.malformed.Load()
		st.Duplicates += c.duplicates.Load()
		st.Reconnects += max(0, c.connects.Load()-1)
		st.Flaps += c.flaps.Load()
		if t := c.simTime.Load(); i == 0 || t < minSim {
			minSim = t
		}
	}
	if minSim != 0 {
		st.SimTime = time.UnixMilli(minSim)
	}
	return st
}

// Status returns a snapshot of the simulation. It is safe to call at any
// time from any goroutine, also before Run and after it returns.
func (s *Simulator) Status() Status {
	st := s.totals()
	st.ReadingsPerSecond, st.AckedPerSecond = s.rates.get()
	st.AckLatency = s.acks.snapshot()
	return st
}
