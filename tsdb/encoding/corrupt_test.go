package encoding

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/require"
)

// columnsOfEveryKind returns valid columns covering every encoding, with
// and without zstd and Huffman streams, keyed by a description.
func columnsOfEveryKind(t testing.TB, c *Codec) (ts, vals map[string][]byte) {
	ts, vals = map[string][]byte{}, map[string][]byte{}
	for name, x := range timestampCases() {
		ts[name] = c.AppendTimestamps(nil, x)
	}
	for name, x := range valueCases() {
		vals[name] = c.AppendValues(nil, x)
	}
	for _, sc := range []scenario{{"10s x 1h", 10, 360}, {"10s x 8192", 10, 8192}} {
		for ki := range sensorKinds {
			b := genBlock(ki, sc)
			ts[sc.name+" "+b.kind] = c.AppendTimestamps(nil, b.ts)
			vals[sc.name+" "+b.kind] = c.AppendValues(nil, b.vals)
		}
	}
	seen := map[string]bool{}
	for _, col := range ts {
		seen[kindName(col)] = true
	}
	for _, col := range vals {
		seen[kindName(col)] = true
	}
	for _, want := range []string{"linear", "delta", "dod", "grid", "const", "dec-linear", "dec-for",
		"dec-delta", "dec-dod", "xor", "raw", "dec-delta+zstd", "dec-for+zstd", "xor+zstd"} {
		require.True(t, seen[want], "no test column of kind %s", want)
	}
	return ts, vals
}

// cuts returns the lengths to cut col to: every length near the start and
// the end, and a spread in between, so long columns stay quick.
func cuts(col []byte) []int {
	var out []int
	step := max(1, len(col)/256)
	for n := 0; n < len(col); n++ {
		if n < 256 || len(col)-n <= 16 || n%step == 0 {
			out = append(out, n)
		}
	}
	return out
}

func TestDecodeTruncated(t *testing.T) {
	c := newTestCodec(t)
	tsCols, valCols := columnsOfEveryKind(t, c)
	for name, col := range tsCols {
		for _, n := range cuts(col) {
			_, err := c.DecodeTimestamps(nil, col[:n])
			require.ErrorIs(t, err, ErrCorrupt, "%s cut to %d of %d bytes", name, n, len(col))
		}
	}
	for name, col := range valCols {
		for _, n := range cuts(col) {
			_, err := c.DecodeValues(nil, col[:n])
			require.ErrorIs(t, err, ErrCorrupt, "%s cut to %d of %d bytes", name, n, len(col))
		}
	}
}

func TestDecodeTrailingBytes(t *testing.T) {
	c := newTestCodec(t)
	tsCols, valCols := columnsOfEveryKind(t, c)
	for name, col := range tsCols {
		_, err := c.DecodeTimestamps(nil, append(col[:len(col):len(col)], 0))
		require.ErrorIs(t, err, ErrCorrupt, name)
	}
	for name, col := range valCols {
		_, err := c.DecodeValues(nil, append(col[:len(col):len(col)], 0))
		require.ErrorIs(t, err, ErrCorrupt, name)
	}
}

// TestDecodeBitFlips flips bits all over valid columns: decoding must not
// panic, a failure must wrap ErrCorrupt or ErrUnsupported, and timestamps
// that decode must still ascend.
func TestDecodeBitFlips(t *testing.T) {
	c := newTestCodec(t)
	tsCols, valCols := columnsOfEveryKind(t, c)
	r := rand.New(rand.NewPCG(1, 2))
	flip := func(col []byte) []byte {
		out := append([]byte(nil), col...)
		for range 1 + r.IntN(3) {
			i := r.IntN(len(out))
			out[i] ^= 1 << r.IntN(8)
		}
		return out
	}
	isDecodeErr := func(err error) bool {
		return errors.Is(err, ErrCorrupt) || errors.Is(err, ErrUnsupported)
	}
	const flips = 50
	for name, col := range tsCols {
		for range flips {
			got, err := c.DecodeTimestamps(nil, flip(col))
			if err != nil {
				require.True(t, isDecodeErr(err), "%s: %v", name, err)
				require.Empty(t, got)
				continue
			}
			require.NoError(t, checkAscending(got), name)
		}
	}
	for name, col := range valCols {
		for range flips {
			got, err := c.DecodeValues(nil, flip(col))
			if err != nil {
				require.True(t, isDecodeErr(err), "%s: %v", name, err)
				require.Empty(t, got)
			}
		}
	}
}

