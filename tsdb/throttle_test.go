package tsdb

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestMergeIsThrottled holds a merge to MergeBytesPerSecond: writing the
// merged part cannot take less time than its size at that rate. Only the
// lower bound is checked, which a slow machine cannot break.
func TestMergeIsThrottled(t *testing.T) {
	const rate = 256 << 10
	opts := manualOptions(t.TempDir())
	opts.MergeBytesPerSecond = rate
	db, err := Open(opts)
	require.NoError(t, err)
	defer db.Close()
	refs := make([]SeriesRef, 200)
	for i := range refs {
		refs[i] = metric(t, db, "voltage_volts", "device", fmt.Sprint(i))
	}
	base := int64(1_750_000_000_000)
	for p := range 4 {
		var batch Batch
		for s := range 100 {
			for i, ref := range refs {
				batch.Add(ref, base+int64(p*100+s)*10_000+int64(i%7), float64((p*100+s)*(i+1)%997)/10)
			}
		}
		appendWait(t, db, &batch)
		require.NoError(t, db.flushNow())
	}
	require.Equal(t, 4, db.Stats().Parts)

	start := time.Now()
	require.True(t, db.mergeOnce(farFuture()))
	took := time.Since(start)
	st := db.Stats()
	require.Equal(t, 1, st.Parts)
	floor := time.Duration(float64(st.PartBytes) / rate * float64(time.Second))
	t.Logf("merged part of %d bytes in %v; %v at the rate", st.PartBytes, took, floor)
	require.Greater(t, floor, 50*time.Millisecond, "the part is large enough for the bound to mean something")
	require.GreaterOrEqual(t, took, floor-10*time.Millisecond)
}
