package encoding

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// staleNaN is the Prometheus staleness marker.
var staleNaN = math.Float64frombits(0x7ff0000000000002)

func ascending(n int, start, step int64) []int64 {
	ts := make([]int64, n)
	for i := range ts {
		ts[i] = start + int64(i)*step
	}
	return ts
}

func randomGaps(seed uint64, n int, maxGap int64) []int64 {
	r := rand.New(rand.NewPCG(seed, 1))
	ts := make([]int64, n)
	t := int64(-1 << 40)
	for i := range ts {
		t += 1 + r.Int64N(maxGap)
		ts[i] = t
	}
	return ts
}

// quadratic returns i*i+i+1 for i < n: gaps that grow steadily, which
// second differences code in no bits at all.
func quadratic(n int) []int64 {
	ts := make([]int64, n)
	for i := range ts {
		ts[i] = int64(i*i + i + 1)
	}
	return ts
}

func timestampCases() map[string][]int64 {
	jittered := genTimestamps(rand.New(rand.NewPCG(1, 2)), MaxBlockSamples, 10, 30, 25)
	outage := genTimestamps(rand.New(rand.NewPCG(3, 4)), 1000, 10, 5, -10)
	for i := 500; i < len(outage); i++ {
		outage[i] += 6 * 3600 * 1000 // the gateway was offline for six hours
	}
	return map[string][]int64{
		"empty":                {},
		"one":                  {genStartMs},
		"one zero":             {0},
		"one min":              {math.MinInt64},
		"one max":              {math.MaxInt64},
		"two":                  {genStartMs, genStartMs + 10_000},
		"negative":             {-5000, -4000, -2999, -1, 0, 1, 1000},
		"before 1970":          ascending(100, -86400_000*365, 1000),
		"constant step":        ascending(MaxBlockSamples, genStartMs, 10_000),
		"step one":             ascending(300, math.MaxInt64-299, 1),
		"min then max":         {math.MinInt64, math.MaxInt64},
		"extremes":             {math.MinInt64, math.MinInt64 + 1, -1, 0, math.MaxInt64 - 1, math.MaxInt64},
		"huge deltas":          {math.MinInt64, 0, math.MaxInt64 - 1, math.MaxInt64},
		"max delta then small": {math.MinInt64, math.MaxInt64 - 10, math.MaxInt64 - 9, math.MaxInt64},
		"jittered full block":  jittered,
		"jittered 3 samples":   jittered[:3],
		"jittered 129":         jittered[:129],
		"outage":               outage,
		"random gaps":          randomGaps(5, 5000, 1<<20),
		"accelerating":         quadratic(2000),
		"random huge gaps":     randomGaps(6, 300, 1<<50),
	}
}

func TestTimestampsRoundTrip(t *testing.T) {
	c := newTestCodec(t)
	for name, ts := range timestampCases() {
		t.Run(name, func(t *testing.T) {
			prefix := []byte("prefix")
			col := c.AppendTimestamps(append([]byte(nil), prefix...), ts)
			require.Equal(t, prefix, col[:len(prefix)], "encoder must keep dst")
			col = col[len(prefix):]

			got, err := c.DecodeTimestamps(nil, col)
			require.NoError(t, err)
			require.Len(t, got, len(ts))
			if len(ts) > 0 {
				require.Equal(t, ts, got)
			}

			// Decoding appends after what dst holds.
			got, err = c.DecodeTimestamps([]int64{-7, -8}, col)
			require.NoError(t, err)
			require.Equal(t, append([]int64{-7, -8}, ts...), got)
		})
	}
}