func TestDecodeHeaderErrors(t *testing.T) {
	c := newTestCodec(t)
	tsCol := c.AppendTimestamps(nil, ascending(10, 0, 7))
	valCol := c.AppendValues(nil, []float64{1.5, 2.5, 3.25})

	cases := []struct {
		name string
		col  []byte
		want error
	}{
		{"nil", nil, ErrCorrupt},
		{"marker only", tsCol[:1], ErrCorrupt},
		{"version 0", append([]byte{tsCol[0] &^ 0xe0}, tsCol[1:]...), ErrUnsupported},
		{"version 2", append([]byte{tsCol[0]&^0xe0 | 2<<5}, tsCol[1:]...), ErrUnsupported},
		{"count over limit", binary.AppendUvarint([]byte{tsCol[0]}, MaxBlockSamples+1), ErrCorrupt},
		{"count overflows", append([]byte{tsCol[0]}, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), ErrCorrupt},
		{"unknown kind", append([]byte{makeMarker(15, false)}, tsCol[1:]...), ErrCorrupt},
	}
	for _, tc := range cases {
		_, err := c.DecodeTimestamps(nil, tc.col)
		require.ErrorIs(t, err, tc.want, "timestamps: %s", tc.name)
		_, err = c.DecodeValues(nil, tc.col)
		require.ErrorIs(t, err, tc.want, "values: %s", tc.name)
	}

	_, err := c.DecodeTimestamps(nil, valCol)
	require.ErrorIs(t, err, ErrCorrupt, "a value column is not a timestamp column")
	_, err = c.DecodeValues(nil, tsCol)
	require.ErrorIs(t, err, ErrCorrupt, "a timestamp column is not a value column")
}

func TestDecodeRefusesDescendingTimestamps(t *testing.T) {
	c := newTestCodec(t)
	// The encoder is exact for any sequence; the decoder enforces order.
	for name, ts := range map[string][]int64{
		"equal":      {5, 5},
		"descending": {10, 9, 8},
		"dip":        genTimestamps(rand.New(rand.NewPCG(1, 1)), 500, 1, 30, 0)[:0:0],
	} {
		if len(ts) == 0 {
			ts = genTimestamps(rand.New(rand.NewPCG(1, 1)), 500, 1, 30, 0)
			ts[300] = ts[298]
		}
		col := c.AppendTimestamps(nil, ts)
		_, err := c.DecodeTimestamps(nil, col)
		require.ErrorIs(t, err, ErrCorrupt, name)
	}
}

// TestDecodeZstdBomb checks that a zstd body that inflates past what any
// column can hold is refused rather than allocated.
func TestDecodeZstdBomb(t *testing.T) {
	c := newTestCodec(t)
	enc, err := zstd.NewWriter(nil)
	require.NoError(t, err)
	bomb := enc.EncodeAll(make([]byte, 4*maxBody), nil)
	col := binary.AppendUvarint([]byte{makeMarker(kindRaw, true)}, MaxBlockSamples)
	col = append(col, bomb...)
	_, err = c.DecodeValues(nil, col)
	require.ErrorIs(t, err, ErrCorrupt)
	_, err = c.DecodeTimestamps(nil, binary.AppendUvarint([]byte{makeMarker(kindTSDelta, true)}, 10))
	require.ErrorIs(t, err, ErrCorrupt)
}
