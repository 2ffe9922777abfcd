package sensor

import "math"

// The generator draws every random number from a counter-based hash of
// (key, stream, index) instead of a stateful PRNG: any reading can be computed
// on its own, in any order, and costs a few multiplications.

// mix is the splitmix64 finaliser: a bijection with full avalanche.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

const golden = 0x9e3779b97f4a7c15

// hash3 mixes a key with a stream id and an index.
func hash3(key, stream uint64, i int64) uint64 {
	return mix(mix(key^stream*golden) + uint64(i)*golden)
}

// unit maps a hash to [0, 1).
func unit(h uint64) float64 { return float64(h>>11) * 0x1p-53 }

// gauss maps a hash to an approximately standard normal value: the sum of
// four 16-bit uniforms (Irwin-Hall), rescaled to unit variance. Its tails end
// at ±3.46, which suits sensor noise that must not produce absurd outliers.
func gauss(h uint64) float64 {
	s := float64(h&0xffff) + float64(h>>16&0xffff) + float64(h>>32&0xffff) + float64(h>>48)
	return (s/65536 - 2) * math.Sqrt(3)
}

// valueNoise is smooth noise in [-1, 1]: random knots every period ms,
// joined by a smoothstep so the curve and its slope are continuous.
func valueNoise(key, stream uint64, tms, period int64) float64 {
	i := floorDiv(tms, period)
	f := float64(tms-i*period) / float64(period)
	a := 2*unit(hash3(key, stream, i)) - 1
	b := 2*unit(hash3(key, stream, i+1)) - 1
	f = f * f * (3 - 2*f)
	return a + (b-a)*f
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// quantise rounds v to the nearest multiple of step/10^scale and returns the
// mantissa.
func quantise(v float64, scale int, step int64) int64 {
	m := math.Round(v * pow10[scale] / float64(step))
	return int64(m) * step
}

// stringKey hashes a string (FNV-1a) into a key.
func stringKey(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return mix(h)
}

// Hash streams: one per random quantity, so that adding a quantity never
// shifts another's numbers.
const (
	sKindMix uint64 = iota + 1
	sSerial
	sPhase
	sJitterMax
	sJitter
	sDriftPPM
	sDriftPeriod
	sDriftPhase
	sOffset
	sParamA
	sParamB
	sParamC
	sParamD
	sTempAnom
	sWetSpell
	sRainHour
	sRainIntensity
	sRainTip
	sPMEpisode
	sVoltSlow
	sRiverSlow
	sNoise0 // sNoise0+i: measurement noise of field i
)
