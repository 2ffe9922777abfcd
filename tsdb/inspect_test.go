package tsdb

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestInspect(t *testing.T) {
	dir := t.TempDir()
	db := openManual(t, dir)
	a := metric(t, db, "air_temperature_celsius", "device", "a")
	b := metric(t, db, "relative_humidity_percent", "device", "a")
	c := metric(t, db, "air_temperature_celsius", "device", "b")
	base := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC).UnixMilli()
	var batch Batch
	for i := range int64(100) {
		batch.Add(a, base+i*10_000, 27+float64(i%10)/10)
		batch.Add(b, base+i*10_000, 80)
	}
	batch.Add(c, base-day, 25) // a day late, its own partition
	appendWait(t, db, &batch)
	require.NoError(t, db.flushNow())
	batch.Reset()
	batch.Add(a, base+2_000_000, 30)
	appendWait(t, db, &batch)
	require.NoError(t, db.flushNow())

	rep, err := Inspect(dir)
	require.NoError(t, err)
	require.True(t, rep.InUse)
	require.Equal(t, 3, rep.Series)
	require.Len(t, rep.Partitions, 2)
	require.Equal(t, "20250531", rep.Partitions[0].Name)
	require.Equal(t, 1, rep.Partitions[0].Series)
	require.Equal(t, uint64(1), rep.Partitions[0].Samples)
	june1 := rep.Partitions[1]
	require.Equal(t, "20250601", june1.Name)
	require.Len(t, june1.Parts, 2)
	require.Equal(t, 2, june1.Series, "series a appears in both parts and counts once")
	require.Equal(t, uint64(201), june1.Samples)
	require.Equal(t, time.UnixMilli(base).UTC(), june1.MinTime)
	require.Equal(t, time.UnixMilli(base+2_000_000).UTC(), june1.MaxTime)
	require.Equal(t, uint64(202), rep.Samples)
	require.Equal(t, 3, rep.Parts)
	require.Greater(t, rep.Bytes, int64(0))
	require.InDelta(t, float64(rep.Bytes)/202, rep.BytesPerSample, 1e-9)
	require.Equal(t, db.Stats().PartBytes, rep.Bytes)

	db.stopForCrashTest()
	rep, err = Inspect(dir)
	require.NoError(t, err)
	require.False(t, rep.InUse)
	require.Empty(t, rep.Broken)
}
