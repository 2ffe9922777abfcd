package tsdb

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// partFiles returns the names of the files in the partition directory of
// ts, sorted.
func partFiles(t *testing.T, db *DB, ts int64) []string {
	t.Helper()
	ents, err := os.ReadDir(db.partitionDir(partitionOf(ts)))
	require.NoError(t, err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names
}

// TestStartFinishesAnInterruptedMerge leaves a partition as a crash in the
// middle of a merge would: the merged part renamed into place, its inputs
// not yet deleted, and a part still being written under its temporary
// name. The next start keeps the merged part only and serves each sample
// once.
func TestStartFinishesAnInterruptedMerge(t *testing.T) {
	dir := t.TempDir()
	db := openManual(t, dir)
	ref := metric(t, db, "river_water_level_meters", "device", "w1")
	base := int64(1_750_000_000_000)
	for f := range int64(3) {
		var batch Batch
		for i := range int64(10) {
			batch.Add(ref, base+(f*10+i)*1000, float64(f*10+i)/100)
		}
		appendWait(t, db, &batch)
		require.NoError(t, db.flushNow())
	}
	pdir := db.partitionDir(partitionOf(base))
	inputs := partFiles(t, db, base)
	require.Len(t, inputs, 3)
	saved := map[string][]byte{}
	for _, name := range inputs {
		b, err := os.ReadFile(filepath.Join(pdir, name))
		require.NoError(t, err)
		saved[name] = b
	}
	require.True(t, db.mergeOnce(farFuture()))
	merged := partFiles(t, db, base)
	require.Len(t, merged, 1)
	db.stopForCrashTest()

	// The crash: the inputs are back, and an unfinished part lies beside.
	for name, b := range saved {
		require.NoError(t, os.WriteFile(filepath.Join(pdir, name), b, 0o644))
	}
	unfinished := filepath.Join(pdir, partFileName(9, 9, false)+".tmp")
	require.NoError(t, os.WriteFile(unfinished, []byte("half a part"), 0o644))

	db = openManual(t, dir)
	defer db.Close()
	require.Equal(t, merged, partFiles(t, db, base), "only the merged part is left")
	require.Equal(t, 1, db.Stats().Parts)
	got := selectAll(t, db, everything[0], everything[1], nameIs("river_water_level_meters"))
	require.Len(t, got[`{__name__="river_water_level_meters", device="w1"}`], 30)
}

// TestBrokenPartIsSetAside damages one part's footer. The store starts,
// renames the part *.broken (never deletes it), counts it, and serves
// every other part.
func TestBrokenPartIsSetAside(t *testing.T) {
	dir := t.TempDir()
	db := openManual(t, dir)
	ref := metric(t, db, "voltage_volts", "device", "p1")
	now := int64(1_750_000_000_000)
	for d := range int64(2) {
		var batch Batch
		for i := range int64(10) {
			batch.Add(ref, now-d*day+i*1000, float64(230+i))
		}
		appendWait(t, db, &batch)
		require.NoError(t, db.flushNow())
	}
	old := partFiles(t, db, now-day)
	require.Len(t, old, 1)
	name := filepath.Join(db.partitionDir(partitionOf(now-day)), old[0])
	require.NoError(t, db.Close())
	b, err := os.ReadFile(name)
	require.NoError(t, err)
	b[len(b)-20] ^= 0xff // inside the footer, under its checksum
	require.NoError(t, os.WriteFile(name, b, 0o644))

	db = openManual(t, dir)
	defer db.Close()
	require.Equal(t, int64(1), db.Stats().BrokenParts)
	require.Equal(t, []string{old[0] + ".broken"}, partFiles(t, db, now-day))
	got := selectAll(t, db, everything[0], everything[1], nameIs("voltage_volts"))
	s := got[`{__name__="voltage_volts", device="p1"}`]
	require.Len(t, s, 10, "the intact day is served")
	require.Equal(t, now, s[0].T)
}

// TestDamagedSeriesFileIsSkipped damages the series file of the first
// flush. The store starts, counts the file, serves the series the other
// file defines, and never hands out the lost refs again.
func TestDamagedSeriesFileIsSkipped(t *testing.T) {
	dir := t.TempDir()
	db := openManual(t, dir)
	base := int64(1_750_000_000_000)
	var first string
	for i, dev := range []string{"a", "b"} {
		ref := metric(t, db, "wind_speed_meters_per_second", "device", dev)
		var batch Batch
		batch.Add(ref, base+int64(i)*1000, 3.5)
		appendWait(t, db, &batch)
		require.NoError(t, db.flushNow())
		if i == 0 {
			files, err := filepath.Glob(filepath.Join(dir, seriesDirName, "*"+seriesExt))
			require.NoError(t, err)
			require.Len(t, files, 1)
			first = files[0]
		}
	}
	require.NoError(t, db.Close())
	b, err := os.ReadFile(first)
	require.NoError(t, err)
	b[10] ^= 0x01
	require.NoError(t, os.WriteFile(first, b, 0o644))

	db = openManual(t, dir)
	defer db.Close()
	require.Equal(t, int64(1), db.Stats().BrokenSeriesFiles)
	got := selectAll(t, db, everything[0], everything[1], nameIs("wind_speed_meters_per_second"))
	require.Equal(t, map[string][]sample{`{__name__="wind_speed_meters_per_second", device="b"}`: {{base + 1000, 3.5}}}, got)
	ref := metric(t, db, "wind_speed_meters_per_second", "device", "a")
	require.Equal(t, SeriesRef(3), ref, "the lost ref 1 is not handed out again")
}
