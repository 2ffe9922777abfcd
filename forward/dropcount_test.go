package forward

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Drops while several senders deliver: every sample is either on the
// receiver or counted as dropped, never both.
func TestDropCountIsExactWithSeveralSenders(t *testing.T) {
	rcv := newReceiver(t, func(int) int {
		time.Sleep(3 * time.Millisecond) // slower than the appends: the queue overflows
		return http.StatusNoContent
	})
	opts := testOptions(t.TempDir(), Destination{URL: rcv.url(), MaxSamplesPerSend: 100, MaxShards: 4,
		MaxQueueBytes: 16 << 10})
	opts.SegmentBytes = 8 << 10
	opts.SyncInterval = 5 * time.Millisecond
	f := openForwarder(t, opts)
	const n = 40_000
	for i := 0; i < n; i += 200 {
		appendWait(t, f, genSamples(200, int64(i)))
	}
	require.Eventually(t, func() bool { return stat(f, 0).QueueSamples == 0 }, 20*time.Second, 5*time.Millisecond)
	st := stat(f, 0)
	distinct, _, _ := rcv.counts()
	require.Positive(t, st.Dropped)
	_, total, _ := rcv.counts()
	require.Equal(t, n, distinct+int(st.Dropped), "delivered %d, dropped %d", distinct, st.Dropped)
	require.Equal(t, distinct, total, "a drop sends nothing twice")
	require.EqualValues(t, total, st.Sent)
}
