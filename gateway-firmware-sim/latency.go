package gwsim

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// Acknowledgement latency is kept in a log-linear histogram of
// microseconds: values below 16 µs exactly, above that 16 buckets per
// power of two, so a reported quantile is at most 1/16 (6.25 %) above the
// true one. The top bucket holds everything from about 2^40 µs (12 days)
// up. Recording is one atomic add; no lock, no allocation.
const (
	latSub     = 16 // buckets per power of two
	latOctaves = 36 // powers of two above the exact range
	latBuckets = latSub * (latOctaves + 1)
)

// latencyBucket returns the bucket of a latency of us microseconds.
func latencyBucket(us uint64) int {
	if us < latSub {
		return int(us)
	}
	e := bits.Len64(us) - 5 // us>>e is in [16, 32)
	i := (e+1)*latSub + int(us>>e) - latSub
	return min(i, latBuckets-1)
}

// latencyUpper returns the largest latency bucket i holds, in microseconds.
func latencyUpper(i int) uint64 {
	if i < latSub {
		return uint64(i)
	}
	e := i/latSub - 1
	m := uint64(i%latSub + latSub)
	return (m+1)<<e - 1
}

// latencyRecorder is the simulator's shared histogram.
type latencyRecorder struct {
	counts [latBuckets]atomic.Int64
}

func (r *latencyRecorder) record(d time.Duration) {
	r.counts[latencyBucket(uint64(max(d, 0)/time.Microsecond))].Add(1)
}

func (r *latencyRecorder) snapshot() Latency {
	var l Latency
	for i := range r.counts {
		l.counts[i] = r.counts[i].Load()
	}
	return l
}

// Latency is a histogram of acknowledgement latencies: from the moment a
// gateway hands a batch to its MQTT client to the broker's PUBACK (at QoS 0,
// to the moment the client wrote it). Only data batches count, first sends
// and backlog replays alike; fault-injection messages and Sparkplug births
// do not. A quantile is exact to within 6.25 %, rounded up.
//
// Status carries the histogram since Run started; subtract an earlier
// snapshot (Sub) for the latencies of a window.
type Latency struct {
	counts [latBuckets]int64
}

// Count returns how many acknowledgements the histogram holds.
func (l *Latency) Count() int64 {
	var n int64
	for _, c := range l.counts {
		n += c
	}
	return n
}

// Quantile returns the latency below which a fraction q (0..1) of the
// acknowledgements fall: Quantile(0.5) is the median, Quantile(0.999) the
// p99.9, Quantile(1) the largest. It returns 0 for an empty histogram.
func (l *Latency) Quantile(q float64) time.Duration {
	n := l.Count()
	if n == 0 {
		return 0
	}
	// The rank of the quantile, 1-based: the smallest value with at least
	// q*n values at or below it.
	rank := int64(q*float64(n) + 0.999999)
	rank = min(max(rank, 1), n)
	var seen int64
	for i, c := range l.counts {
		seen += c
		if seen >= rank {
			return time.Duration(latencyUpper(i)) * time.Microsecond
		}
	}
	return time.Duration(latencyUpper(latBuckets-1)) * time.Microsecond
}

// Sub returns the acknowledgements l holds that prev (an earlier snapshot
// of the same run) did not.
func (l Latency) Sub(prev Latency) Latency {
	for i := range l.counts {
		l.counts[i] -= prev.counts[i]
	}
	return l
}