func valueCases() map[string][]float64 {
	r := rand.New(rand.NewPCG(7, 8))
	randomBits := make([]float64, 1000)
	for i := range randomBits {
		randomBits[i] = math.Float64frombits(r.Uint64())
	}
	nonDecimal := make([]float64, 1000)
	for i := range nonDecimal {
		nonDecimal[i] = math.Sin(float64(i)) * 1e3
	}
	// Thirds change every 50 samples: not decimals, but runs XOR codes in
	// a bit a sample.
	thirds := make([]float64, 1000)
	for i := range thirds {
		thirds[i] = float64(i/50) / 3
	}
	temps := genTemperature(rand.New(rand.NewPCG(9, 10)), MaxBlockSamples, 10)
	withStale := append([]float64(nil), temps[:500]...)
	withStale[0], withStale[17], withStale[499] = staleNaN, math.NaN(), staleNaN
	mixedNaN := make([]float64, 400)
	for i := range mixedNaN {
		switch i % 4 {
		case 0:
			mixedNaN[i] = staleNaN
		case 1:
			mixedNaN[i] = math.Float64frombits(0x7ff8000000000001 + uint64(i))
		case 2:
			mixedNaN[i] = math.Float64frombits(0xfff0000000000001 | uint64(i)<<20)
		default:
			mixedNaN[i] = float64(i) / 10
		}
	}
	someNaN := append([]float64(nil), temps[:1000]...)
	for i := 3; i < len(someNaN); i += 97 {
		someNaN[i] = math.NaN()
	}
	glitch := append([]float64(nil), temps[:360]...)
	glitch[200] = 85 // a DS18B20's power-on reading
	counter := genEnergy(rand.New(rand.NewPCG(11, 12)), 2000, 1)
	accelerating := make([]float64, 2000)
	for i, q := range quadratic(len(accelerating)) {
		accelerating[i] = float64(q) / 100
	}
	return map[string][]float64{
		"empty":             {},
		"one":               {23.4},
		"one negative zero": {math.Copysign(0, -1)},
		"one stale":         {staleNaN},
		"all zero":          make([]float64, 300),
		"all stale":         {staleNaN, staleNaN, staleNaN},
		"zeros signed":      {0, math.Copysign(0, -1), 0, math.Copysign(0, -1), 1.5},
		"infinities":        {math.Inf(1), 1.5, math.Inf(-1), 2.5, math.Inf(1)},
		"specials": {math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64,
			-math.SmallestNonzeroFloat64, 2.2250738585072014e-308, 1e300, 1e-300},
		"big integers":       {1 << 53, 1<<53 + 2, -(1 << 60), 9.007199254740993e15, 123456789012345678},
		"mixed magnitudes":   {0.000001, 1e6, 23.4, 1e-9, 7},
		"not quite decimal":  {0.1 + 0.2, 0.3, 1.1 * 1.1, 2.675},
		"negative decimals":  {-0.5, -12.25, -7.125, -0.001, 3.5},
		"integers":           {1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144},
		"linear":             {10, 10.5, 11, 11.5, 12, 12.5},
		"temperature block":  temps,
		"temperature 2":      temps[:2],
		"temperature 3":      temps[:3],
		"stale in decimals":  withStale,
		"sparse NaN":         someNaN,
		"mixed NaN":          mixedNaN,
		"glitch":             glitch,
		"counter":            counter,
		"accelerating":       accelerating,
		"random bits":        randomBits,
		"non-decimal floats": nonDecimal,
		"non-decimal runs":   thirds,
		"pi multiples":       {math.Pi, 2 * math.Pi, 3 * math.Pi, math.E, math.Sqrt2},
	}
}

func TestValuesRoundTrip(t *testing.T) {
	c := newTestCodec(t)
	for name, vals := range valueCases() {
		t.Run(name, func(t *testing.T) {
			prefix := []byte("prefix")
			col := c.AppendValues(append([]byte(nil), prefix...), vals)
			require.Equal(t, prefix, col[:len(prefix)], "encoder must keep dst")
			col = col[len(prefix):]

			got, err := c.DecodeValues(nil, col)
			require.NoError(t, err)
			requireSameBits(t, vals, got)

			got, err = c.DecodeValues([]float64{-1}, col)
			require.NoError(t, err)
			requireSameBits(t, append([]float64{-1}, vals...), got)
		})
	}
}

