package forward

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDeliversEverySampleOnce(t *testing.T) {
	rcv := newReceiver(t, nil)
	f := openForwarder(t, testOptions(t.TempDir(), Destination{URL: rcv.url(), MaxSamplesPerSend: 500}))
	const n = 20_000
	for i := 0; i < n; i += 1000 {
		appendWait(t, f, genSamples(1000, int64(i)))
	}
	require.Eventually(t, func() bool { d, _, _ := rcv.counts(); return d == n }, 10*time.Second, 5*time.Millisecond)
	_, total, _ := rcv.counts()
	require.Equal(t, n, total, "no duplicates without a restart")
	require.Eventually(t, func() bool { return stat(f, 0).Sent == n }, 5*time.Second, 5*time.Millisecond)
	st := stat(f, 0)
	require.Zero(t, st.Failed)
	require.Zero(t, st.Dropped)
	require.Eventually(t, func() bool { return stat(f, 0).QueueSamples == 0 }, 5*time.Second, 5*time.Millisecond)
}
