package encoding

import (
	"syscall"
	"testing"
	"time"
)

// cpuTime returns the CPU time this process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportPerCPUSecond reports n samples over the CPU time used since start
// as samples/cpu-s. On a machine shared with other work, wall-clock rates
// fall with the load while this one holds: run with -cpu 1, it is the rate
// of one core (garbage collection included).
func reportPerCPUSecond(b *testing.B, n int64, start time.Duration) {
	if used := cpuTime() - start; used > 0 {
		b.ReportMetric(float64(n)/used.Seconds(), "samples/cpu-s")
	}
}
