package encoding

import (
	"encoding/binary"
	"math"
	"math/bits"
)

// The XOR fallback for values that are not decimals, in the manner of
// Facebook's Gorilla: each value's bits are XORed with the previous
// value's and only the meaningful bits of the XOR are stored. Bits are
// written least significant first.
//
//	first value          64 bits
//	XOR == 0             0
//	XOR fits the window  1 0, then the window's bits of the XOR
//	new window           1 1, leading zeros (6 bits), width-1 (6 bits),
//	                     then width bits of the XOR
//
// The window (leading and trailing zero counts) carries over from the last
// new-window entry.

// bitWriter appends bits to a byte slice, least significant first.
type bitWriter struct {
	dst []byte
	acc uint64
	nb  uint
}

// write appends the low w (1..64) bits of v; v must have no higher bits.
func (bw *bitWriter) write(v uint64, w uint) {
	bw.acc |= v << bw.nb
	bw.nb += w
	if bw.nb >= 64 {
		bw.dst = binary.LittleEndian.AppendUint64(bw.dst, bw.acc)
		bw.nb -= 64
		bw.acc = v >> (w - bw.nb)
	}
}

func (bw *bitWriter) flush() []byte {
	for ; bw.nb > 0; bw.nb -= min(8, bw.nb) {
		bw.dst = append(bw.dst, byte(bw.acc))
		bw.acc >>= 8
	}
	return bw.dst
}

func appendGorilla(dst []byte, vals []float64) []byte {
	bw := bitWriter{dst: dst}
	prev := math.Float64bits(vals[0])
	bw.write(prev, 64)
	lead, trail := uint(64), uint(0) // no window yet: nothing fits
	for _, v := range vals[1:] {
		cur := math.Float64bits(v)
		x := cur ^ prev
		prev = cur
		if x == 0 {
			bw.write(0, 1)
			continue
		}
		l, t := uint(bits.LeadingZeros64(x)), uint(bits.TrailingZeros64(x))
		if l >= lead && t >= trail {
			bw.write(0b01, 2)
			bw.write(x>>trail, 64-lead-trail)
			continue
		}
		lead, trail = l, t
		width := 64 - l - t
		bw.write(0b11|uint64(l)<<2|uint64(width-1)<<8, 14)
		bw.write(x>>t, width)
	}
	return bw.flush()
}

// decodeGorilla fills out from the XOR stream p, which must be consumed
// exactly (up to the padding of the last byte). Every read is bounded by
// the stream's length in bits; reads that start 16 or more bytes before
// the end of p load words directly, the rest go through bitsAt.
func decodeGorilla(out []float64, p []byte) error {
	total := uint(len(p)) * 8
	if total < 64 {
		return corrupt("xor stream of %d bytes", len(p))
	}
	read := func(bp, w uint) uint64 {
		if bi := bp >> 3; bi+16 <= uint(len(p)) {
			s := bp & 7
			v := binary.LittleEndian.Uint64(p[bi:])>>s | binary.LittleEndian.Uint64(p[bi+8:])<<(64-s)
			return v & (^uint64(0) >> (64 - w))
		}
		return bitsAt(p, bp, w)
	}
	prev := read(0, 64)
	out[0] = math.Float64frombits(prev)
	bp := uint(64)
	lead, trail := uint(64), uint(0)
	for i := 1; i < len(out); i++ {
		if bp >= total {
			return corrupt("xor stream truncated")
		}
		ctl := read(bp, 14)
		switch {
		case ctl&1 == 0:
			bp++
		case ctl&2 == 0:
			if lead+trail >= 64 {
				return corrupt("xor window used before it was set")
			}
			w := 64 - lead - trail
			if bp+2+w > total {
				return corrupt("xor stream truncated")
			}
			prev ^= read(bp+2, w) << trail
			bp += 2 + w
		default:
			lead = uint(ctl>>2) & 63
			w := uint(ctl>>8)&63 + 1
			if lead+w > 64 {
				return corrupt("xor window of %d+%d bits", lead, w)
			}
			trail = 64 - lead - w
			if bp+14+w > total {
				return corrupt("xor stream truncated")
			}
			prev ^= read(bp+14, w) << trail
			bp += 14 + w
		}
		out[i] = math.Float64frombits(prev)
	}
	if (total-bp)/8 != 0 {
		return corrupt("%d trailing bytes", (total-bp)/8)
	}
	return nil
}