// TestEncodingsChosen pins which encoding the chooser picks for data whose
// best form is clear, so a regression in the chooser shows up as such and
// not only as a size change.
func TestEncodingsChosen(t *testing.T) {
	c := newTestCodec(t)
	tsCases := []struct {
		name string
		ts   []int64
		want string
	}{
		{"regular", ascending(1000, genStartMs, 1000), "linear"},
		{"jittered", genTimestamps(rand.New(rand.NewPCG(1, 1)), 1000, 10, 30, 25), "grid"},
	}
	for _, tc := range tsCases {
		require.Equal(t, tc.want, kindName(c.AppendTimestamps(nil, tc.ts)), tc.name)
	}
	temps := genTemperature(rand.New(rand.NewPCG(2, 2)), 1000, 10)
	valCases := []struct {
		name string
		vals []float64
		want string
	}{
		{"zeros", make([]float64, 100), "dec-linear"},
		{"stale only", []float64{staleNaN, staleNaN}, "const"},
		{"temperature", temps, "dec-delta"},
		{"random bits", valueCases()["random bits"], "raw"},
		{"sine", valueCases()["non-decimal floats"], "raw"},
		{"thirds in runs", valueCases()["non-decimal runs"], "xor+zstd"},
	}
	for _, tc := range valCases {
		require.Equal(t, tc.want, kindName(c.AppendValues(nil, tc.vals)), tc.name)
	}
}

func TestEncodersPanicOverLimit(t *testing.T) {
	c := newTestCodec(t)
	require.Panics(t, func() { c.AppendTimestamps(nil, make([]int64, MaxBlockSamples+1)) })
	require.Panics(t, func() { c.AppendValues(nil, make([]float64, MaxBlockSamples+1)) })
}

func TestOptionsValidate(t *testing.T) {
	require.NoError(t, Options{}.Validate())
	require.NoError(t, Options{Concurrency: 3}.Validate())
	require.Error(t, Options{Concurrency: -1}.Validate())
	_, err := NewCodec(Options{Concurrency: -1})
	require.Error(t, err)
}

// TestCodecStartsNoGoroutines backs the claim that a Codec needs no Close.
func TestCodecStartsNoGoroutines(t *testing.T) {
	defer goleak.VerifyNone(t)
	c := newTestCodec(t)
	// Enough samples of a low-entropy counter to make zstd worth it.
	vals := genEnergy(rand.New(rand.NewPCG(1, 1)), MaxBlockSamples, 1)
	col := c.AppendValues(nil, vals)
	require.Contains(t, kindName(col), "+zstd")
	got, err := c.DecodeValues(nil, col)
	require.NoError(t, err)
	requireSameBits(t, vals, got)
}

// TestOutliersKeepHuffman checks that one glitch reading, or one outage,
// costs a few bytes (two Huffman escapes) instead of the Huffman form for
// the whole block.
func TestOutliersKeepHuffman(t *testing.T) {
	c := newTestCodec(t)
	temps := genTemperature(rand.New(rand.NewPCG(9, 10)), 360, 10)
	glitch := append([]float64(nil), temps...)
	glitch[200] = 85
	clean, spiked := len(c.AppendValues(nil, temps)), len(c.AppendValues(nil, glitch))
	t.Logf("360 temperatures: %d bytes, with one glitch %d", clean, spiked)
	require.LessOrEqual(t, spiked, clean+24)

	ts := genTimestamps(rand.New(rand.NewPCG(3, 4)), 360, 10, 30, 25)
	gap := append([]int64(nil), ts...)
	for i := 180; i < len(gap); i++ {
		gap[i] += 6 * 3600 * 1000
	}
	col := c.AppendTimestamps(nil, gap)
	t.Logf("360 jittered timestamps: %d bytes, with a 6 h outage %d (%s)",
		len(c.AppendTimestamps(nil, ts)), len(col), kindName(col))
	require.Less(t, len(col), 400) // FOR frames alone would take over 500
	got, err := c.DecodeTimestamps(nil, col)
	require.NoError(t, err)
	require.Equal(t, gap, got)
}
