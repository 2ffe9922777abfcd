package tsdb

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestAppendAllocatesNothingPerSample holds the write path, from Append
// through the WAL write and fsync to the head, to a constant number of
// allocations per commit group (its Commit and the Commit's channel),
// whatever the number of samples in it: zero per sample. Steady state means
// the series' head buffers have the room a flush leaves them.
func TestAppendAllocatesNothingPerSample(t *testing.T) {
	if raceEnabled {
		t.Skip("-race allocates on its own")
	}
	for _, n := range []int{100, 10_000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			db := openManual(t, t.TempDir())
			defer db.Close()
			refs := make([]SeriesRef, n)
			for i := range refs {
				refs[i] = metric(t, db, "voltage_volts", "device", fmt.Sprint(i))
			}
			var batch Batch
			ts := int64(1_750_000_000_000)
			round := func() {
				batch.Reset()
				ts += 10_000
				for i, ref := range refs {
					batch.Add(ref, ts+int64(i%13), 230+float64(i%50)/10)
				}
				c, err := db.Append(&batch)
				if err != nil {
					panic(err)
				}
				if err := c.Wait(); err != nil {
					panic(err)
				}
			}
			// Grow every buffer on the path, then flush: the series keep
			// their head buffers' capacity for the next samples.
			for range 20 {
				round()
			}
			require.NoError(t, db.flushNow())
			allocs := testing.AllocsPerRun(15, round)
			t.Logf("%d samples per group: %.1f allocations per group", n, allocs)
			require.LessOrEqual(t, allocs, 2.0)
		})
	}
}
