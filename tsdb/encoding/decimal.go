package encoding

import (
	"encoding/binary"
	"math"

	"github.com/VictoriaMetrics/VictoriaMetrics/lib/decimal"
)

// maxExceptionShare bounds the exceptions a decimal block may carry, as a
// divisor of the sample count: past a quarter, an exception's 9+ bytes make
// the decimal form lose to the float fallbacks anyway.
const maxExceptionShare = 4

// decimalForm is a block of floats as int64 mantissas with one decimal
// exponent, plus the positions whose float bits are kept verbatim.
type decimalForm struct {
	exp int
	m   []int64 // mantissas; exception slots repeat a neighbour
	exc []int32 // ascending positions of exceptions
}

// toDecimal converts vals to mantissas with one exponent. Each value goes
// through decimal.FromFloat, which finds the shortest decimal within about
// 12 significant digits; the block's exponent is then chosen so that at
// most 1/8 of the values would need more decimals than it allows (those
// become exceptions instead of widening every mantissa). Every value is
// then checked: one whose mantissa does not convert back to the same bits,
// and every NaN, ±Inf and -0, is an exception, stored verbatim. ok is false
// when there are too many exceptions for the form to pay. The result
// aliases s.
func toDecimal(s *encScratch, vals []float64) (d decimalForm, ok bool) {
	n := len(vals)
	s.a, s.ea = grow(s.a, n), grow(s.ea, n)
	m, ea := s.a, s.ea
	lo, hi, total := int16(math.MaxInt16), int16(math.MinInt16), 0
	for i, v := range vals {
		if !isDecimalCandidate(v) {
			m[i], ea[i] = 0, noExp
			continue
		}
		m[i], ea[i] = decimal.FromFloat(v)
		if m[i] != 0 { // zero fits any exponent
			lo, hi, total = min(lo, ea[i]), max(hi, ea[i]), total+1
		}
	}
	e := lowExponent(m, ea, lo, hi, total)

	limit := n / maxExceptionShare
	s.exc = grow(s.exc, limit)
	exc := s.exc[:0]
	firstGood := -1
	for i, v := range vals {
		mi, good := scaleTo(m[i], ea[i], e)
		if good && math.Float64bits(decToFloat(mi, int(e))) == math.Float64bits(v) {
			m[i] = mi
			if firstGood < 0 {
				firstGood = i
			}
			continue
		}
		if len(exc) >= limit {
			return d, false
		}
		exc = append(exc, int32(i)) // within cap: len(exc) < limit
		m[i] = 0
		if i > 0 {
			m[i] = m[i-1] // keeps the difference to the neighbour at zero
		}
	}
	if firstGood < 0 {
		return d, false
	}
	for i := range firstGood {
		m[i] = m[firstGood]
	}
	return decimalForm{exp: int(e), m: m, exc: exc}, true
}

// noExp marks a value that is not a decimal candidate.
const noExp = math.MinInt16

// scaleTo returns v*10^(ve-e), and false when that is not an exact int64:
// ve < e (more decimals than e allows), or the product overflows.
func scaleTo(v int64, ve, e int16) (int64, bool) {
	if ve == noExp || ve < e {
		return 0, v == 0 && ve != noExp
	}
	for k := ve - e; k > 0; k-- {
		if v > math.MaxInt64/10 || v < math.MinInt64/10 {
			return 0, false
		}
		v *= 10
	}
	return v, true
}

// expHistogram counts decimal exponents. lib/decimal returns exponents
// within about ±330 for finite float64 values; the histogram covers that
// range and clamps anything beyond it.
// lowExponent returns the exponent toDecimal aligns on: the one an eighth
// of the way up the exponents ea[i] of the non-zero mantissas, of which
// there are total, between lo and hi. A block's exponents mostly span a
// few values, so they are counted over that span only; the histogram of
// every possible exponent, zeroed and scanned from its bottom for each
// block, cost more than the conversions on a head flush's short blocks.
func lowExponent(m []int64, ea []int16, lo, hi int16, total int) int16 {
	if total == 0 {
		return 0
	}
	k := total / 8
	if int(hi)-int(lo) < 64 {
		var count [64]int32
		for i, e := range ea {
			if m[i] != 0 {
				count[e-lo]++
			}
		}
		below := 0
		for i, c := range count {
			if below += int(c); below > k {
				return lo + int16(i)
			}
		}
		return hi
	}
	var hist expHistogram
	for i, e := range ea {
		if m[i] != 0 {
			hist.add(e)
		}
	}
	return hist.lowQuantile(k)
}

type expHistogram struct {
	count [2*expRange + 1]int32
	total int
}

const expRange = 340

func (h *expHistogram) add(e int16) {
	h.count[min(max(int(e), -expRange), expRange)+expRange]++
	h.total++
}

// lowQuantile returns the smallest exponent e such that at most k of the
// counted exponents are below it (0 when nothing was counted).
func (h *expHistogram) lowQuantile(k int) int16 {
	if h.total == 0 {
		return 0
	}
	below := 0
	for i, c := range h.count {
		below += int(c)
		if below > k {
			return int16(i - expRange)
		}
	}
	return expRange
}

// isDecimalCandidate reports whether v can go through lib/decimal: finite
// and not negative zero.
func isDecimalCandidate(v float64) bool {
	return !math.IsNaN(v) && !math.IsInf(v, 0) && math.Float64bits(v) != 1<<63
}

// decToFloat is the one conversion from mantissa and exponent to float64,
// used both to verify at encode time and (inlined as the same arithmetic)
// to decode. Dividing by an exact power of ten for negative exponents
// gives the correctly rounded quotient, so a value read from a decimal
// string comes back bit for bit.
func decToFloat(m int64, e int) float64 {
	if e < 0 {
		return float64(m) / math.Pow10(-e)
	}
	return float64(m) * math.Pow10(e)
}

// exceptionsSize returns the encoded size of the exception list.
func exceptionsSize(exc []int32) int {
	size := uvarintLen(uint64(len(exc)))
	prev := int32(-1)
	for _, p := range exc {
		size += uvarintLen(uint64(p-prev-1)) + 8
		prev = p
	}
	return size
}

// appendExceptions writes the count, then for each exception the gap to
// the previous one as a uvarint and its float bits as 8 bytes.
func appendExceptions(dst []byte, exc []int32, vals []float64) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(exc)))
	prev := int32(-1)
	for _, p := range exc {
		dst = binary.AppendUvarint(dst, uint64(p-prev-1))
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(vals[p]))
		prev = p
	}
	return dst
}

// patchExceptions reads the exception list at the start of p, writes the
// exceptions into out and returns the rest of p.
func patchExceptions(out []float64, p []byte) ([]byte, error) {
	cnt, k := binary.Uvarint(p)
	if k <= 0 || cnt > uint64(len(out)) {
		return nil, corrupt("bad exception count")
	}
	p = p[k:]
	pos := uint64(0)
	for i := range cnt {
		gap, k := binary.Uvarint(p)
		if k <= 0 || len(p) < k+8 {
			return nil, corrupt("truncated exception")
		}
		if i > 0 {
			gap++
		}
		pos += gap
		if gap > uint64(len(out)) || pos >= uint64(len(out)) {
			return nil, corrupt("exception position out of range")
		}
		out[pos] = math.Float64frombits(binary.LittleEndian.Uint64(p[k:]))
		p = p[k+8:]
	}
	return p, nil
}

// uvarintLen returns the length of binary.AppendUvarint(nil, u).
func uvarintLen(u uint64) int {
	n := 1
	for u >= 0x80 {
		u >>= 7
		n++
	}
	return n
}
