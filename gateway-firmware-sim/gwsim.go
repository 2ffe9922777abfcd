// Package gwsim simulates the firmware of Quantrac's provincial IoT
// gateways: each gateway samples its field devices (hydro-meteorological
// stations, air-quality monitors, power meters, soil nodes), batches the
// readings, publishes them to the platform's MQTT broker as JSON batches,
// line protocol or Sparkplug B, and keeps every batch in an on-disk
// store-and-forward queue while its uplink is down, replaying the backlog in
// order when the link returns. A ledger records what the broker
// acknowledged, so a test can prove the platform lost and doubled nothing.
//
// The package lives in the folder gateway-firmware-sim. A Go package name
// cannot contain hyphens, so the package is named gwsim, after the command
// (cmd/gwsim) that wraps it.
//
// Sub-packages hold the parts: sensor (devices, climate, deterministic
// readings), batch (the batch and its binary form), wire (payload encoders),
// queue (the store-and-forward queue) and ledger (acknowledged batches).
// The design, formats and policies are in docs/gwsim.md.
package gwsim

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quantrac/quantrac/gateway-firmware-sim/batch"
	"github.com/quantrac/quantrac/gateway-firmware-sim/ledger"
	"github.com/quantrac/quantrac/gateway-firmware-sim/sensor"
	"github.com/quantrac/quantrac/province"
)

// Simulator runs a fleet of simulated gateways. Create it with New, run it
// once with Run, and watch it with Status.
type Simulator struct {
	opts     Options
	gateways []*gateway
	rates    rates
	acks     latencyRecorder
	ran      atomic.Bool
	batches  sync.Pool // *batch.Batch with capacity BatchSize
	ledger   *ledger.Writer
	bg       sync.WaitGroup // background MQTT disconnects
}

// Gateway describes one simulated gateway.
type Gateway struct {
	ID       string
	Province province.Province
	// Devices lists the device ids behind the gateway (aws-0193, ...).
	Devices []string
}

// New checks the options and builds the fleet: gateways, their devices and
// their parameters, all drawn from the seed. It does no I/O.
func New(opts Options) (*Simulator, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("cannot create simulator: %w", err)
	}
	s := &Simulator{opts: opts.withDefaults()}
	s.batches.New = func() any {
		return &batch.Batch{Readings: make([]sensor.Reading, 0, s.opts.BatchSize)}
	}
	provinces := province.All()
	if len(s.opts.Provinces) > 0 {
		provinces = nil
		for _, slug := range s.opts.Provinces {
			p, _ := province.Lookup(slug)
			provinces = append(provinces, p)
		}
	}
	for _, p := range provinces {
		for n := 1; n <= s.opts.GatewaysPerProvince; n++ {
			site, err := sensor.NewSite(s.opts.Seed, p, n, s.opts.DevicesPerGateway, s.opts.SampleInterval)
			if err != nil {
				return nil, fmt.Errorf("cannot create simulator: %w", err)
			}
			s.gateways = append(s.gateways, newGateway(s, site))
		}
	}
	return s, nil
}

// Gateways lists the simulated gateways, for provisioning them on the
// platform (credentials, certificates, ACLs).
func (s *Simulator) Gateways() []Gateway {
	out := make([]Gateway, len(s.gateways))
	for i, g := range s.gateways {
		out[i] = Gateway{ID: g.id, Province: g.site.Province()}
		for d := range g.site.Devices() {
			k, n := g.site.Device(d)
			out[i].Devices = append(out[i].Devices, string(sensor.AppendDeviceID(nil, k, n)))
		}
	}
	return out
}

// Run runs the simulation until Options.Duration of simulated time has been
// generated and delivered (or DrainTimeout passed), or until ctx is
// cancelled. On cancellation every batch not yet acknowledged is written to
// its gateway's queue, so a later Run with the same QueueDir resumes it.
// Run returns an error if a queue or the ledger cannot be opened; delivery
// problems are counted in Status, not returned. A Simulator runs once.
func (s *Simulator) Run(ctx context.Context) error {
	if !s.ran.CompareAndSwap(false, true) {
		return errors.New("cannot run simulator: it already ran")
	}
	log := s.opts.Logger
	if s.opts.LedgerPath != "" {
		w, err := ledger.Open(s.opts.LedgerPath)
		if err != nil {
			return fmt.Errorf("cannot run simulator: %w", err)
		}
		s.ledger = w
	}
	for i, g := range s.gateways {
		if err := g.open(); err != nil {
			for _, o := range s.gateways[:i] {
				o.close()
			}
			if s.ledger != nil {
				s.ledger.Close()
			}
			return fmt.Errorf("cannot run simulator: %w", err)
		}
	}
	clk := newClock(s.opts)
	log.Info("gateway simulator starting", "gateways", len(s.gateways),
		"devices_per_gateway", s.opts.DevicesPerGateway, "broker", s.opts.Broker,
		"format", s.opts.Format.String(), "qos", s.opts.QoS, "start", time.UnixMilli(clk.startMS).UTC())

	var wg sync.WaitGroup
	for _, g := range s.gateways {
		wg.Go(func() { g.run(ctx, clk) })
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	tick := time.NewTicker(s.opts.SyncInterval)
	defer tick.Stop()
	var lastRate time.Time
	for running := true; running; {
		select {
		case <-done:
			running = false
		case now := <-tick.C:
			s.syncLedger()
			if now.Sub(lastRate) >= time.Second {
				st := s.totals()
				s.rates.update(now, st.Generated, st.Acked)
				lastRate = now
			}
		}
	}
	s.bg.Wait()
	var err error
	if s.ledger != nil {
		err = s.ledger.Close()
	}
	st := s.totals()
	log.Info("gateway simulator stopped", "generated", st.Generated, "acked", st.Acked,
		"backlog", st.Backlog, "dropped", st.Dropped, "lost", st.Lost, "refused", st.Refused)
	if err != nil {
		return fmt.Errorf("cannot close ledger: %w", err)
	}
	return nil
}

func (s *Simulator) syncLedger() {
	if s.ledger == nil {
		return
	}
	if err := s.ledger.Sync(); err != nil {
		s.opts.Logger.Error("cannot sync ledger", "err", err)
	}
}

// getBatch returns an empty batch from the pool; putBatch returns it.
func (s *Simulator) getBatch() *batch.Batch {
	b := s.batches.Get().(*batch.Batch)
	b.Seq, b.Readings = 0, b.Readings[:0]
	return b
}

func (s *Simulator) putBatch(b *batch.Batch) { s.batches.Put(b) }

// clock maps wall time to simulated time.
type clock struct {
	startMS int64 // simulated start, Unix ms
	wall0   time.Time
	speed   float64
	unpaced bool
}

func newClock(o Options) *clock {
	return &clock{startMS: newClockStart(o), wall0: time.Now(), speed: o.Speed, unpaced: o.Unpaced}
}

// newClockStart is the simulated start of a run, Unix ms.
func newClockStart(o Options) int64 {
	if o.Start.IsZero() {
		return time.Now().UnixMilli()
	}
	return o.Start.UnixMilli()
}

// now returns the simulated time, Unix ms.
func (c *clock) now() int64 {
	return c.startMS + int64(float64(time.Since(c.wall0))*c.speed/float64(time.Millisecond))
}

// until returns the wall time until simulated instant ms.
func (c *clock) until(ms int64) time.Duration {
	return time.Duration(float64(ms-c.now()) / c.speed * float64(time.Millisecond))
}
