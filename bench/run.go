package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	gwsim "github.com/quantrac/quantrac/gateway-firmware-sim"
	"github.com/quantrac/quantrac/province"
)

// Options configure one run of a scenario.
type Options struct {
	Scenario Scenario
	// Node chooses the server under test. DataDir is set by Run.
	Node NodeOptions
	// WorkDir holds the node's data, the gateways' queues and the logs.
	// It must exist and should be empty.
	WorkDir string
	// Token is a read token for a remote node's query API.
	Token string
	// Progress receives the live status line; nil for none. Terminal
	// rewrites one line with \r; otherwise a line is printed every 5 s.
	Progress io.Writer
	Terminal bool
	// AfterWindow, if set, is called when the measured window closes,
	// before the load stops: for a heap profile of a loaded node.
	AfterWindow func()
}

// unpacedHistory is how far back unpaced fleets start their simulated
// clock: an unpaced gateway's clock runs far ahead of the wall clock, and
// the node refuses readings more than 10 minutes in the future.
const unpacedHistory = 7 * 24 * time.Hour

// unpacedQueueBytes is the queue of each unpaced gateway: room for one
// full batch (gateway-firmware-sim refuses a queue smaller than that; a
// reading takes at most 64 bytes in the queue's form).
func unpacedQueueBytes(batch int) int64 { return int64(batch)*64 + 1024 }

// pacedQueueBytes is the queue of each gateway of a paced fleet faster than
// real time; what overflows it is dropped and counted (Result.Dropped).
const pacedQueueBytes = 8 << 20

