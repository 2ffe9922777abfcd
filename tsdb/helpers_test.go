package tsdb

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/stretchr/testify/require"
)

// manualOptions returns options under which nothing happens in the
// background: the test flushes and merges by hand.
func manualOptions(dir string) Options {
	return Options{
		Dir:                 dir,
		Logger:              quietLogger(),
		FlushInterval:       time.Hour,
		HeadMinFlushSamples: 1 << 30,
		MergeConcurrency:    -1,
	}
}

func openManual(t testing.TB, dir string) *DB {
	t.Helper()
	db, err := Open(manualOptions(dir))
	require.NoError(t, err)
	return db
}

func metric(t testing.TB, db *DB, name string, kv ...string) SeriesRef {
	t.Helper()
	ref, err := db.GetOrCreate(labels.FromStrings(append([]string{"__name__", name}, kv...)...))
	require.NoError(t, err)
	return ref
}

type sample struct {
	T int64
	V float64
}

// selectAll returns, per series (keyed by its labels' string), the samples a
// querier over [mint, maxt] returns for the matchers.
func selectAll(t testing.TB, db *DB, mint, maxt int64, ms ...*labels.Matcher) map[string][]sample {
	t.Helper()
	q, err := db.Querier(mint, maxt)
	require.NoError(t, err)
	defer q.Close()
	out := map[string][]sample{}
	ss := q.Select(context.Background(), true, nil, ms...)
	var it chunkenc.Iterator
	for ss.Next() {
		s := ss.At()
		it = s.Iterator(it)
		var got []sample
		for it.Next() != chunkenc.ValNone {
			ts, v := it.At()
			got = append(got, sample{ts, v})
		}
		require.NoError(t, it.Err())
		out[s.Labels().String()] = got
	}
	require.NoError(t, ss.Err())
	return out
}

func nameIs(name string) *labels.Matcher {
	return labels.MustNewMatcher(labels.MatchEqual, "__name__", name)
}

const day = int64(partitionMillis)

// everything is a time range covering any sample.
var everything = [2]int64{math.MinInt64, math.MaxInt64}

// stopForCrashTest stops the store the way a crash would leave it: no final
// flush, no merge finished; only what was fsynced remains.
func (db *DB) stopForCrashTest() {
	db.mu.Lock()
	db.mu.closed = true
	db.space.Broadcast()
	db.mu.Unlock()
	close(db.stop)
	<-db.flusherDone
	db.mergersDone.Wait()
	close(db.commitStop)
	<-db.stopped
	db.wal.Close()
	db.releaseResources()
}

// farFuture is a time at which every partition of the tests is cold.
func farFuture() time.Time { return time.Date(9000, 1, 1, 0, 0, 0, 0, time.UTC) }
