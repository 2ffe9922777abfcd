package encoding

import (
	"encoding/binary"
	"math/bits"
)

// miniBlock is how many integers share one frame of reference (base and
// bit width). 128 keeps the per-frame header under 0.03 bytes per value
// while letting the width follow the data: a rain burst widens only the
// frames it falls in.
const miniBlock = 128

// forSize returns the length appendFOR would produce for x.
func forSize(x []int64) int {
	size := 0
	for len(x) > 0 {
		m := min(miniBlock, len(x))
		base, w := frameOf(x[:m])
		size += 1 + varintLen(base) + (m*int(w)+7)/8
		x = x[m:]
	}
	return size
}

// appendFOR appends x as frames of up to miniBlock values. Each frame is
// a width byte w (0..64), the frame's minimum as a zigzag varint, and the
// values minus that minimum packed in w bits each, least significant bit
// first, in ceil(len*w/8) bytes. Differences are taken modulo 2^64, so any
// int64 sequence round-trips.
func appendFOR(dst []byte, x []int64) []byte {
	for len(x) > 0 {
		m := min(miniBlock, len(x))
		base, w := frameOf(x[:m])
		dst = append(dst, byte(w))
		dst = binary.AppendVarint(dst, base)
		dst = appendPacked(dst, x[:m], base, w)
		x = x[m:]
	}
	return dst
}

// frameOf returns the minimum of x and the bit width of max-min.
func frameOf(x []int64) (base int64, w uint) {
	lo, hi := x[0], x[0]
	for _, v := range x[1:] {
		lo = min(lo, v)
		hi = max(hi, v)
	}
	return lo, uint(bits.Len64(uint64(hi - lo)))
}

func appendPacked(dst []byte, x []int64, base int64, w uint) []byte {
	if w == 0 {
		return dst
	}
	var acc uint64
	var nb uint
	for _, v := range x {
		u := uint64(v - base)
		acc |= u << nb
		nb += w
		if nb >= 64 {
			dst = binary.LittleEndian.AppendUint64(dst, acc)
			nb -= 64
			// The top nb bits of u did not fit; a shift by 64 yields 0.
			acc = u >> (w - nb)
		}
	}
	for ; nb > 0; nb -= min(8, nb) {
		dst = append(dst, byte(acc))
		acc >>= 8
	}
	return dst
}

// decodeFrame fills out (at most miniBlock values) from one frame at the
// start of p and returns the rest of p.
func decodeFrame(out []int64, p []byte) ([]byte, error) {
	if len(p) < 2 {
		return nil, corrupt("truncated frame header")
	}
	w := uint(p[0])
	if w > 64 {
		return nil, corrupt("frame width %d > 64", w)
	}
	base, k := binary.Varint(p[1:])
	if k <= 0 {
		return nil, corrupt("bad frame base")
	}
	p = p[1+k:]
	nb := (len(out)*int(w) + 7) / 8
	if len(p) < nb {
		return nil, corrupt("frame needs %d bytes, %d left", nb, len(p))
	}
	unpack(out, p, w, base)
	return p[nb:], nil
}

// unpack reads len(out) values of w bits from p, adding base to each. p
// must hold ceil(len(out)*w/8) bytes and may hold more: the fast loop reads
// a whole 64-bit word for every value and masks what belongs to the next
// value or frame, so only values within 8 bytes of the end of p take the
// slow path.
func unpack(out []int64, p []byte, w uint, base int64) {
	if w == 0 {
		for i := range out {
			out[i] = base
		}
		return
	}
	i := 0
	if w <= 56 && len(p) >= 8 {
		// A value starting at bit bp lies within the 8 bytes from bp/8
		// because bp%8 + w <= 63; fast counts the values whose 8 bytes
		// are all in p.
		fast := min(len(out), (8*(len(p)-8)+7)/int(w)+1)
		mask := uint64(1)<<w - 1
		var bp uint
		o := out[:fast]
		for j := range o {
			word := binary.LittleEndian.Uint64(p[bp>>3:])
			o[j] = base + int64(word>>(bp&7)&mask)
			bp += w
		}
		i = fast
	}
	for ; i < len(out); i++ {
		out[i] = base + int64(bitsAt(p, uint(i)*w, w))
	}
}

// bitsAt returns the w (1..64) bits starting at bit bp of p, treating bytes
// past the end of p as zero.
func bitsAt(p []byte, bp, w uint) uint64 {
	var win [16]byte
	if bi := bp >> 3; bi < uint(len(p)) {
		copy(win[:], p[bi:])
	}
	s := bp & 7
	lo := binary.LittleEndian.Uint64(win[:8])
	hi := binary.LittleEndian.Uint64(win[8:])
	v := lo>>s | hi<<(64-s) // for s == 0 the second shift yields 0
	if w < 64 {
		v &= 1<<w - 1
	}
	return v
}

// varintLen returns the length of binary.AppendVarint(nil, v).
func varintLen(v int64) int {
	u := uint64(v<<1) ^ uint64(v>>63)
	return (bits.Len64(u|1) + 6) / 7
}