// Run runs a scenario and measures it.
func Run(ctx context.Context, o Options) (res *Result, err error) {
	sc := o.Scenario
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	res = &Result{Scenario: sc.Name, Gateways: sc.Gateways(), MemoryBudgetMiB: float64(sc.MemoryBudget)}
	if !sc.Unpaced {
		res.OfferedPerSec = float64(sc.Gateways()*sc.DevicesPerGateway) / sc.SampleInterval.Seconds() * sc.Speed
	}
	logf, err := os.Create(filepath.Join(o.WorkDir, "qbench.log"))
	if err != nil {
		return nil, fmt.Errorf("cannot create log: %w", err)
	}
	defer logf.Close()
	log := slog.New(slog.NewTextHandler(logf, &slog.HandlerOptions{Level: slog.LevelWarn}))

	no := o.Node
	no.DataDir = filepath.Join(o.WorkDir, "data")
	if no.Log == nil {
		no.Log = logf
	}
	node, err := StartNode(no)
	if err != nil {
		return nil, err
	}
	res.Node = node.Mode()
	closed := false
	defer func() {
		if !closed {
			if cerr := node.Close(); cerr != nil && err == nil {
				err = cerr
			}
		}
	}()
	q := newClient(node.HTTP(), o.Token)
	pr := newProgress(o.Progress, o.Terminal)

	simOpts := gwsim.Options{
		Broker: node.Broker(), Provinces: provinceSlugs(sc.Provinces),
		GatewaysPerProvince: sc.GatewaysPerProvince, DevicesPerGateway: sc.DevicesPerGateway,
		SampleInterval: sc.SampleInterval, BatchSize: sc.BatchSize, BatchAge: sc.BatchAge,
		Format: sc.Format, QoS: sc.QoS, Inflight: sc.Inflight, Unpaced: sc.Unpaced, Speed: sc.Speed,
		Seed: 1, QueueDir: filepath.Join(o.WorkDir, "queues"), DrainTimeout: time.Second,
		MinBackoff: 200 * time.Millisecond, MaxBackoff: 2 * time.Second, Logger: log,
		QueueNoSync: !sc.GatewayFsync,
	}
	if sc.Unpaced {
		// An unpaced gateway without a connection generates into its
		// queue as fast as it can; a small queue keeps that (before the
		// fleet has connected) from turning into a backlog replayed
		// during the window. What does not fit is dropped and never
		// counted as accepted.
		simOpts.Start = time.Now().Add(-unpacedHistory)
		simOpts.QueueBytes = unpacedQueueBytes(sc.BatchSize)
	}
	if !sc.Unpaced && sc.Backlog == 0 && sc.Speed > 1 {
		// A paced fleet faster than real time: start far enough back that
		// the simulated clock stays behind the wall clock for the whole
		// run, and bound each queue, which holds what the node cannot
		// take in time.
		span := sc.ConnectTimeout + sc.Warmup + sc.Duration + time.Minute
		simOpts.Start = time.Now().Add(-time.Duration(float64(span) * sc.Speed))
		simOpts.QueueBytes = pacedQueueBytes
	}
	if sc.Backlog > 0 {
		n, err := recordBacklog(ctx, simOpts, sc.Backlog, pr)
		if err != nil {
			return nil, err
		}
		res.BacklogReadings = n
		simOpts.Start = time.Now()
	}

	// Probes and the marker run from before the fleet connects until the
	// window closes; they record only inside it.
	bgCtx, bgCancel := context.WithCancel(ctx)
	defer bgCancel()
	probes := &prober{batch: sc.BatchSize, every: sc.ProbeEvery}
	mk := &marker{every: sc.MarkerEvery, q: q}
	bgDone := make(chan error, 2)
	nbg := 0
	if sc.Probes > 0 {
		nbg++
		go func() { bgDone <- probes.run(bgCtx, node.Broker(), sc.Probes) }()
	}
	if sc.MarkerEvery > 0 {
		nbg++
		go func() { bgDone <- mk.run(bgCtx, node.Broker()) }()
	}

	sim, err := gwsim.New(simOpts)
	if err != nil {
		return nil, err
	}
	simCtx, simCancel := context.WithCancel(ctx)
	defer simCancel()
	simDone := make(chan error, 1)
	go func() { simDone <- sim.Run(simCtx) }()

	if err := waitConnected(ctx, sim, sc, pr); err != nil {
		res.Errors = append(res.Errors, err.Error())
	}
	pr.phase(ctx, "warm-up", sc.Warmup, sim, nil)

	// The measured window.
	w0, err := snapshot(ctx, sim, node, q)
	if err != nil {
		return nil, err
	}
	res.Load = loadAvg()
	probes.recording.Store(true)
	mk.recording.Store(true)
	var live *liveWatch
	if sc.Backlog > 0 {
		live = &liveWatch{q: q, metric: sc.LiveMetric, start: simOpts.Start}
		res.ReplaySec = pr.replay(ctx, sc.Duration, sim, live)
		res.LiveLagMaxms, res.LiveLagMisses = ms(live.max), live.misses
		res.LiveFirstSec = live.first.Seconds()
		if !live.seen {
			res.LiveLagMisses = -1
			res.Errors = append(res.Errors, "live data never became queryable during the replay")
		}
	} else {
		pr.phase(ctx, "measure", sc.Duration, sim, nil)
	}
	w1, err := snapshot(ctx, sim, node, q)
	if err != nil {
		return nil, err
	}
	probes.recording.Store(false)
	mk.recording.Store(false)
	pr.done()
	if o.AfterWindow != nil {
		o.AfterWindow()
	}

	simCancel()
	select {
	case err := <-simDone:
		if err != nil {
			res.Errors = append(res.Errors, err.Error())
		}
	case <-time.After(time.Minute):
		res.Errors = append(res.Errors, "the simulator did not stop within a minute")
	}
	bgCancel()
	for range nbg {
		if err := <-bgDone; err != nil && !errors.Is(err, context.Canceled) {
			res.Errors = append(res.Errors, err.Error())
		}
	}
	if n := probes.errors.Load(); n > 0 {
		res.Errors = append(res.Errors, fmt.Sprintf("%d probe publishes failed", n))
	}
	if e, ok := mk.lastErr.Load().(string); ok {
		res.Errors = append(res.Errors, "marker: "+e)
	}

	fill(res, w0, w1, probes, mk)
	res.MessagesPerSec = (w1.node.Messages - w0.node.Messages) / res.Seconds
	res.SamplesPerSec = (w1.node.Samples - w0.node.Samples) / res.Seconds
	res.ReadingsMin5s = pr.min5s()

	// The store is measured after a clean shutdown, so the head is in parts.
	res.SamplesStored = w1.node.Samples
	if u, ok := node.Usage(); ok {
		res.PeakRSSMiB = float64(u.PeakRSS) / (1 << 20)
	}
	closed = true
	if err := node.Close(); err != nil {
		res.Errors = append(res.Errors, err.Error())
	}
	if dir := node.DataDir(); dir != "" {
		if n, err := storeBytes(dir); err == nil && res.SamplesStored > 0 {
			res.StoreBytes = n
			res.BytesPerSample = float64(n) / res.SamplesStored
		}
	}
	return res, nil
}

