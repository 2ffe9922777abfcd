package simbench

import (
	"testing"
	"time"

	"github.com/quantrac/quantrac/internal/cputime"
)

// Rates reports a benchmark in the units of docs/ingest.md: readings and
// samples per second of wall-clock time, ns per reading, fields per reading,
// and readings per second of the process's CPU time. The CPU figure is what
// one core does while it runs the benchmark (run with -cpu 1); on a shared
// machine the wall-clock figure also counts the time other work held the
// core.
type Rates struct {
	b    *testing.B
	cpu0 time.Duration
}

// Start is called just before the benchmark loop; it turns on ReportAllocs.
func Start(b *testing.B) Rates {
	b.ReportAllocs()
	return Rates{b: b, cpu0: cpuTime()}
}

// Report adds the rates for readings and samples, in total over all b.N
// iterations; call it after the loop.
func (r Rates) Report(readings, samples int64) {
	wall := r.b.Elapsed().Seconds()
	cpu := (cpuTime() - r.cpu0).Seconds()
	r.b.ReportMetric(float64(readings)/wall, "readings/s")
	r.b.ReportMetric(float64(samples)/wall, "samples/s")
	r.b.ReportMetric(wall*1e9/float64(readings), "ns/reading")
	r.b.ReportMetric(float64(samples)/float64(readings), "fields/reading")
	if cpu > 0 {
		r.b.ReportMetric(float64(readings)/cpu, "readings/cpu-s")
	}
}

func cpuTime() time.Duration { return cputime.Used() }
