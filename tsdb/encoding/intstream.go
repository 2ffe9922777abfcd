package encoding

import (
	"encoding/binary"
	"math"

	"github.com/klauspost/compress/huff0"
)

// An integer stream is the packed form of a transformed integer sequence
// (deltas, residuals, mantissas). It comes in one of two forms, told apart
// by its first byte:
//
//   - FOR frames (first byte 0..64, the first frame's width): see appendFOR.
//   - One Huffman-coded byte plane (first byte streamHuff1X or
//     streamHuff4X): the stream's minimum as a zigzag varint, the length of
//     the Huffman data as a uvarint, then the data as written by huff0
//     (table, then one or four bitstreams), whose symbols are the values
//     minus the minimum. Only offered when every value lies within 255 of
//     the minimum.
//
// Fixed-width frames cost the same for every value in a frame; Huffman
// codes spend fewer bits on the common deltas, which is worth about 30%
// on noisy sensors whose deltas cluster around zero. Huffman cannot go
// below one bit a value, so runs of equal values stay with FOR frames
// (width 0) and zstd.
const (
	streamHuff1X = 0x80
	streamHuff4X = 0x81
)

// huff4XMin is the stream length from which the four-stream Huffman form
// is used: its 6-byte jump table is noise there, and four interleaved
// streams decode faster.
const huff4XMin = 1024

// streamChoice keeps, over the candidate transforms of one column, the
// smallest body in FOR form and the smallest in Huffman form. Sizes count
// the transform's own header fields (head) plus the stream.
type streamChoice struct {
	forKind  byte
	forX     []int64
	forSize  int
	huffKind byte
	huffSize int // 0 when no candidate could be Huffman-coded
	huffN    int
	huffLo   int64
	huffData []byte // aliases s.hbest
}

func newStreamChoice() streamChoice {
	return streamChoice{forSize: math.MaxInt}
}

// consider measures transform kind, whose header fields take head bytes
// and whose stream is x.
func (c *streamChoice) consider(kind byte, head int, x []int64, s *encScratch) {
	forLen := forSize(x)
	if size := head + forLen; size < c.forSize {
		c.forKind, c.forX, c.forSize = kind, x, size
	}
	if forLen <= len(x)/8 {
		return // Huffman spends at least a bit a value
	}
	h, lo, ok := huffmanInts(x, s)
	if !ok {
		return
	}
	size := head + 1 + varintLen(lo) + uvarintLen(uint64(len(h))) + len(h)
	if c.huffSize == 0 || size < c.huffSize {
		c.huffKind, c.huffSize, c.huffN, c.huffLo = kind, size, len(x), lo
		c.huffData = append(s.hbest[:0], h...)
		s.hbest = c.huffData[:0]
	}
}

// appendHuffStream appends the chosen Huffman stream.
func (c *streamChoice) appendHuffStream(dst []byte) []byte {
	tag := byte(streamHuff1X)
	if c.huffN >= huff4XMin {
		tag = streamHuff4X
	}
	dst = append(dst, tag)
	dst = binary.AppendVarint(dst, c.huffLo)
	dst = binary.AppendUvarint(dst, uint64(len(c.huffData)))
	return append(dst, c.huffData...)
}

// huffmanInts Huffman-codes x minus its minimum as bytes. The result
// aliases s and is valid until s is used again.
func huffmanInts(x []int64, s *encScratch) (out []byte, lo int64, ok bool) {
	if len(x) < 2 {
		return nil, 0, false
	}
	lo, hi := x[0], x[0]
	for _, v := range x[1:] {
		lo = min(lo, v)
		hi = max(hi, v)
	}
	if uint64(hi-lo) > 255 {
		return nil, 0, false
	}
	s.bytes = grow(s.bytes, len(x))
	b := s.bytes
	for i, v := range x {
		b[i] = byte(v - lo)
	}
	s.huff.Reuse = huff0.ReusePolicyNone // each column carries its own table
	var err error
	if len(x) >= huff4XMin {
		out, _, err = huff0.Compress4X(b, &s.huff)
	} else {
		out, _, err = huff0.Compress1X(b, &s.huff)
	}
	if err != nil { // incompressible, or one symbol only
		return nil, 0, false
	}
	return out, lo, true
}

// intReader reads an integer stream in chunks of at most miniBlock.
type intReader struct {
	p    []byte // FOR frames still to read; after the stream when Huffman
	huff []byte // decoded Huffman symbols still to read
	base int64
}

// newIntReader prepares to read n integers from the stream at the start
// of p. A Huffman stream is decoded at once into s.bytes, so s must stay
// with the reader until it is done.
func newIntReader(p []byte, n int, s *decScratch) (intReader, error) {
	if n == 0 || len(p) == 0 || (p[0] != streamHuff1X && p[0] != streamHuff4X) {
		return intReader{p: p}, nil
	}
	tag := p[0]
	lo, k := binary.Varint(p[1:])
	if k <= 0 {
		return intReader{}, corrupt("bad huffman base")
	}
	p = p[1+k:]
	size, k := binary.Uvarint(p)
	if k <= 0 || size > uint64(len(p)-k) {
		return intReader{}, corrupt("bad huffman length")
	}
	data, rest := p[k:k+int(size)], p[k+int(size):]
	h, remain, err := huff0.ReadTable(data, &s.huff)
	if err != nil {
		return intReader{}, corruptWrap("cannot read huffman table", err)
	}
	var sym []byte
	if tag == streamHuff4X {
		sym, err = h.Decoder().Decompress4X(s.bytes[:0:n], remain)
	} else {
		sym, err = h.Decoder().Decompress1X(s.bytes[:0:n], remain)
	}
	if err != nil {
		return intReader{}, corruptWrap("cannot decode huffman data", err)
	}
	if len(sym) != n {
		return intReader{}, corrupt("huffman data holds %d values, want %d", len(sym), n)
	}
	return intReader{p: rest, huff: sym, base: lo}, nil
}

// next fills t (at most miniBlock values) with the next integers.
func (r *intReader) next(t []int64) error {
	if r.huff == nil {
		var err error
		r.p, err = decodeFrame(t, r.p)
		return err
	}
	sym := r.huff[:len(t)]
	for i, b := range sym {
		t[i] = r.base + int64(b)
	}
	r.huff = r.huff[len(t):]
	return nil
}
