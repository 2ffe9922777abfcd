package gwsim

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestLatencyBucketsCoverEveryValueInOrder(t *testing.T) {
	prevUpper := uint64(0)
	for i := range latBuckets {
		up := latencyUpper(i)
		if i > 0 {
			require.Greater(t, up, prevUpper, "bucket %d", i)
			require.Equal(t, i, latencyBucket(prevUpper+1), "the value after bucket %d's top", i-1)
		}
		require.Equal(t, i, latencyBucket(up), "bucket %d's top", i)
		if i >= latSub {
			lo := latencyUpper(i-1) + 1
			require.LessOrEqual(t, float64(up-lo+1), float64(lo)/latSub+1, "bucket %d is at most 1/16 wide", i)
		}
		prevUpper = up
	}
	require.Equal(t, latBuckets-1, latencyBucket(^uint64(0)))
}

func TestLatencyQuantiles(t *testing.T) {
	var r latencyRecorder
	var empty Latency
	require.Zero(t, empty.Quantile(0.5))
	// 1000 acknowledgements: 1 ms .. 1000 ms.
	for i := 1; i <= 1000; i++ {
		r.record(time.Duration(i) * time.Millisecond)
	}
	l := r.snapshot()
	require.Equal(t, int64(1000), l.Count())
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Millisecond}, {0.99, 990 * time.Millisecond}, {0.999, 999 * time.Millisecond}, {1, time.Second}} {
		got := l.Quantile(c.q)
		require.GreaterOrEqual(t, got, c.want, "q %v", c.q)
		require.LessOrEqual(t, float64(got), float64(c.want)*(1+1.0/latSub), "q %v", c.q)
	}

	// A window: what was recorded after a snapshot.
	for range 10 {
		r.record(5 * time.Second)
	}
	w := r.snapshot().Sub(l)
	require.Equal(t, int64(10), w.Count())
	require.GreaterOrEqual(t, w.Quantile(0.5), 5*time.Second)
	require.Less(t, w.Quantile(0.5), 5*time.Second+5*time.Second/latSub)

	r.record(-time.Second) // a clock step backwards counts as zero
	last := r.snapshot().Sub(l).Sub(w)
	require.Equal(t, int64(1), last.Count())
	require.Zero(t, last.Quantile(1))
}
