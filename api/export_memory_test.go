package api

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/stretchr/testify/require"

	"github.com/quantrac/quantrac/tsdb"
)

// exportStore writes rows samples, 1000 series of rows/1000 samples at a
// 10 s step, closes the store so that they are flushed into parts, and
// opens it again.
func exportStore(t *testing.T, rows int) *tsdb.DB {
	t.Helper()
	dir := t.TempDir()
	db, err := tsdb.Open(tsdb.Options{Dir: dir, Logger: quiet()})
	require.NoError(t, err)
	const series = 1000
	refs := make([]tsdb.SeriesRef, series)
	for i := range refs {
		refs[i], err = db.GetOrCreate(labels.FromStrings("__name__", "river_water_level_metres",
			"province", "can-tho", "gateway", fmt.Sprintf("ct-gw-%03d", i/10), "device", fmt.Sprintf("hydro-%d", i%10)))
		require.NoError(t, err)
	}
	var b tsdb.Batch
	perSeries := rows / series
	for from := 0; from < perSeries; from += 100 {
		b.Reset()
		for _, ref := range refs {
			for j := from; j < min(from+100, perSeries); j++ {
				b.Add(ref, base.Add(time.Duration(j)*10*time.Second).UnixMilli(), 1.5+float64(mix(uint64(j)<<20|uint64(ref))%300)/100)
			}
		}
		c, err := db.Append(&b)
		require.NoError(t, err)
		require.NoError(t, c.Wait())
	}
	require.NoError(t, db.Close())
	db, err = tsdb.Open(tsdb.Options{Dir: dir, Logger: quiet()})
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

// mix scrambles x, so that the levels do not repeat in a pattern a
// compressor would find.
func mix(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	return x
}

// liveHeap is the heap the last garbage collection found live.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// exportPeak exports every row of db over HTTP in format and returns the
// rows' bytes and the peak growth of the live heap while it streamed.
func exportPeak(t *testing.T, db *tsdb.DB, format string) (body int64, growth uint64) {
	t.Helper()
	a, err := New(Options{Queryable: db, Logger: quiet(), AllowAnonymous: true, Version: "test"})
	require.NoError(t, err)
	mux := http.NewServeMux()
	a.Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	runtime.GC()
	baseline := liveHeap()
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			if l := liveHeap(); l > peak.Load() {
				peak.Store(l)
			}
			select {
			case <-done:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	})

	end := base.Add(30 * 24 * time.Hour)
	resp, err := http.Get(srv.URL + "/api/v1/export?format=" + format + "&match[]=" +
		url.QueryEscape(`{__name__="river_water_level_metres"}`) + "&start=" + sec(base) + "&end=" + sec(end))
	require.NoError(t, err)
	body, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	close(done)
	wg.Wait()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	if p := peak.Load(); p > baseline {
		growth = p - baseline
	}
	return body, growth
}

// An export four times as large costs about the same memory: the store
// decodes one block at a time and the writers stream in bounded batches.
// The heap is collected often (GC at 20 %) so that the live heap the
// collector finds is sampled many times during the export.
//
// By default the large export has 4 M rows, which would take 61 MiB as bare
// timestamps and values. CSV may grow by 8 MiB over the export a quarter its
// size. Parquet is held to a fixed budget of 64 MiB instead: arrow-go keeps
// its zstd encoders (about 8 MiB each) in a sync.Pool, which every
// collection empties, so how many are live when sampled swings the peak by
// tens of MiB from run to run, whatever the size (more on a busy machine,
// where collections lag): each export runs twice and the smaller peak
// counts. QUANTRAC_EXPORT_ROWS sets the large
// export's rows for a measurement; docs/export.md gives the figures.
func TestExportMemoryStaysFlatThroughTheStore(t *testing.T) {
	if testing.Short() {
		t.Skip("writes millions of samples")
	}
	large := 4_000_000
	if s := os.Getenv("QUANTRAC_EXPORT_ROWS"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(t, err)
		large = n
	}
	defer debug.SetGCPercent(debug.SetGCPercent(20))

	for _, format := range []string{"parquet", "csv"} {
		small := exportStore(t, large/4)
		smallBody, smallGrowth := minExportPeak(t, small, format)
		big := exportStore(t, large)
		bigBody, bigGrowth := minExportPeak(t, big, format)
		t.Logf("%s: %d rows %.1f MiB out, heap +%.1f MiB; %d rows %.1f MiB out, heap +%.1f MiB",
			format, large/4, float64(smallBody)/(1<<20), float64(smallGrowth)/(1<<20),
			large, float64(bigBody)/(1<<20), float64(bigGrowth)/(1<<20))
		require.Greater(t, bigBody, 3*smallBody, "the large export holds the rows")
		if format == "parquet" {
			require.Less(t, bigGrowth, uint64(64<<20), "Parquet export over its memory budget")
		} else {
			require.Less(t, bigGrowth, smallGrowth+8<<20, "%s export memory grows with its size", format)
		}
	}
}

// minExportPeak exports twice and returns the body size and the smaller
// heap growth of the two.
func minExportPeak(t *testing.T, db *tsdb.DB, format string) (int64, uint64) {
	body, growth := exportPeak(t, db, format)
	if _, g := exportPeak(t, db, format); g < growth {
		growth = g
	}
	return body, growth
}
