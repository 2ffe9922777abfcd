package tsdb

import (
	"math"
	"sync/atomic"
	"time"
)

// Stats is a snapshot of the store's counters.
type Stats struct {
	Series          int
	SamplesAppended int64 // samples committed since start
	Commits         int64 // commit groups written
	WALFsyncs       int64
	WALBytes        int64 // record bytes written to the WAL since start
	// WALFsyncBuckets is a cumulative histogram of fsync latency: counts per
	// upper bound in FsyncBuckets, then the total; WALFsyncSum is the sum of
	// all observations in seconds.
	WALFsyncBuckets []uint64
	WALFsyncSum     float64

	HeadSamples    int64 // samples in the head, not yet being flushed
	HeadSeries     int64 // series with samples in the head
	Partitions     int
	Parts          int
	PartBytes      int64 // bytes of all parts on disk
	PartSamples    int64 // samples in all parts
	Flushes        int64 // head flushes since start
	FlushedSamples int64
	// HeadFullWaits counts the times commits waited for a flush because
	// the head held twice its budget (docs/storage.md, "Head memory"), and
	// HeadFullWaitSeconds the time they waited.
	HeadFullWaits       int64
	HeadFullWaitSeconds float64
	Merges              int64 // merges completed since start
	MergeErrors         int64
	PartitionsDropped   int64 // by retention, since start
	RetentionDropped    int64 // samples not flushed because older than the retention
	BrokenParts         int64 // parts set aside at start because they did not open
	BrokenSeriesFiles   int64 // series files skipped at start because damaged

	// What the WAL replay at start found and had to drop (LastReplay has
	// the detail): records whose checksum failed or that did not decode,
	// bytes cut from torn segment tails, and samples whose series definition
	// was in a dropped record.
	ReplaySamples        int64
	ReplayDroppedRecords int64
	ReplaySkippedBytes   int64
	ReplayTruncatedBytes int64
	ReplayOrphanSamples  int64
}

// FsyncBuckets are the upper bounds, in seconds, of the fsync latency
// latencyHistogram in Stats.
var FsyncBuckets = []float64{0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}

// Stats returns the store's counters.
func (db *DB) Stats() Stats {
	st := Stats{
		Series:              db.series.count(),
		SamplesAppended:     db.stats.samplesAppended.Load(),
		Commits:             db.stats.commits.Load(),
		WALFsyncs:           db.stats.fsyncs.Load(),
		WALBytes:            db.stats.walBytes.Load(),
		WALFsyncBuckets:     db.stats.fsyncSeconds.cumulative(),
		WALFsyncSum:         db.stats.fsyncSeconds.sum(),
		HeadSamples:         db.head.samples.Load(),
		HeadSeries:          db.head.series.Load(),
		Flushes:             db.stats.flushes.Load(),
		FlushedSamples:      db.stats.flushedSamples.Load(),
		HeadFullWaits:       db.stats.headFullWaits.Load(),
		HeadFullWaitSeconds: time.Duration(db.stats.headFullWaitNanos.Load()).Seconds(),
		Merges:              db.stats.merges.Load(),
		MergeErrors:         db.stats.mergeErrors.Load(),
		PartitionsDropped:   db.stats.partitionsDropped.Load(),
		RetentionDropped:    db.stats.retentionDropped.Load(),
		BrokenParts:         db.stats.brokenParts.Load(),
		BrokenSeriesFiles:   db.stats.brokenSeriesFiles.Load(),
	}
	rs := db.LastReplay()
	st.ReplaySamples = int64(rs.Samples())
	st.ReplayDroppedRecords = int64(rs.DroppedRecords())
	st.ReplaySkippedBytes = rs.SkippedBytes()
	st.ReplayTruncatedBytes = rs.TruncatedBytes()
	st.ReplayOrphanSamples = int64(rs.OrphanSamples())
	db.state.RLock()
	st.Partitions = len(db.state.partitions)
	for _, ps := range db.state.partitions {
		st.Parts += len(ps)
		for _, p := range ps {
			st.PartBytes += p.info.Size
			st.PartSamples += int64(p.info.Samples)
		}
	}
	db.state.RUnlock()
	return st
}

// stats are the store's counters, read by Stats.
type stats struct {
	samplesAppended   atomic.Int64
	commits           atomic.Int64
	fsyncs            atomic.Int64
	fsyncSeconds      latencyHistogram
	walBytes          atomic.Int64
	replay            atomic.Pointer[ReplayStats]
	flushes           atomic.Int64
	flushedSamples    atomic.Int64
	headFullWaits     atomic.Int64
	headFullWaitNanos atomic.Int64
	merges            atomic.Int64
	mergeErrors       atomic.Int64
	partitionsDropped atomic.Int64
	retentionDropped  atomic.Int64
	brokenParts       atomic.Int64
	brokenSeriesFiles atomic.Int64
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
