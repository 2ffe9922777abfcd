package encoding

import (
	"encoding/binary"
	"math"
)

// decodeMantissas decodes the integer sequence of a decimal body into out,
// converting each mantissa to a float with exponent exp, and returns the
// rest of p. The stream is read a frame at a time into a stack buffer and
// converted from there, so the integers never need a slice of their own.
func decodeMantissas(out []float64, kind byte, exp int, p []byte, s *decScratch) ([]byte, error) {
	var m0 int64
	if kind != kindDecFOR { // FOR has no leading value outside the stream
		var k int
		if m0, k = binary.Varint(p); k <= 0 {
			return nil, corrupt("bad first mantissa")
		}
		p = p[k:]
	}

	var prev, d int64
	rest := out
	switch kind {
	case kindDecLinear:
		step, k := binary.Varint(p)
		if k <= 0 {
			return nil, corrupt("bad mantissa step")
		}
		m := m0
		for i := range out {
			out[i] = decToFloat(m, exp)
			m += step
		}
		return p[k:], nil
	case kindDecDelta:
		out[0] = decToFloat(m0, exp)
		prev, rest = m0, out[1:]
	case kindDecDoD:
		d0, k := binary.Varint(p)
		if k <= 0 {
			return nil, corrupt("bad first mantissa delta")
		}
		p = p[k:]
		out[0] = decToFloat(m0, exp)
		if len(out) == 1 {
			return p, nil
		}
		prev, d, rest = m0+d0, d0, out[2:]
		out[1] = decToFloat(prev, exp)
	}

	r, err := newIntReader(p, len(rest), s)
	if err != nil {
		return nil, err
	}
	div, p10 := exp < 0, math.Pow10(exp)
	if div {
		p10 = math.Pow10(-exp)
	}
	var tmp [miniBlock]int64
	for len(rest) > 0 {
		t := tmp[:min(miniBlock, len(rest))]
		if err := r.next(t); err != nil {
			return nil, err
		}
		o := rest[:len(t)]
		switch {
		case kind == kindDecDelta && div:
			prev = deltaDiv(o, t, prev, p10)
		case kind == kindDecDelta:
			prev = deltaMul(o, t, prev, p10)
		case kind == kindDecDoD && div:
			prev, d = dodDiv(o, t, prev, d, p10)
		case kind == kindDecDoD:
			prev, d = dodMul(o, t, prev, d, p10)
		default:
			convert(o, t, exp)
		}
		rest = rest[len(t):]
	}
	return r.p, nil
}

// The loops below fuse undoing a transform with converting mantissas to
// floats, one per transform and per direction of the exponent, so that
// each frame is walked once and the inner loops carry no branch. Each
// computes exactly decToFloat of the running mantissa.

func deltaDiv(out []float64, x []int64, prev int64, p10 float64) int64 {
	out = out[:len(x)]
	for i, d := range x {
		prev += d
		out[i] = float64(prev) / p10
	}
	return prev
}

func deltaMul(out []float64, x []int64, prev int64, p10 float64) int64 {
	out = out[:len(x)]
	for i, d := range x {
		prev += d
		out[i] = float64(prev) * p10
	}
	return prev
}

func dodDiv(out []float64, x []int64, prev, d int64, p10 float64) (int64, int64) {
	out = out[:len(x)]
	for i, dd := range x {
		d += dd
		prev += d
		out[i] = float64(prev) / p10
	}
	return prev, d
}

func dodMul(out []float64, x []int64, prev, d int64, p10 float64) (int64, int64) {
	out = out[:len(x)]
	for i, dd := range x {
		d += dd
		prev += d
		out[i] = float64(prev) * p10
	}
	return prev, d
}

// convert writes decToFloat(m[i], exp) into dst[i], with the power of ten
// and the choice of operation hoisted out of the loop.
func convert(dst []float64, m []int64, exp int) {
	dst = dst[:len(m)]
	if exp < 0 {
		p10 := math.Pow10(-exp)
		for i, v := range m {
			dst[i] = float64(v) / p10
		}
		return
	}
	p10 := math.Pow10(exp)
	for i, v := range m {
		dst[i] = float64(v) * p10
	}
}
