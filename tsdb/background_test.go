package tsdb

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/stretchr/testify/require"
)

func TestRetentionDropsWholePartitions(t *testing.T) {
	dir := t.TempDir()
	opts := manualOptions(dir)
	opts.Retention = 7 * 24 * time.Hour
	db, err := Open(opts)
	require.NoError(t, err)
	defer db.Close()
	ref := metric(t, db, "air_temperature_celsius")
	// The flush drops by the real clock, so the days are counted back from it.
	now := time.Now()
	var batch Batch
	for d := range int64(10) { // today and the nine days before
		batch.Add(ref, now.UnixMilli()-d*day, float64(d))
	}
	appendWait(t, db, &batch)
	// The day seven days back holds now-7d itself, so it stays; the two
	// older days are past the retention already and are not even written.
	require.NoError(t, db.flushNow())
	require.Equal(t, 8, db.Stats().Partitions)
	require.Equal(t, int64(2), db.Stats().RetentionDropped)

	// A querier started before retention keeps its parts readable.
	q, err := db.Querier(everything[0], everything[1])
	require.NoError(t, err)
	ss := q.Select(context.Background(), false, nil, nameIs("air_temperature_celsius"))

	// Two days later, two more days have passed the retention.
	later := now.Add(48 * time.Hour)
	require.Equal(t, 2, db.applyRetention(later))
	require.Equal(t, 6, db.Stats().Partitions)
	require.True(t, ss.Next())
	n := 0
	for it := ss.At().Iterator(nil); it.Next() != 0; n++ {
	}
	require.Equal(t, 8, n, "a query that started before the drop still reads the dropped parts")
	require.NoError(t, q.Close())

	for _, d := range []int64{6, 7} {
		_, err := os.Stat(db.partitionDir(partitionOf(now.UnixMilli() - d*day)))
		require.True(t, os.IsNotExist(err), "day -%d is gone from disk", d)
	}
	got := selectAll(t, db, everything[0], everything[1], nameIs("air_temperature_celsius"))
	require.Len(t, got[`{__name__="air_temperature_celsius"}`], 6)
}

// TestMergesWhileQueriesRead runs writers, the flusher and the merger in the
// background, flat out, while readers query and check that every committed
// sample is there, exactly once, with its value. Run it with -race.
func TestMergesWhileQueriesRead(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(Options{
		Dir:                  dir,
		Logger:               quietLogger(),
		HeadMinFlushSamples:  1,
		HeadSamplesPerSeries: 10,
		MergeBytesPerSecond:  -1,
	})
	require.NoError(t, err)
	const series, rounds = 20, 150
	refs := make([]SeriesRef, series)
	for i := range refs {
		refs[i] = metric(t, db, "wind_speed", "device", fmt.Sprint(i))
	}
	base := int64(1_750_000_000_000)
	var committed atomic.Int64 // rounds fully committed
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var batch Batch
		for r := range int64(rounds) {
			batch.Reset()
			for _, ref := range refs {
				batch.Add(ref, base+r*1000, float64(r)+float64(ref)/100)
			}
			c, err := db.Append(&batch)
			if !assertNoError(t, err) || !assertNoError(t, c.Wait()) {
				return
			}
			committed.Store(r + 1)
			// Every 30 rounds, wait for the flusher to have flushed again,
			// and at the end for a merge, so that flushes and merges overlap
			// the readers however the machine schedules them.
			if (r+1)%30 == 0 && !waitFor(t, func(st Stats) bool { return st.Flushes > r/30 }, db) {
				return
			}
		}
		waitFor(t, func(st Stats) bool { return st.Merges > 0 }, db)
	}()
	stop := make(chan struct{})
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				n := committed.Load()
				got := selectAll(t, db, base, base+int64(rounds)*1000, labels.MustNewMatcher(labels.MatchRegexp, "__name__", "wind_.*"))
				for _, ref := range refs {
					s := got[fmt.Sprintf(`{__name__="wind_speed", device="%d"}`, ref-1)]
					if int64(len(s)) < n {
						t.Errorf("series %d: %d samples, %d rounds committed", ref, len(s), n)
						return
					}
					for i, smp := range s {
						if smp.T != base+int64(i)*1000 || smp.V != float64(i)+float64(ref)/100 {
							t.Errorf("series %d sample %d is %v", ref, i, smp)
							return
						}
					}
				}
			}
		}()
	}
	for committed.Load() < rounds && !t.Failed() {
		time.Sleep(5 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	st := db.Stats()
	require.Greater(t, st.Flushes, int64(3), "the head was flushed several times")
	require.Greater(t, st.Merges, int64(0), "background merges ran while the readers read")
	// Let the merger catch up, then check the end state.
	for db.mergeOnce(farFuture()) {
	}
	require.NoError(t, db.Close())

	db = openManual(t, dir)
	defer db.Close()
	require.Equal(t, int64(series*rounds), db.Stats().PartSamples)
	require.Equal(t, 0, db.LastReplay().Samples())
	got := selectAll(t, db, everything[0], everything[1], nameIs("wind_speed"))
	require.Len(t, got, series)
	for _, s := range got {
		require.Len(t, s, rounds)
	}
	files, err := filepath.Glob(filepath.Join(dir, partsDirName, "*", "*"))
	require.NoError(t, err)
	require.Len(t, files, db.Stats().Parts, "every merged-away part file was removed: %v", files)
}

// waitFor polls db's Stats until cond holds, for at most 10 seconds; from
// a goroutine, it reports a timeout with t.Error.
func waitFor(t *testing.T, cond func(Stats) bool, db *DB) bool {
	for deadline := time.Now().Add(10 * time.Second); !cond(db.Stats()); {
		if time.Now().After(deadline) {
			t.Errorf("timed out; stats %+v", db.Stats())
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
	return true
}

// assertNoError reports err from a goroutine that must not call FailNow.
func assertNoError(t *testing.T, err error) bool {
	if err != nil {
		t.Error(err)
		return false
	}
	return true
}

// TestReopenWithShorterRetention reopens a store with a retention that
// several of its partitions are already past: they go at start, without
// waiting for the next merge check.
func TestReopenWithShorterRetention(t *testing.T) {
	dir := t.TempDir()
	db := openManual(t, dir)
	ref := metric(t, db, "rainfall_mm")
	now := time.Now()
	var batch Batch
	for d := range int64(5) {
		batch.Add(ref, now.UnixMilli()-d*day, float64(d))
	}
	appendWait(t, db, &batch)
	require.NoError(t, db.Close())

	opts := manualOptions(dir)
	opts.MergeConcurrency = 1
	opts.Retention = 48 * time.Hour
	db, err := Open(opts)
	require.NoError(t, err)
	defer db.Close()
	require.Eventually(t, func() bool { return db.Stats().PartitionsDropped == 2 }, 10*time.Second, 10*time.Millisecond)
	require.Equal(t, 3, db.Stats().Partitions)
	got := selectAll(t, db, everything[0], everything[1], nameIs("rainfall_mm"))
	require.Len(t, got[`{__name__="rainfall_mm"}`], 3)
}
