package encoding

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// newAllocTestCodec returns a Codec with one zstd encoder and decoder.
// With more, the zstd pools hand out a still-cold instance on later calls,
// which allocates its tables once; testing.AllocsPerRun warms up with a
// single call and would count that one-off cost.
func newAllocTestCodec(t *testing.T) *Codec {
	c, err := NewCodec(Options{Concurrency: 1})
	require.NoError(t, err)
	return c
}

// TestDecodeDoesNotAllocate holds the decoders to zero allocations when
// dst has room, for every encoding (zstd and Huffman streams included).
func TestDecodeDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("-race allocates on its own")
	}
	c := newAllocTestCodec(t)
	tsCols, valCols := columnsOfEveryKind(t, c)
	tsDst := make([]int64, 0, MaxBlockSamples)
	valDst := make([]float64, 0, MaxBlockSamples)
	for name, col := range tsCols {
		allocs := testing.AllocsPerRun(20, func() {
			var err error
			tsDst, err = c.DecodeTimestamps(tsDst[:0], col)
			require.NoError(t, err)
		})
		require.Zero(t, allocs, "timestamps %s (%s)", name, kindName(col))
	}
	for name, col := range valCols {
		allocs := testing.AllocsPerRun(20, func() {
			var err error
			valDst, err = c.DecodeValues(valDst[:0], col)
			require.NoError(t, err)
		})
		require.Zero(t, allocs, "values %s (%s)", name, kindName(col))
	}
}

// TestEncodeDoesNotAllocate holds the encoders to zero allocations once
// their scratch has grown and dst has room.
func TestEncodeDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("-race allocates on its own")
	}
	c := newAllocTestCodec(t)
	dst := make([]byte, 0, 16*MaxBlockSamples)
	for name, ts := range timestampCases() {
		allocs := testing.AllocsPerRun(20, func() { dst = c.AppendTimestamps(dst[:0], ts) })
		require.Zero(t, allocs, "timestamps %s", name)
	}
	for name, vals := range valueCases() {
		allocs := testing.AllocsPerRun(20, func() { dst = c.AppendValues(dst[:0], vals) })
		require.Zero(t, allocs, "values %s", name)
	}
}
