package tsdb

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/stretchr/testify/require"
)

// headBytesPerSeries returns the heap the store grows by, per series, when
// n series of the ingest path's shape each get samplesPerSeries samples:
// the series registry, the inverted index, the labels and the head's
// samples, everything the head holds for an active series.
func headBytesPerSeries(t testing.TB, n, samplesPerSeries int) float64 {
	db := openManual(t, t.TempDir())
	defer db.Close()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	refs := make([]SeriesRef, n)
	metrics := []string{"air_temperature_celsius", "relative_humidity_percent", "rainfall_mm",
		"river_water_level_meters", "wind_speed_meters_per_second"}
	b := labels.NewScratchBuilder(6)
	for i := range refs {
		b.Reset()
		b.Add("__name__", metrics[i%len(metrics)])
		b.Add("province", "ha-noi")
		b.Add("gateway", fmt.Sprintf("hn-gw-%03d", i/2000))
		b.Add("device", fmt.Sprintf("aws-%04d", i/len(metrics)%10000))
		b.Add("kind", "hydromet")
		b.Sort()
		ref, err := db.GetOrCreate(b.Labels())
		require.NoError(t, err)
		refs[i] = ref
	}
	var batch Batch
	for s := range samplesPerSeries {
		for i, ref := range refs {
			batch.Add(ref, int64(1_750_000_000_000+s*10_000+i%7), float64(s)/10)
			if batch.Len() == 10_000 {
				appendWait(t, db, &batch)
				batch.Reset()
			}
		}
	}
	appendWait(t, db, &batch)
	require.Equal(t, int64(n*samplesPerSeries), db.Stats().HeadSamples)
	refs = nil

	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(db)
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
}

// TestHeadMemoryPerSeries holds the head to at most 1 KiB per active series
// at its flush budget: 100 000 series, each with as many samples as the
// default budget lets the head hold before it flushes.
func TestHeadMemoryPerSeries(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 100 000 series")
	}
	var o Options
	o.setDefaults()
	for _, samples := range []int{4, o.HeadSamplesPerSeries} {
		got := headBytesPerSeries(t, 100_000, samples)
		t.Logf("100000 series x %d samples: %.0f bytes per series", samples, got)
		require.LessOrEqual(t, got, 1024.0)
	}
}
