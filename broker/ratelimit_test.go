package broker

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRateLimiterTake(t *testing.T) {
	l := newRateLimiter(10, 3)
	t0 := time.Unix(1000, 0)
	for i := range 3 {
		require.True(t, l.take(t0), "burst token %d", i)
	}
	require.False(t, l.take(t0), "the burst is spent")
	require.False(t, l.take(t0.Add(50*time.Millisecond)), "half a token earned")
	require.True(t, l.take(t0.Add(100*time.Millisecond)), "one token earned")
	// A long pause refills to the burst, no further.
	t1 := t0.Add(time.Hour)
	for range 3 {
		require.True(t, l.take(t1))
	}
	require.False(t, l.take(t1))
}

func TestRateLimiterReserve(t *testing.T) {
	l := newRateLimiter(4, 1)
	t0 := time.Unix(1000, 0)
	require.Zero(t, l.reserve(t0))
	require.Equal(t, 250*time.Millisecond, l.reserve(t0), "one token in debt")
	// The caller waited its 250 ms; the next one waits as long again.
	require.Equal(t, 250*time.Millisecond, l.reserve(t0.Add(250*time.Millisecond)))
	require.Zero(t, l.reserve(t0.Add(10*time.Second)))
}

func TestNoRateLimit(t *testing.T) {
	var l *rateLimiter = newRateLimiter(-1, 0)
	require.Nil(t, l)
	require.True(t, l.take(time.Now()))
	require.Zero(t, l.reserve(time.Now()))
}
