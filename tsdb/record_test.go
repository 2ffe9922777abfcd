package tsdb

import (
	"encoding/binary"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/stretchr/testify/require"
)

// TestPackedValuesRoundTrip holds the packed value layout of WAL records to
// exact round trips, every float64 bit pattern included, and to its size
// for the decimals sensors send.
func TestPackedValuesRoundTrip(t *testing.T) {
	cases := []struct {
		v        float64
		maxBytes int
	}{
		{0, 1}, {1, 1}, {-1, 1}, {27.4, 2}, {-3.75, 2}, {101325, 3}, {0.001, 1},
		{1013.25, 3}, {98.6, 2}, {230.1, 3}, {123456.789, 5}, {0.000001, 1},
		{1 << 49, 8}, {-(1 << 49), 8}, {1 << 50, 9}, {1e300, 9}, {0.1 + 0.2, 9},
		{math.Copysign(0, -1), 9}, {math.Inf(1), 9}, {math.Inf(-1), 9}, {math.NaN(), 9},
		{math.Float64frombits(0x7ff0000000000002), 9}, // the Prometheus stale marker
		{math.Float64frombits(1), 9},                  // the smallest denormal
		{math.Pi, 9}, {1.0000001, 9}, {-0.0000005, 9},
	}
	for _, c := range cases {
		b := appendPackedValue(nil, c.v)
		require.LessOrEqual(t, len(b), c.maxBytes, "%v", c.v)
		r := reader{b: b}
		got := r.packedValue()
		require.NoError(t, r.err)
		require.Empty(t, r.b)
		require.Equal(t, math.Float64bits(c.v), math.Float64bits(got), "%v came back as %v", c.v, got)
	}
}

// TestReplaysFormat1WAL opens a data directory whose WAL was written by the
// first WAL format (records of kind 1: the group's columns in one zstd
// frame), as a node upgraded after a crash would find it, and finds every
// sample with its exact value. New segments are written in format 2.
func TestReplaysFormat1WAL(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "wal"), 0o755))
	lsets := []labels.Labels{
		labels.FromStrings("__name__", "air_temperature_celsius", "device", "aws-0001"),
		labels.FromStrings("__name__", "rainfall_mm", "device", "aws-0001"),
	}
	refs := []SeriesRef{1, 2, 1, 2}
	ts := []int64{1_750_000_000_000, 1_750_000_000_000, 1_750_000_010_013, 1_750_000_010_013}
	vals := []float64{27.4, 0, 27.5, 0.2}

	// The format 1 record, byte by byte as docs/storage-format.md gives it.
	var raw []byte
	raw = binary.AppendUvarint(raw, uint64(len(lsets)))
	for i, ls := range lsets {
		raw = binary.AppendUvarint(raw, uint64(i+1))
		raw = binary.AppendUvarint(raw, uint64(ls.Len()))
		ls.Range(func(l labels.Label) {
			raw = binary.AppendUvarint(raw, uint64(len(l.Name)))
			raw = append(raw, l.Name...)
			raw = binary.AppendUvarint(raw, uint64(len(l.Value)))
			raw = append(raw, l.Value...)
		})
	}
	raw = binary.AppendUvarint(raw, uint64(len(refs)))
	for _, r := range refs {
		raw = binary.AppendUvarint(raw, uint64(r))
	}
	var prev int64
	for _, v := range ts {
		raw = binary.AppendVarint(raw, v-prev)
		prev = v
	}
	for _, v := range vals {
		raw = binary.LittleEndian.AppendUint64(raw, math.Float64bits(v))
	}
	zenc, err := zstd.NewWriter(nil)
	require.NoError(t, err)
	body := zenc.EncodeAll(raw, []byte{recGroupZstd})
	require.NoError(t, zenc.Close())
	seg := []byte{'Q', 'W', 'A', 'L', 1, 0, 0, 0}
	seg = binary.LittleEndian.AppendUint32(seg, uint32(len(body)))
	seg = binary.LittleEndian.AppendUint32(seg, crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)))
	seg = append(seg, body...)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "wal", "00000000000000000001.wal"), seg, 0o644))

	db := openManual(t, dir)
	require.Equal(t, len(refs), db.LastReplay().Samples())
	require.Zero(t, db.LastReplay().DroppedRecords())
	got := selectAll(t, db, ts[0], ts[len(ts)-1], nameIs("air_temperature_celsius"))
	require.Len(t, got, 1)
	for _, smp := range got {
		require.Equal(t, []sample{{ts[0], 27.4}, {ts[2], 27.5}}, smp)
	}

	// A new sample goes to a new segment in the current format, and a
	// restart reads both.
	var batch Batch
	batch.Add(2, ts[3]+10_000, 1.4)
	appendWait(t, db, &batch)
	segs := db.wal.Segments()
	require.Len(t, segs, 2)
	hdr, err := os.ReadFile(filepath.Join(dir, "wal", "00000000000000000002.wal"))
	require.NoError(t, err)
	require.Equal(t, byte(2), hdr[4], "format of the new segment")
	db.stopForCrashTest()
	db = openManual(t, dir)
	defer db.Close()
	require.Equal(t, len(refs)+1, db.LastReplay().Samples())
	got = selectAll(t, db, ts[0], ts[3]+10_000, nameIs("rainfall_mm"))
	require.Len(t, got, 1)
	for _, smp := range got {
		require.Equal(t, []sample{{ts[1], 0}, {ts[3], 0.2}, {ts[3] + 10_000, 1.4}}, smp)
	}
}
