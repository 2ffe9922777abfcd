package tsdb

import (
	"testing"
	"time"

	"github.com/quantrac/quantrac/internal/cputime"
)

func cpuTime() time.Duration { return cputime.Used() }

// reportPerCPUSecond reports n samples over the CPU time used since start
// as samples/cpu-s (see package cputime for why).
func reportPerCPUSecond(b *testing.B, n int64, start time.Duration) {
	cputime.Report(b, n, start, "samples/cpu-s")
}
