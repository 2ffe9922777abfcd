// Package shortdec parses the numbers sensors actually send, an optional
// minus sign and at most 15 digits with at most one decimal point, faster
// than a general-purpose parser and with the very same result as
// strconv.ParseFloat. The JSON and line-protocol decoders try it first and
// fall back to their general parser when it declines.
package shortdec

import "encoding/binary"

// Parse parses raw when it is such a short decimal. A mantissa of at most
// 15 digits is exact in a float64, and one division by an exact power of
// ten rounds correctly (strconv takes the same path for it, after a
// general-purpose scan). Anything else reports false.
func Parse(raw []byte) (float64, bool) {
	f, n, ok := Prefix(raw)
	return f, ok && n == len(raw)
}

// Prefix parses the short decimal at the start of b, for a scanner that
// finds where a number ends while it parses it: n is the length of the
// longest prefix made of an optional minus sign, digits and at most one
// point; ok says whether that prefix is a short decimal. The byte after it,
// if any, is for the caller to judge.
func Prefix(b []byte) (f float64, n int, ok bool) {
	i, neg := 0, false
	if len(b) > 0 && b[0] == '-' {
		i, neg = 1, true
	}
	// The integer digits, then, after a point, the fraction's: two plain
	// loops, so that a digit costs a multiply-add and a comparison.
	var m uint64
	start := i
	for ; i < len(b) && b[i]-'0' < 10; i++ {
		m = m*10 + uint64(b[i]-'0')
	}
	frac := 0
	if i < len(b) && b[i] == '.' {
		i++
		fs := i
		for ; i < len(b) && b[i]-'0' < 10; i++ {
			m = m*10 + uint64(b[i]-'0')
		}
		frac = i - fs
	}
	// i-start counts the point, if any, with the digits.
	digits := i - start
	if frac > 0 || i > start && b[i-1] == '.' {
		digits--
	}
	if digits == 0 || digits > 15 {
		return 0, i, false
	}
	f = float64(m)
	if neg {
		f = -f
	}
	return f / pow10[frac], i, true
}

// pow10 are the powers of ten exact in a float64.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15}

// Digits parses b when it is 1 to 19 ASCII digits and nothing else, the
// shape of a timestamp, eight digits at a time; it reports false for
// anything else. Nineteen digits always fit a uint64; the caller judges
// the range it needs.
func Digits(b []byte) (uint64, bool) {
	n := len(b)
	if n == 0 || n > 19 {
		return 0, false
	}
	if n < 8 {
		var v uint64
		for _, c := range b {
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + uint64(c-'0')
		}
		return v, true
	}
	var v uint64
	all := b
	for ; n >= 8; n -= 8 {
		x, ok := eight(binary.LittleEndian.Uint64(b))
		if !ok {
			return 0, false
		}
		v = v*1e8 + x
		b = b[8:]
	}
	if n > 0 {
		// The last n digits are the top of the input's last eight bytes;
		// the bytes below them, already parsed, become leading zeros.
		keep := uint64(1)<<(8*(8-n)) - 1
		w := binary.LittleEndian.Uint64(all[len(all)-8:])
		x, ok := eight(w&^keep | 0x3030303030303030&keep)
		if !ok {
			return 0, false
		}
		v = v*pow10u[n] + x
	}
	return v, true
}

// pow10u are the powers of ten by which Digits shifts its last digits in.
var pow10u = [8]uint64{1, 10, 100, 1000, 10000, 100000, 1000000, 10000000}

// eight parses the eight ASCII digits of w, the first in its lowest byte,
// or reports false when one of its bytes is not a digit.
func eight(w uint64) (uint64, bool) {
	const highs, zeros, sixes = 0xF0F0F0F0F0F0F0F0, 0x3030303030303030, 0x0606060606060606
	// Every byte is 0x30 to 0x39: its high half is 3, and adding 6 to it
	// does not carry into that half.
	if w&highs != zeros || (w+sixes)&highs != zeros {
		return 0, false
	}
	w -= zeros
	w = w*10 + w>>8 // pairs of digits, in bytes 0, 2, 4, 6
	w = ((w&0x000000FF000000FF)*(100+1000000<<32) + (w>>16&0x000000FF000000FF)*(1+10000<<32)) >> 32
	return w, true
}
