package encoding

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func newTestCodec(t testing.TB) *Codec {
	t.Helper()
	c, err := NewCodec(Options{})
	require.NoError(t, err)
	return c
}

// requireSameBits fails unless want and got hold the same float64 bit
// patterns; require.Equal would call NaN unequal to itself and -0 equal
// to 0.
func requireSameBits(t testing.TB, want, got []float64) {
	t.Helper()
	require.Len(t, got, len(want))
	for i := range want {
		if math.Float64bits(want[i]) != math.Float64bits(got[i]) {
			require.Failf(t, "value differs", "index %d: want %#x (%v), got %#x (%v)",
				i, math.Float64bits(want[i]), want[i], math.Float64bits(got[i]), got[i])
		}
	}
}

// kindName names a column's encoding for test and benchmark output.
func kindName(col []byte) string {
	names := map[byte]string{
		kindTSLinear: "linear", kindTSDelta: "delta", kindTSDoD: "dod", kindTSGrid: "grid",
		kindValConst: "const", kindDecLinear: "dec-linear", kindDecFOR: "dec-for",
		kindDecDelta: "dec-delta", kindDecDoD: "dec-dod", kindGorilla: "xor", kindRaw: "raw",
	}
	name := names[col[0]&markerKindMask]
	if col[0]&markerZstd != 0 {
		name += "+zstd"
	}
	return name
}
