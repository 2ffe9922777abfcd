package tsdb

import (
	"math"
	"sync/atomic"
)

// Stats is a snapshot of the store's counters.
type Stats struct {
	Series          int
	SamplesAppended int64 // samples committed since start
	Commits         int64 // commit groups written
	WALFsyncs       int64
	WALBytes        int64 // record bytes written to the WAL since start
	// WALFsyncSeconds is a cumulative latencyHistogram of fsync latency: counts per
	// upper bound in FsyncBuckets, then the sum of all observations.
	WALFsyncBuckets []uint64
	WALFsyncSum     float64
}

// FsyncBuckets are the upper bounds, in seconds, of the fsync latency
// latencyHistogram in Stats.
var FsyncBuckets = []float64{0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}

// Stats returns the store's counters.
func (db *DB) Stats() Stats {
	return Stats{
		Series:          db.series.count(),
		SamplesAppended: db.stats.samplesAppended.Load(),
		Commits:         db.stats.commits.Load(),
		WALFsyncs:       db.stats.fsyncs.Load(),
		WALBytes:        db.stats.walBytes.Load(),
		WALFsyncBuckets: db.stats.fsyncSeconds.cumulative(),
		WALFsyncSum:     db.stats.fsyncSeconds.sum(),
	}
}

// latencyHistogram counts observations into FsyncBuckets. Lock-free: one writer, any
// number of readers; a reader may see a count a moment ahead of the sum.
type latencyHistogram struct {
	counts  [11]atomic.Uint64 // len(FsyncBuckets)+1, the last for +Inf
	sumBits atomic.Uint64
}

func (h *latencyHistogram) observe(v float64) {
	i := 0
	for i < len(FsyncBuckets) && v > FsyncBuckets[i] {
		i++
	}
	h.counts[i].Add(1)
	for {
		old := h.sumBits.Load()
		if h.sumBits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

// cumulative returns the count at or below each bound, and last the total.
func (h *latencyHistogram) cumulative() []uint64 {
	out := make([]uint64, len(h.counts))
	var c uint64
	for i := range h.counts {
		c += h.counts[i].Load()
		out[i] = c
	}
	return out
}

func (h *latencyHistogram) sum() float64 { return math.Float64frombits(h.sumBits.Load()) }
