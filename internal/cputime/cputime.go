// Package cputime measures the CPU time of the process, for benchmarks that
// report rates per CPU second: on a machine shared with other work the
// wall-clock rate falls with the load, while the rate per CPU second of a
// benchmark run with -cpu 1 stays the rate of one core.
package cputime

import (
	"syscall"
	"testing"
	"time"
)

// Used returns the user and system CPU time this process has used so far,
// or 0 if the system cannot tell.
func Used() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Report reports n events over the CPU time used since start (a value of
// Used) as the metric unit, for example "samples/cpu-s". It reports
// nothing if no CPU time was measured.
func Report(b *testing.B, n int64, start time.Duration, unit string) {
	if used := Used() - start; used > 0 {
		b.ReportMetric(float64(n)/used.Seconds(), unit)
	}
}
