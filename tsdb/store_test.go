package tsdb

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/stretchr/testify/require"
)

// TestFlushMovesHeadIntoParts follows samples from the head into parts and
// checks that the WAL segments the parts cover are removed while the series
// survive a restart through their series file.
func TestFlushMovesHeadIntoParts(t *testing.T) {
	dir := t.TempDir()
	db := openManual(t, dir)
	a := metric(t, db, "air_temperature_celsius", "device", "a")
	b := metric(t, db, "air_temperature_celsius", "device", "b")
	base := int64(1_750_000_000_000)
	var batch Batch
	for i := range int64(100) {
		batch.Add(a, base+i*1000, float64(i)/10)
		batch.Add(b, base+i*1000, float64(i))
	}
	appendWait(t, db, &batch)
	walBefore := db.wal.Segments()
	require.NotEmpty(t, walBefore)
	require.NoError(t, db.flushNow())

	st := db.Stats()
	require.Equal(t, int64(200), st.PartSamples)
	require.Equal(t, 1, st.Parts)
	require.Equal(t, int64(0), st.HeadSamples)
	for _, seg := range walBefore {
		require.NotContains(t, db.wal.Segments(), seg, "segment %d is covered by the part", seg)
	}
	files, err := filepath.Glob(filepath.Join(dir, seriesDirName, "*"+seriesExt))
	require.NoError(t, err)
	require.Len(t, files, 1)

	// More samples in the head; a query sees head and part together.
	batch.Reset()
	batch.Add(a, base+100_000, 99)
	appendWait(t, db, &batch)
	got := selectAll(t, db, everything[0], everything[1], nameIs("air_temperature_celsius"), labels.MustNewMatcher(labels.MatchEqual, "device", "a"))
	require.Len(t, got, 1)
	for _, s := range got {
		require.Len(t, s, 101)
		require.Equal(t, sample{base + 100_000, 99}, s[100])
		require.Equal(t, sample{base + 5000, 0.5}, s[5])
	}
	// A narrower range trims the part's block.
	got = selectAll(t, db, base+10_000, base+19_999, nameIs("air_temperature_celsius"))
	require.Len(t, got, 2)
	for _, s := range got {
		require.Len(t, s, 10)
	}

	// Kill the process state without a clean close: the part, the series
	// file and the WAL's last segment bring everything back.
	db.stopForCrashTest()
	db = openManual(t, dir)
	defer db.Close()
	require.Equal(t, 2, db.SeriesCount())
	require.Equal(t, 1, db.LastReplay().Samples())
	got = selectAll(t, db, everything[0], everything[1], nameIs("air_temperature_celsius"))
	require.Len(t, got, 2)
	for name, s := range got {
		require.Len(t, s, map[bool]int{true: 101, false: 100}[name == `{__name__="air_temperature_celsius", device="a"}`], name)
	}
}

// TestLateDataLandsInItsPartition writes samples days late and out of order
// and checks where they land and that queries see them.
func TestLateDataLandsInItsPartition(t *testing.T) {
	dir := t.TempDir()
	db := openManual(t, dir)
	defer db.Close()
	ref := metric(t, db, "rainfall_mm", "device", "r1")
	now := int64(1_750_000_000_000)
	var batch Batch
	batch.Add(ref, now, 1)
	batch.Add(ref, now-3*day, 2) // a gateway replaying its backlog
	batch.Add(ref, now-3*day-1000, 3)
	batch.Add(ref, now-10*day, 4)
	appendWait(t, db, &batch)
	require.NoError(t, db.flushNow())
	require.Equal(t, 3, db.Stats().Partitions)
	for _, ts := range []int64{now, now - 3*day, now - 10*day} {
		_, err := os.Stat(db.partitionDir(partitionOf(ts)))
		require.NoError(t, err)
	}
	got := selectAll(t, db, everything[0], everything[1], nameIs("rainfall_mm"))
	require.Equal(t, []sample{{now - 10*day, 4}, {now - 3*day - 1000, 3}, {now - 3*day, 2}, {now, 1}},
		got[`{__name__="rainfall_mm", device="r1"}`])
}

// TestDuplicatesStoredOnce writes the same samples again and again, across
// flushes, and checks that merging keeps one per timestamp and that the last
// write of a timestamp wins everywhere: in the head, across parts before a
// merge, and after it.
func TestDuplicatesStoredOnce(t *testing.T) {
	dir := t.TempDir()
	db := openManual(t, dir)
	defer db.Close()
	ref := metric(t, db, "voltage_volts", "device", "p1")
	base := int64(1_750_000_000_000)
	write := func(v float64, n int) {
		var batch Batch
		for i := range n {
			batch.Add(ref, base+int64(i)*1000, v+float64(i))
		}
		appendWait(t, db, &batch)
	}
	query := func() []sample {
		return selectAll(t, db, everything[0], everything[1], nameIs("voltage_volts"))[`{__name__="voltage_volts", device="p1"}`]
	}
	write(100, 50)
	write(100, 50) // an exact repeat: a gateway resending its backlog
	require.NoError(t, db.flushNow())
	write(200, 30) // the first 30 timestamps again, with new values
	require.NoError(t, db.flushNow())
	write(300, 10) // and again, still in the head
	check := func() {
		got := query()
		require.Len(t, got, 50)
		for i, s := range got {
			want := 100 + float64(i)
			switch {
			case i < 10:
				want = 300 + float64(i)
			case i < 30:
				want = 200 + float64(i)
			}
			require.Equal(t, sample{base + int64(i)*1000, want}, s, "sample %d", i)
		}
	}
	check()
	require.NoError(t, db.flushNow())
	check()
	require.Equal(t, 3, db.Stats().Parts)
	require.Equal(t, int64(50+30+10), db.Stats().PartSamples)

	// A cold partition merges into one part holding each timestamp once.
	for db.mergeOnce(farFuture()) {
	}
	require.Equal(t, 1, db.Stats().Parts)
	require.Equal(t, int64(50), db.Stats().PartSamples)
	check()
}

