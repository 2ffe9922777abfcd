package bench

import (
	"context"
	"fmt"
	"io"
	"time"

	gwsim "github.com/quantrac/quantrac/gateway-firmware-sim"
)

// progress prints the live status line and keeps the per-second rates of
// the measured window.
type progress struct {
	w        io.Writer
	terminal bool
	lastLine time.Time
	prev     gwsim.Status
	prevAt   time.Time
	perSec   []float64 // readings acknowledged in each second of the window
}

func newProgress(w io.Writer, terminal bool) *progress {
	return &progress{w: w, terminal: terminal}
}

// line prints one status line; started is the phase's start (zero: no
// clock shown).
func (p *progress) line(phase string, started time.Time, st gwsim.Status, extra string) {
	now := time.Now()
	rate := 0.0
	if !p.prevAt.IsZero() {
		if dt := now.Sub(p.prevAt).Seconds(); dt > 0 {
			rate = float64(st.Acked-p.prev.Acked) / dt
		}
	}
	p.prev, p.prevAt = st, now
	if p.w == nil || (!p.terminal && now.Sub(p.lastLine) < 5*time.Second) {
		return
	}
	p.lastLine = now
	clock := ""
	if !started.IsZero() {
		clock = fmt.Sprintf(" %4.0fs", now.Sub(started).Seconds())
	}
	s := fmt.Sprintf("%-14s%s  gateways %d/%d  readings/s %s  backlog %d%s",
		phase, clock, st.Connected, st.Gateways, fmtNum(rate, 0), st.Backlog, extra)
	if p.terminal {
		fmt.Fprintf(p.w, "\r%-100s", s)
	} else {
		fmt.Fprintln(p.w, s)
	}
}

func (p *progress) done() {
	if p.w != nil && p.terminal {
		fmt.Fprintln(p.w)
	}
}

// phase shows the status line each second for d. While recording (the
// measured window), the readings of each second are kept.
func (p *progress) phase(ctx context.Context, name string, d time.Duration, sim *gwsim.Simulator, each func()) {
	start := time.Now()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	last := sim.Status().Acked
	for time.Since(start) < d {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		st := sim.Status()
		if name != "warm-up" {
			p.perSec = append(p.perSec, float64(st.Acked-last))
		}
		last = st.Acked
		if each != nil {
			each()
		}
		p.line(name, start, st, "")
	}
}

// replay shows the status line until the backlog is delivered or d
// passes, polling live data's freshness each second; it returns how long
// the replay took.
func (p *progress) replay(ctx context.Context, d time.Duration, sim *gwsim.Simulator, live *liveWatch) float64 {
	start := time.Now()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	last := sim.Status().Acked
	for time.Since(start) < d {
		select {
		case <-ctx.Done():
			return time.Since(start).Seconds()
		case <-tick.C:
		}
		st := sim.Status()
		p.perSec = append(p.perSec, float64(st.Acked-last))
		last = st.Acked
		lag := live.poll(ctx)
		p.line("replay", start, st, fmt.Sprintf("  live lag %s ms", fmtNum(ms(lag), 0)))
		if st.Backlog == 0 && st.Connected == st.Gateways {
			return time.Since(start).Seconds()
		}
	}
	return time.Since(start).Seconds()
}

// min5s is the lowest rate over 5 consecutive seconds of the window, or
// -1 for a window under 5 s.
func (p *progress) min5s() float64 {
	if len(p.perSec) < 5 {
		return -1
	}
	best := -1.0
	for i := 0; i+5 <= len(p.perSec); i++ {
		s := 0.0
		for _, v := range p.perSec[i : i+5] {
			s += v
		}
		if best < 0 || s/5 < best {
			best = s / 5
		}
	}
	return best
}

// liveWatch polls how fresh the newest sample of a live metric is. Until
// the first live sample is queryable (the gateways reconnect and their
// first live batch is committed) a poll that finds nothing is not a miss;
// first says when that was.
type liveWatch struct {
	q      *client
	metric string
	start  time.Time
	first  time.Duration
	seen   bool
	max    time.Duration
	misses int64
}

func (l *liveWatch) poll(ctx context.Context) time.Duration {
	now := time.Now()
	pts, err := l.q.queryInstant(ctx, "max(timestamp("+l.metric+"))", now)
	// Only samples newer than the replay's start are live ones.
	if err != nil || len(pts) == 0 || time.UnixMilli(int64(pts[0].V*1e3)).Before(l.start) {
		if l.seen {
			l.misses++
		}
		return 0
	}
	if !l.seen {
		l.seen, l.first = true, now.Sub(l.start)
	}
	lag := now.Sub(time.UnixMilli(int64(pts[0].V * 1e3)))
	l.max = max(l.max, lag)
	return lag
}
