package part

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// A merge reads a part's blocks in file order through a Sequential: it must
// return what ReadBlock returns, shared timestamp columns included, with far
// fewer reads than blocks, and stay correct when taken out of order or when
// an index entry points past the end of the file.
func TestSequentialReadsWhatReadBlockReads(t *testing.T) {
	c := newTestCodec(t)
	path := filepath.Join(t.TempDir(), "a"+Extension)
	series := genSeries(6000, 24, 5) // small blocks, as a head flush writes
	writePart(t, c, path, series, WriterOptions{})
	r, err := Open(path, c)
	require.NoError(t, err)
	defer r.Close()

	var all []BlockMeta
	cur := r.NewCursor()
	for cur.Next() {
		all = append(all, cur.At().Blocks...)
	}
	require.NoError(t, cur.Err())
	require.Len(t, all, len(series))

	seq := r.Sequential(16 << 10)
	var want, got BlockBuffer
	check := func(b BlockMeta) {
		require.NoError(t, r.ReadBlock(b, &want))
		require.NoError(t, seq.ReadBlock(b, &got))
		require.Equal(t, want.TS, got.TS)
		require.Equal(t, want.Vals, got.Vals)
	}
	for _, b := range all {
		check(b)
	}
	t.Logf("%d blocks, %d bytes, %d window reads", len(all), r.Info().Size, seq.fills)
	require.Less(t, seq.fills, len(all)/20, "one read per window, not per block")

	for i := len(all) - 1; i >= 0; i -= 7 { // backwards
		check(all[i])
	}

	bad := all[len(all)-1]
	bad.TSOff = r.Info().Size - 4
	bad.ValOff = bad.TSOff + int64(bad.TSLen)
	_, _, err = seq.ReadRawBlock(bad, &got)
	require.Error(t, err, "a block past the end of the file")
}
