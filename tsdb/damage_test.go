package tsdb

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// writeThreeGroups commits three groups, each one WAL record: the first
// defines series a, the second defines b, the third only has samples. It
// leaves the store as a crash would.
func writeThreeGroups(t *testing.T, dir string) {
	db := openManual(t, dir)
	var batch Batch
	a := metric(t, db, "water_level", "gauge", "a")
	batch.Add(a, 1000, 1.5)
	appendWait(t, db, &batch)
	batch.Reset()
	b := metric(t, db, "water_level", "gauge", "b")
	batch.Add(a, 2000, 2.5)
	batch.Add(b, 2000, 20.5)
	appendWait(t, db, &batch)
	batch.Reset()
	batch.Add(a, 3000, 3.5)
	batch.Add(b, 3000, 30.5)
	appendWait(t, db, &batch)
	db.stopForCrashTest()
}

// walRecords returns the only WAL segment's name and the offset and length
// of each record's body in it.
func walRecords(t *testing.T, dir string) (string, [][2]int) {
	segs, err := filepath.Glob(filepath.Join(dir, "wal", "*.wal"))
	require.NoError(t, err)
	require.Len(t, segs, 1)
	buf, err := os.ReadFile(segs[0])
	require.NoError(t, err)
	var recs [][2]int
	for off := 8; off < len(buf); {
		n := int(binary.LittleEndian.Uint32(buf[off:]))
		recs = append(recs, [2]int{off + 8, n})
		off += 8 + n
	}
	return segs[0], recs
}

func TestWALTornTail(t *testing.T) {
	dir := t.TempDir()
	writeThreeGroups(t, dir)
	seg, recs := walRecords(t, dir)
	require.Len(t, recs, 3)
	last := recs[2]
	require.NoError(t, os.Truncate(seg, int64(last[0]+last[1]/2)))

	db := openManual(t, dir)
	defer db.Close()
	rs := db.LastReplay()
	require.Equal(t, int64(8+last[1]/2), rs.TruncatedBytes(), "the torn record, frame included, is cut")
	require.Equal(t, 0, rs.DroppedRecords())
	require.Equal(t, 3, rs.Samples())
	st := db.Stats()
	require.Equal(t, [4]int64{3, 0, int64(8 + last[1]/2), 0},
		[4]int64{st.ReplaySamples, st.ReplayDroppedRecords, st.ReplayTruncatedBytes, st.ReplayOrphanSamples})
	got := selectAll(t, db, everything[0], everything[1], nameIs("water_level"))
	require.Equal(t, []sample{{1000, 1.5}, {2000, 2.5}}, got[`{__name__="water_level", gauge="a"}`])
	require.Equal(t, []sample{{2000, 20.5}}, got[`{__name__="water_level", gauge="b"}`])
}

func TestWALFlippedByte(t *testing.T) {
	dir := t.TempDir()
	writeThreeGroups(t, dir)
	seg, recs := walRecords(t, dir)
	buf, err := os.ReadFile(seg)
	require.NoError(t, err)
	mid := recs[1]
	buf[mid[0]+mid[1]/2] ^= 0x20
	require.NoError(t, os.WriteFile(seg, buf, 0o644))

	db := openManual(t, dir)
	defer db.Close()
	rs := db.LastReplay()
	require.Equal(t, 1, rs.DroppedRecords(), "the damaged record is skipped")
	require.Equal(t, int64(0), rs.TruncatedBytes())
	// Series b was defined by the damaged record: its later sample has no
	// labels to go with and is reported, not guessed.
	require.Equal(t, 1, rs.OrphanSamples())
	require.Equal(t, 2, rs.Samples())
	st := db.Stats()
	require.Equal(t, [5]int64{2, 1, int64(8 + mid[1]), 0, 1},
		[5]int64{st.ReplaySamples, st.ReplayDroppedRecords, st.ReplaySkippedBytes, st.ReplayTruncatedBytes, st.ReplayOrphanSamples})
	got := selectAll(t, db, everything[0], everything[1], nameIs("water_level"))
	require.Equal(t, []sample{{1000, 1.5}, {3000, 3.5}}, got[`{__name__="water_level", gauge="a"}`])
	require.Len(t, got, 1)

	// The store goes on: new series get refs after the lost one.
	ref := metric(t, db, "water_level", "gauge", "c")
	require.Equal(t, SeriesRef(3), ref)
}
