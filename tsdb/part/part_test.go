package part

import (
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func newTestCodec(t testing.TB) *Codec {
	t.Helper()
	c, err := NewCodec()
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

type testSeries struct {
	ref  uint64
	ts   []int64
	vals []float64
}

// genSeries returns n series of a device-like shape: groups of fields share
// their jittered timestamps; values are decimals with one fractional digit.
func genSeries(n, samples int, fieldsPerDevice int) []testSeries {
	r := rand.New(rand.NewPCG(7, 11))
	out := make([]testSeries, n)
	var ts []int64
	for i := range out {
		if i%fieldsPerDevice == 0 {
			ts = make([]int64, samples)
			t := int64(1_750_000_000_000)
			for j := range ts {
				t += 10_000 + r.Int64N(41) - 20
				ts[j] = t
			}
		}
		vals := make([]float64, samples)
		v := 250 + r.Int64N(100)
		for j := range vals {
			v += r.Int64N(5) - 2
			vals[j] = float64(v) / 10
		}
		out[i] = testSeries{ref: uint64(3*i + 1), ts: ts, vals: vals}
	}
	return out
}

func writePart(t testing.TB, c *Codec, path string, series []testSeries, opts WriterOptions) Info {
	t.Helper()
	w, err := Create(path, c, opts)
	require.NoError(t, err)
	for _, s := range series {
		require.NoError(t, w.WriteSeries(s.ref, s.ts, s.vals))
	}
	info, err := w.Finish()
	require.NoError(t, err)
	return info
}

func TestWriteReadBack(t *testing.T) {
	c := newTestCodec(t)
	path := filepath.Join(t.TempDir(), "1-1"+Extension)
	// 20000 samples per series: three blocks each, the last one short.
	series := genSeries(40, 20000, 3)
	info := writePart(t, c, path, series, WriterOptions{MinSeq: 4, MaxSeq: 9})
	require.Equal(t, uint64(40), info.Series)
	require.Equal(t, uint64(40*3), info.Blocks)
	require.Equal(t, uint64(40*20000), info.Samples)
	_, err := os.Stat(path + TempSuffix)
	require.True(t, os.IsNotExist(err), "the temporary file is renamed away")

	r, err := Open(path, c)
	require.NoError(t, err)
	defer r.Close()
	got := r.Info()
	require.Equal(t, info, got)
	require.Equal(t, uint64(4), got.MinSeq)
	require.Equal(t, uint64(9), got.MaxSeq)

	// A full scan returns every series, in order, with its samples.
	var buf BlockBuffer
	cur := r.NewCursor()
	i := 0
	for cur.Next() {
		sb := cur.At()
		s := series[i]
		require.Equal(t, s.ref, sb.Ref)
		var ts []int64
		var vals []float64
		for _, b := range sb.Blocks {
			require.NoError(t, r.ReadBlock(b, &buf))
			ts = append(ts, buf.TS...)
			vals = append(vals, buf.Vals...)
		}
		require.Equal(t, s.ts, ts)
		require.Equal(t, s.vals, vals)
		i++
	}
	require.NoError(t, cur.Err())
	require.Equal(t, len(series), i)

	// Lookups, present and absent, in and out of order.
	cur = r.NewCursor()
	for _, ref := range []uint64{1, 2, 61, 118, 117, 100000, 4} {
		blocks, err := cur.Find(ref)
		require.NoError(t, err)
		if (ref-1)%3 != 0 || ref > 118 {
			require.Nil(t, blocks, "ref %d", ref)
			continue
		}
		require.Len(t, blocks, 3, "ref %d", ref)
		s := series[(ref-1)/3]
		require.Equal(t, s.ts[0], blocks[0].MinT)
		require.Equal(t, s.ts[len(s.ts)-1], blocks[2].MaxT)
	}
}

func TestManySeriesLookup(t *testing.T) {
	c := newTestCodec(t)
	path := filepath.Join(t.TempDir(), "1-1"+Extension)
	series := genSeries(6000, 20, 2)
	writePart(t, c, path, series, WriterOptions{})
	r, err := Open(path, c)
	require.NoError(t, err)
	defer r.Close()
	require.Greater(t, len(r.meta), 2, "the index spans several index blocks")
	cur := r.NewCursor()
	var buf BlockBuffer
	for _, i := range []int{5999, 0, 3000, 3001, 4500} {
		s := series[i]
		blocks, err := cur.Find(s.ref)
		require.NoError(t, err)
		require.Len(t, blocks, 1)
		require.NoError(t, r.ReadBlock(blocks[0], &buf))
		require.Equal(t, s.ts, buf.TS)
		require.Equal(t, s.vals, buf.Vals)
		blocks, err = cur.Find(s.ref + 1)
		require.NoError(t, err)
		require.Nil(t, blocks)
	}
	n := 0
	for cur = r.NewCursor(); cur.Next(); n++ {
		require.Equal(t, series[n].ref, cur.At().Ref)
	}
	require.NoError(t, cur.Err())
	require.Equal(t, len(series), n)
}

func TestSharedTimestamps(t *testing.T) {
	c := newTestCodec(t)
	dir := t.TempDir()
	series := genSeries(60, 5000, 5)
	shared := writePart(t, c, filepath.Join(dir, "a"+Extension), series, WriterOptions{})
	plain := writePart(t, c, filepath.Join(dir, "b"+Extension), series, WriterOptions{NoSharedTimestamps: true})
	require.Equal(t, plain.ValBytes, shared.ValBytes)
	// Five fields per device: each device's timestamps are stored once.
	require.InDelta(t, float64(plain.TSBytes)/5, float64(shared.TSBytes), float64(plain.TSBytes)/50)
	require.Less(t, shared.Size, plain.Size)

	// Blocks that share a column read back correctly.
	r, err := Open(filepath.Join(dir, "a"+Extension), c)
	require.NoError(t, err)
	defer r.Close()
	cur := r.NewCursor()
	var buf BlockBuffer
	for _, s := range series {
		blocks, err := cur.Find(s.ref)
		require.NoError(t, err)
		require.NoError(t, r.ReadBlock(blocks[0], &buf))
		require.Equal(t, s.ts[:len(buf.TS)], buf.TS)
		require.Equal(t, s.vals[:len(buf.Vals)], buf.Vals)
	}
}

func TestWriterRefusesBadInput(t *testing.T) {
	c := newTestCodec(t)
	w, err := Create(filepath.Join(t.TempDir(), "x"+Extension), c, WriterOptions{})
	require.NoError(t, err)
	defer w.Abort()
	require.Error(t, w.AppendBlock(5, []int64{2, 1}, []float64{1, 2}), "descending timestamps")
	require.Error(t, w.AppendBlock(5, []int64{1}, []float64{1, 2}), "column lengths differ")
	require.Error(t, w.AppendBlock(5, nil, nil), "empty block")
	require.NoError(t, w.AppendBlock(5, []int64{1, 2}, []float64{1, 2}))
	require.Error(t, w.AppendBlock(5, []int64{2, 3}, []float64{1, 2}), "overlaps the previous block")
	require.Error(t, w.AppendBlock(4, []int64{10}, []float64{1}), "ref goes back")
	require.NoError(t, w.AppendBlock(5, []int64{3, 4}, []float64{math.NaN(), math.Inf(-1)}))
}

func TestEmptyPartRefused(t *testing.T) {
	c := newTestCodec(t)
	path := filepath.Join(t.TempDir(), "x"+Extension)
	w, err := Create(path, c, WriterOptions{})
	require.NoError(t, err)
	_, err = w.Finish()
	require.ErrorIs(t, err, ErrEmpty)
	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	require.Empty(t, entries)
}

func TestDamageIsDetected(t *testing.T) {
	c := newTestCodec(t)
	path := filepath.Join(t.TempDir(), "1-1"+Extension)
	writePart(t, c, path, genSeries(10, 300, 1), WriterOptions{})
	good, err := os.ReadFile(path)
	require.NoError(t, err)

	damage := func(t *testing.T, off int) error {
		b := append([]byte(nil), good...)
		b[off] ^= 0x10
		require.NoError(t, os.WriteFile(path, b, 0o644))
		r, err := Open(path, c)
		if err != nil {
			return err
		}
		defer r.Close()
		cur := r.NewCursor()
		var buf BlockBuffer
		for cur.Next() {
			for _, bm := range cur.At().Blocks {
				if err := r.ReadBlock(bm, &buf); err != nil {
					return err
				}
			}
		}
		return cur.Err()
	}
	for name, off := range map[string]int{
		"header":    1,
		"column":    headerSize + 3,
		"metaindex": len(good) - footerSize - 2,
		"footer":    len(good) - 10,
	} {
		t.Run(name, func(t *testing.T) {
			err := damage(t, off)
			require.Error(t, err)
			if name != "header" {
				require.True(t, errors.Is(err, ErrCorrupt), "%v", err)
			}
		})
	}
}
