package tsdb

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/stretchr/testify/require"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func openTest(t *testing.T, dir string) *DB {
	t.Helper()
	db, err := Open(Options{Dir: dir, Logger: quietLogger()})
	require.NoError(t, err)
	return db
}

func appendWait(t testing.TB, db *DB, b *Batch) {
	t.Helper()
	c, err := db.Append(b)
	require.NoError(t, err)
	require.NoError(t, c.Wait())
}

func instant(t *testing.T, db *DB, q string, at int64) promql.Vector {
	t.Helper()
	eng := promql.NewEngine(promql.EngineOpts{MaxSamples: 1e7, Timeout: time.Minute, LookbackDelta: 5 * time.Minute})
	qry, err := eng.NewInstantQuery(context.Background(), db, nil, q, time.UnixMilli(at))
	require.NoError(t, err)
	res := qry.Exec(context.Background())
	require.NoError(t, res.Err)
	v, err := res.Vector()
	require.NoError(t, err)
	return v
}

func TestAppendQueryRestart(t *testing.T) {
	dir := t.TempDir()
	db := openTest(t, dir)
	a, err := db.GetOrCreate(labels.FromStrings("__name__", "air_temperature_celsius", "province", "ha-noi", "device", "a"))
	require.NoError(t, err)
	b, err := db.GetOrCreate(labels.FromStrings("__name__", "air_temperature_celsius", "province", "hue", "device", "b"))
	require.NoError(t, err)
	again, err := db.GetOrCreate(labels.FromStrings("device", "a", "__name__", "air_temperature_celsius", "province", "ha-noi"))
	require.NoError(t, err)
	require.Equal(t, a, again)

	var batch Batch
	batch.Add(a, 1000, 27.4)
	batch.Add(b, 1000, 31.2)
	batch.Add(a, 2000, 27.5)
	appendWait(t, db, &batch)

	v := instant(t, db, `air_temperature_celsius{province="ha-noi"}`, 2000)
	require.Len(t, v, 1)
	require.Equal(t, 27.5, v[0].F)
	require.NoError(t, db.Close())

	// Close flushed the head into a part and removed the WAL it covered: the
	// samples come back from the part, the series from the series file.
	db = openTest(t, dir)
	defer db.Close()
	require.Equal(t, 0, db.LastReplay().Samples())
	require.Equal(t, int64(3), db.Stats().PartSamples)
	require.Equal(t, 2, db.SeriesCount())
	v = instant(t, db, `sum(air_temperature_celsius)`, 1000)
	require.Len(t, v, 1)
	require.InDelta(t, 58.6, v[0].F, 1e-9)

	// New series after a restart get fresh refs.
	c, err := db.GetOrCreate(labels.FromStrings("__name__", "x", "province", "hue"))
	require.NoError(t, err)
	require.Equal(t, SeriesRef(3), c)
}

func TestOutOfOrderAndDuplicates(t *testing.T) {
	db := openTest(t, t.TempDir())
	defer db.Close()
	ref, err := db.GetOrCreate(labels.FromStrings("__name__", "rainfall_mm"))
	require.NoError(t, err)
	var b Batch
	for _, ts := range []int64{5000, 1000, 3000, 3000, 1000, 4000} {
		b.Add(ref, ts, float64(ts)/1000)
	}
	appendWait(t, db, &b)

	q, err := db.Querier(0, 10000)
	require.NoError(t, err)
	ss := q.Select(context.Background(), true, nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", "rainfall_mm"))
	require.True(t, ss.Next())
	it := ss.At().Iterator(nil)
	var got []int64
	for it.Next() != 0 {
		ts, v := it.At()
		require.Equal(t, float64(ts)/1000, v)
		got = append(got, ts)
	}
	require.Equal(t, []int64{1000, 3000, 4000, 5000}, got)
	require.False(t, ss.Next())
}

func TestConcurrentAppendersShareFsyncs(t *testing.T) {
	db := openTest(t, t.TempDir())
	const writers, batches = 8, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ref, err := db.GetOrCreate(labels.FromStrings("__name__", "m", "w", string(rune('a'+w))))
			require.NoError(t, err)
			var b Batch
			for i := range batches {
				b.Reset()
				b.Add(ref, int64(i), float64(i))
				c, err := db.Append(&b)
				require.NoError(t, err)
				require.NoError(t, c.Wait())
			}
		}()
	}
	wg.Wait()
	st := db.Stats()
	require.Equal(t, int64(writers*batches), st.SamplesAppended)
	require.LessOrEqual(t, st.WALFsyncs, int64(writers*batches))
	require.NoError(t, db.Close())
	_, err := db.Append(&Batch{})
	require.ErrorIs(t, err, ErrClosed)
}
