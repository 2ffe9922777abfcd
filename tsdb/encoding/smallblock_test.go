package encoding

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSmallBlocksSkipEntropyCoders holds the rule that columns of fewer
// than minEntropySamples samples are not tried with Huffman or zstd (what a
// head flush writes): on the generator's data, every kind at 1 s, 10 s and
// 60 s, blocks of 8 to 31 samples take at most 0.1% more bytes than with
// both tried (0.002% at 24 samples, 0.035% at 31), none of them is a zstd
// frame, and every one decodes exactly.
func TestSmallBlocksSkipEntropyCoders(t *testing.T) {
	fast := newTestCodec(t)
	full := newTestCodec(t)
	full.entropyMin, full.zstdMin = 0, 0
	for _, n := range []int{8, 16, 24, 31} {
		fastBytes, fullBytes := compareOnBlocks(t, fast, full, n, 4096, func(tsCol, valCol []byte) {
			for _, col := range [][]byte{tsCol, valCol} {
				require.Zero(t, col[0]&markerZstd, "zstd on a %d-sample column", n)
			}
		})
		t.Logf("%2d-sample blocks: %d bytes, %d with Huffman and zstd tried (%+.3f%%)",
			n, fastBytes, fullBytes, 100*float64(fastBytes-fullBytes)/float64(fullBytes))
		require.LessOrEqual(t, float64(fastBytes), 1.001*float64(fullBytes))
	}
}

// TestZstdOnlyOnLongColumns holds the rule that zstd is tried only on
// columns of at least minZstdSamples samples: on the generator's data,
// every kind at 1 s, 10 s and 60 s, blocks of 96 to 511 samples take at
// most 0.2% more bytes than with zstd tried.
func TestZstdOnlyOnLongColumns(t *testing.T) {
	def := newTestCodec(t)
	full := newTestCodec(t)
	full.zstdMin = 0
	for _, n := range []int{96, 192, 360, 511} {
		defBytes, fullBytes := compareOnBlocks(t, def, full, n, 8192, func(tsCol, valCol []byte) {
			require.Zero(t, tsCol[0]&markerZstd, "zstd on a %d-sample column", n)
			require.Zero(t, valCol[0]&markerZstd, "zstd on a %d-sample column", n)
		})
		t.Logf("%3d-sample blocks: %d bytes, %d with zstd tried (%+.3f%%)",
			n, defBytes, fullBytes, 100*float64(defBytes-fullBytes)/float64(fullBytes))
		require.LessOrEqual(t, float64(defBytes), 1.002*float64(fullBytes))
	}
}

// TestHuffmanBoundIsALowerBound holds what makes skipping Huffman
// candidates exact: no huff0 encoding of a byte plane is smaller than
// huffmanBound says, on the generator's timestamp and value transforms
// and on random symbols of narrow and wide spread, from 32 to 8 192
// values.
func TestHuffmanBoundIsALowerBound(t *testing.T) {
	s := new(encScratch)
	var planes [][]int64
	for _, n := range []int{32, 96, 360, 1024, 8192} {
		for ki := range sensorKinds {
			blk := genBlock(ki, scenario{"x", 10, 8192})
			ts := blk.ts[:n]
			d := deltasInto(make([]int64, n), ts)
			_, res, ok := gridResiduals(make([]int64, n), ts)
			require.True(t, ok)
			m := make([]int64, n)
			for i, v := range blk.vals[:n] {
				m[i] = int64(v * 100)
			}
			planes = append(planes, d, deltasInto(make([]int64, n), d), res, m, deltasInto(make([]int64, n), m))
		}
		r := rand.New(rand.NewPCG(genSeed, uint64(n)))
		for _, spread := range []int{2, 5, 40, 250} {
			x := make([]int64, n)
			for i := range x {
				x[i] = int64(r.NormFloat64() * float64(spread))
			}
			planes = append(planes, x)
		}
	}
	coded := 0
	for _, x := range planes {
		h, _, _, ok := huffmanInts(x, s)
		if !ok {
			continue
		}
		coded++
		bound := huffmanBound(s.bytes[:len(x)]) // the plane huffmanInts coded
		require.GreaterOrEqual(t, len(h), bound, "%d values", len(x))
	}
	require.Greater(t, coded, len(planes)/2)
}

// TestQuickSkipsHuffmanBelow64 holds Codec.Quick's rule: on the
// generator's data, every kind at 1 s, 10 s and 60 s, blocks of 32 to 63
// samples take at most 0.75% more bytes than with the full codec, and
// every one decodes exactly with either.
func TestQuickSkipsHuffmanBelow64(t *testing.T) {
	full := newTestCodec(t)
	quick := full.Quick()
	require.Equal(t, minEntropySamples, full.entropyMin, "Quick changed the codec it views")
	for _, n := range []int{32, 48, 63} {
		quickBytes, fullBytes := compareOnBlocks(t, quick, full, n, 4096, nil)
		t.Logf("%2d-sample blocks: %d bytes quick, %d full (%+.3f%%)",
			n, quickBytes, fullBytes, 100*float64(quickBytes-fullBytes)/float64(fullBytes))
		require.LessOrEqual(t, float64(quickBytes), 1.0075*float64(fullBytes))
	}
}

// compareOnBlocks encodes the generator's data, every kind at 1 s, 10 s and
// 60 s (span samples each), in blocks of n samples with codecs a and b. It
// hands each of a's column pairs to check (when set), requires that they
// decode exactly, and returns the bytes each codec wrote.
func compareOnBlocks(t *testing.T, a, b *Codec, n, span int, check func(tsCol, valCol []byte)) (aBytes, bBytes int) {
	t.Helper()
	for _, dt := range []float64{1, 10, 60} {
		for ki := range sensorKinds {
			blk := genBlock(ki, scenario{"x", dt, span})
			for off := 0; off+n <= len(blk.ts); off += n {
				ts, vals := blk.ts[off:off+n], blk.vals[off:off+n]
				tsCol, valCol := a.AppendTimestamps(nil, ts), a.AppendValues(nil, vals)
				if check != nil {
					check(tsCol, valCol)
				}
				aBytes += len(tsCol) + len(valCol)
				bBytes += len(b.AppendTimestamps(nil, ts)) + len(b.AppendValues(nil, vals))
				gotTS, err := b.DecodeTimestamps(nil, tsCol)
				require.NoError(t, err)
				require.Equal(t, ts, gotTS)
				gotVals, err := b.DecodeValues(nil, valCol)
				require.NoError(t, err)
				requireSameBits(t, vals, gotVals)
			}
		}
	}
	return aBytes, bBytes
}