func TestSecondOpenIsRefused(t *testing.T) {
	dir := t.TempDir()
	db := openManual(t, dir)
	inUse, err := DirInUse(dir)
	require.NoError(t, err)
	require.True(t, inUse)
	_, err = Open(manualOptions(dir))
	require.ErrorIs(t, err, ErrLocked)
	require.NoError(t, db.Close())
	inUse, err = DirInUse(dir)
	require.NoError(t, err)
	require.False(t, inUse)
	db = openManual(t, dir)
	require.NoError(t, db.Close())
}

func TestAppendRefusesBadSamples(t *testing.T) {
	db := openManual(t, t.TempDir())
	defer db.Close()
	ref := metric(t, db, "m")
	for name, b := range map[string]*Batch{
		"unknown ref":      {Refs: []SeriesRef{ref + 1}, Ts: []int64{1}, Vals: []float64{1}},
		"zero ref":         {Refs: []SeriesRef{0}, Ts: []int64{1}, Vals: []float64{1}},
		"year 10000":       {Refs: []SeriesRef{ref}, Ts: []int64{MaxTimestamp + 1}, Vals: []float64{1}},
		"before year 1":    {Refs: []SeriesRef{ref}, Ts: []int64{MinTimestamp - 1}, Vals: []float64{1}},
		"ragged columns":   {Refs: []SeriesRef{ref, ref}, Ts: []int64{1}, Vals: []float64{1}},
		"missing a column": {Refs: []SeriesRef{ref}, Ts: []int64{1}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := db.Append(b)
			require.ErrorIs(t, err, ErrOutOfBounds)
		})
	}
	_, err := db.GetOrCreate(labels.EmptyLabels())
	require.Error(t, err)
}

func TestEmptyBatchCommitsAtOnce(t *testing.T) {
	db := openManual(t, t.TempDir())
	c, err := db.Append(&Batch{})
	require.NoError(t, err)
	require.NoError(t, c.Wait())
	require.NoError(t, db.Close())
	_, err = db.Append(&Batch{})
	require.ErrorIs(t, err, ErrClosed)
}

func TestOptionsValidate(t *testing.T) {
	for name, o := range map[string]Options{
		"no directory":         {},
		"negative retention":   {Dir: "d", Retention: -time.Hour},
		"pending over a group": {Dir: "d", MaxPendingSamples: MaxPendingLimit + 1},
	} {
		t.Run(name, func(t *testing.T) { require.Error(t, o.Validate()) })
	}
	require.NoError(t, (&Options{Dir: "d", MaxPendingSamples: MaxPendingLimit}).Validate())
}

// TestCommitsWaitWhileTheHeadIsFull holds the head's memory bound: while a
// flush runs, a commit that finds the head at twice its budget waits for
// the flush, and then goes through with nothing lost.
func TestCommitsWaitWhileTheHeadIsFull(t *testing.T) {
	opts := manualOptions(t.TempDir())
	opts.HeadMinFlushSamples = 1_000 // the budget: one series, so 1 000 samples
	db, err := Open(opts)
	require.NoError(t, err)
	defer db.Close()
	ref := metric(t, db, "voltage_volts", "device", "p1")
	base := int64(1_750_000_000_000)
	add := func(from, n int) *Batch {
		var b Batch
		for i := from; i < from+n; i++ {
			b.Add(ref, base+int64(i)*1000, float64(i)/10)
		}
		return &b
	}

	db.flushMu.Lock() // the test is the flusher: it rotates now and flushes later
	locked := true
	defer func() { // before Close, which waits for the flusher
		if locked {
			db.flushMu.Unlock()
		}
	}()
	appendWait(t, db, add(0, 1_000))
	fh, err := db.requestRotation()
	require.NoError(t, err)
	appendWait(t, db, add(1_000, 2_000)) // the head is at twice its budget

	c, err := db.Append(add(3_000, 1))
	require.NoError(t, err)
	select {
	case <-c.Done():
		t.Fatal("a commit went through while the head was full and the flush ran")
	case <-time.After(300 * time.Millisecond):
	}
	require.Equal(t, int64(1), db.Stats().HeadFullWaits)

	require.NoError(t, db.flush(fh))
	db.flushMu.Unlock()
	locked = false
	require.NoError(t, c.Wait())
	got := selectAll(t, db, base, base+3_000_000, nameIs("voltage_volts"))
	require.Len(t, got, 1)
	for _, smp := range got {
		require.Len(t, smp, 3_001)
		require.Equal(t, sample{base + 3_000_000, 300}, smp[3_000])
	}
	require.Greater(t, db.Stats().HeadFullWaitSeconds, 0.2)
}
