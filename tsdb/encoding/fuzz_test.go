package encoding

import (
	"encoding/binary"
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// Seeds beyond testdata/fuzz: small valid columns of every kind, built at
// run time so they follow the encoder.
func addColumnSeeds(f *testing.F, cols map[string][]byte) {
	for _, col := range cols {
		if len(col) <= 4096 {
			f.Add(col)
		}
	}
}

func requireDecodeError(t *testing.T, err error) {
	t.Helper()
	require.True(t, errors.Is(err, ErrCorrupt) || errors.Is(err, ErrUnsupported), "unexpected error: %v", err)
}

// FuzzDecodeTimestamps decodes arbitrary bytes: no panic, errors wrap the
// package's sentinels, and whatever decodes is a valid block that
// re-encodes to the same timestamps.
func FuzzDecodeTimestamps(f *testing.F) {
	c := newTestCodec(f)
	tsCols, _ := columnsOfEveryKind(f, c)
	addColumnSeeds(f, tsCols)
	f.Fuzz(func(t *testing.T, data []byte) {
		ts, err := c.DecodeTimestamps(nil, data)
		if err != nil {
			requireDecodeError(t, err)
			return
		}
		require.LessOrEqual(t, len(ts), MaxBlockSamples)
		require.NoError(t, checkAscending(ts))
		again, err := c.DecodeTimestamps(nil, c.AppendTimestamps(nil, ts))
		require.NoError(t, err)
		require.Equal(t, len(ts), len(again))
		if len(ts) > 0 {
			require.Equal(t, ts, again)
		}
	})
}

// FuzzDecodeValues decodes arbitrary bytes: no panic, errors wrap the
// package's sentinels, and whatever decodes re-encodes to the same bits.
func FuzzDecodeValues(f *testing.F) {
	c := newTestCodec(f)
	_, valCols := columnsOfEveryKind(f, c)
	addColumnSeeds(f, valCols)
	f.Fuzz(func(t *testing.T, data []byte) {
		vals, err := c.DecodeValues(nil, data)
		if err != nil {
			requireDecodeError(t, err)
			return
		}
		require.LessOrEqual(t, len(vals), MaxBlockSamples)
		again, err := c.DecodeValues(nil, c.AppendValues(nil, vals))
		require.NoError(t, err)
		requireSameBits(t, vals, again)
	})
}

// FuzzRoundTrip builds a block from the fuzzer's bytes and requires both
// columns to come back exactly.
func FuzzRoundTrip(f *testing.F) {
	c := newTestCodec(f)
	f.Add([]byte{})
	f.Add([]byte("\x00\x10\x27\x00\x01\x02\x03\x04\x05\x06\x07\x08"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ts, vals := samplesFromBytes(data)
		gotTS, err := c.DecodeTimestamps(nil, c.AppendTimestamps(nil, ts))
		require.NoError(t, err)
		require.Equal(t, len(ts), len(gotTS))
		if len(ts) > 0 {
			require.Equal(t, ts, gotTS)
		}
		gotVals, err := c.DecodeValues(nil, c.AppendValues(nil, vals))
		require.NoError(t, err)
		requireSameBits(t, vals, gotVals)
	})
}

// samplesFromBytes reads samples from data, three bytes of control and
// then a value payload each, until data or the block runs out. Controls
// pick how far the next timestamp lies (a few ms, a regular step, or a
// jump of up to 2^63) and what the value is (a repeat, a decimal, raw bits,
// or a special), so that every encoding gets exercised.
func samplesFromBytes(data []byte) ([]int64, []float64) {
	var ts []int64
	var vals []float64
	t := int64(binary.LittleEndian.Uint64(append(data[:min(8, len(data)):min(8, len(data))], make([]byte, 8)...)))
	prev := 0.0
	for len(data) >= 3 && len(ts) < MaxBlockSamples {
		gapCtl, valCtl, arg := data[0], data[1], data[2]
		data = data[3:]
		var gap uint64
		switch gapCtl % 4 {
		case 0:
			gap = 10_000
		case 1:
			gap = 10_000 + uint64(arg)
		case 2:
			gap = 1 + uint64(arg)
		default:
			gap = 1 << (arg % 64)
		}
		if len(ts) > 0 {
			next := t + int64(gap)
			if next <= t { // past MaxInt64: the block ends here
				break
			}
			t = next
		}
		var v float64
		switch valCtl % 5 {
		case 0:
			v = prev
		case 1:
			v = float64(int64(int8(arg))+int64(valCtl)*100) / math.Pow10(int(gapCtl%4))
		case 2:
			var b [8]byte
			n := copy(b[:], data)
			data = data[n:]
			v = math.Float64frombits(binary.LittleEndian.Uint64(b[:]))
		case 3:
			specials := []float64{staleNaN, math.NaN(), math.Inf(1), math.Inf(-1), math.Copysign(0, -1), 0,
				math.MaxFloat64, math.SmallestNonzeroFloat64}
			v = specials[int(arg)%len(specials)]
		default:
			v = prev + float64(int8(arg))/10
		}
		ts = append(ts, t)
		vals = append(vals, v)
		prev = v
	}
	return ts, vals
}