// fill sets the rates and usage figures of the window w0..w1.
func fill(res *Result, w0, w1 window, probes *prober, mk *marker) {
	res.Seconds = w1.at.Sub(w0.at).Seconds()
	res.Connected = w1.sim.Connected
	res.Readings = w1.sim.Acked - w0.sim.Acked + probes.readings.Load()
	res.ReadingsPerSec = float64(res.Readings) / res.Seconds
	res.Rejected = w1.node.Rejected
	res.BacklogGrowth = w1.sim.Backlog - w0.sim.Backlog
	res.Dropped = w1.sim.Dropped + w1.sim.Lost - w0.sim.Dropped - w0.sim.Lost
	qs, n := probes.ack.quantiles(0.5, 0.99, 0.999)
	res.AckP50ms, res.AckP99ms, res.AckP999ms, res.AckCount = ms(qs[0]), ms(qs[1]), ms(qs[2]), n
	ls, n := mk.lag.quantiles(0.5, 1)
	res.LagP50ms, res.LagMaxms, res.LagCount, res.LagMisses = ms(ls[0]), ms(ls[1]), n, mk.misses.Load()
	switch {
	case w1.nodeUsageOK && w1.self:
		res.CPUSource = "getrusage of qbench's process: server and load generator together"
	case w1.nodeUsageOK:
		res.CPUSource = "/proc/<pid>/stat and VmHWM of the server's process"
	default:
		res.CPUSource = "not available for a remote node"
	}
	if w1.nodeUsageOK {
		res.RSSEndMiB = float64(w1.nodeUsage.RSS) / (1 << 20)
		res.ServerCPUSec = (w1.nodeUsage.CPU - w0.nodeUsage.CPU).Seconds()
		if res.Readings > 0 {
			res.CPUPerMReadings = res.ServerCPUSec / (float64(res.Readings) / 1e6)
		}
	}
	res.LoadgenCPUSec = (w1.selfUsage.CPU - w0.selfUsage.CPU).Seconds()
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// window is the state at one edge of the measured window.
type window struct {
	at          time.Time
	sim         gwsim.Status
	node        counters
	nodeUsage   Usage
	nodeUsageOK bool
	self        bool // nodeUsage is this process's
	selfUsage   Usage
}

func snapshot(ctx context.Context, sim *gwsim.Simulator, node Node, q *client) (window, error) {
	var w window
	var err error
	if w.node, err = q.scrape(ctx); err != nil {
		return w, err
	}
	w.nodeUsage, w.nodeUsageOK = node.Usage()
	w.self = node.Mode() == "in-process"
	w.selfUsage, _ = selfUsage()
	w.sim = sim.Status()
	w.at = time.Now()
	return w, nil
}

// waitConnected waits until the whole fleet is connected, or the
// scenario's connect timeout passes.
func waitConnected(ctx context.Context, sim *gwsim.Simulator, sc Scenario, pr *progress) error {
	deadline := time.Now().Add(sc.ConnectTimeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		st := sim.Status()
		if st.Connected == sc.Gateways() {
			return nil
		}
		pr.line("connect", time.Time{}, st, "")
		time.Sleep(200 * time.Millisecond)
	}
	st := sim.Status()
	if st.Connected == sc.Gateways() {
		return nil
	}
	return fmt.Errorf("only %d of %d gateways connected within %v", st.Connected, sc.Gateways(), sc.ConnectTimeout)
}

// recordBacklog runs the fleet with its link down for d of simulated
// time, as fast as it can sample, so each gateway's queue holds d of
// readings. It returns the readings queued.
func recordBacklog(ctx context.Context, o gwsim.Options, d time.Duration, pr *progress) (int64, error) {
	dead, err := deadBroker()
	if err != nil {
		return 0, err
	}
	o.Broker, o.Start, o.Duration = dead, time.Now().Add(-d), d
	o.Unpaced, o.Speed, o.DrainTimeout = false, 1e6, time.Millisecond
	sim, err := gwsim.New(o)
	if err != nil {
		return 0, err
	}
	done := make(chan error, 1)
	go func() { done <- sim.Run(ctx) }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			st := sim.Status()
			if err != nil {
				return 0, fmt.Errorf("cannot record the backlog: %w", err)
			}
			if st.Dropped+st.Lost > 0 {
				return 0, fmt.Errorf("cannot record the backlog: %d readings dropped from full queues, %d lost", st.Dropped, st.Lost)
			}
			return st.Backlog, nil
		case <-tick.C:
			pr.line("record backlog", time.Time{}, sim.Status(), "")
		}
	}
}

// deadBroker returns the URL of a loopback port nothing listens on.
func deadBroker() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("cannot find a free port: %w", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "tcp://" + addr, nil
}

func provinceSlugs(n int) []string {
	all := province.All()
	out := make([]string, 0, n)
	for _, p := range all[:n] {
		out = append(out, p.Slug)
	}
	return out
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return "load average " + strings.Join(f[:3], " ")
}
