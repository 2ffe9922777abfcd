package forward

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// A destination that is down, and overflows, costs another destination
// nothing; a Close with a destination down leaves no goroutine behind.
func TestDestinationsAreIndependent(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	up := newReceiver(t, nil)
	down := newReceiver(t, func(int) int { return http.StatusBadGateway })
	opts := testOptions(t.TempDir(),
		Destination{Name: "up", URL: up.url(), MaxSamplesPerSend: 300},
		Destination{Name: "down", URL: down.url(), MaxQueueBytes: 16 << 10})
	opts.SegmentBytes = 8 << 10
	f, err := Open(opts)
	require.NoError(t, err)
	const n = 10_000
	for i := 0; i < n; i += 100 {
		appendWait(t, f, genSamples(100, int64(i)))
	}
	require.Eventually(t, func() bool { d, _, _ := up.counts(); return d == n }, 10*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool { return stat(f, 1).Dropped > 0 }, 10*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool { return stat(f, 0).QueueSamples == 0 }, 5*time.Second, 5*time.Millisecond)
	require.Zero(t, stat(f, 0).Dropped, "the overflow of one destination drops nothing of the other")
	require.Zero(t, stat(f, 1).Sent)
	_, total, _ := up.counts()
	require.Equal(t, n, total)
	require.NoError(t, f.Close())
	up.srv.Close()
	down.srv.Close()
}
