package encoding

import (
	"encoding/binary"
	"math"
	"slices"

	"github.com/klauspost/compress/huff0"
)

// An integer stream is the packed form of a transformed integer sequence
// (deltas, residuals, mantissas). It comes in one of two forms, told apart
// by its first byte:
//
//   - FOR frames (first byte 0..64, the first frame's width): see appendFOR.
//   - One Huffman-coded byte plane (first byte streamHuff1X or
//     streamHuff4X): a base as a zigzag varint, the length of the Huffman
//     data as a uvarint, the data as written by huff0 (table, then one or
//     four bitstreams), then one zigzag varint for each escape symbol in
//     the data, in order. Symbol s < 255 stands for base+s; symbol 255
//     (escape) for base plus the next varint.
//
// Fixed-width frames cost the same for every value in a frame; Huffman
// codes spend fewer bits on the common deltas, which is worth about 30%
// on noisy sensors whose deltas cluster around zero. Escapes keep that
// gain when a glitch reading or an outage puts a few values far away.
// Huffman cannot go below one bit a value, so runs of equal values stay
// with FOR frames (width 0) and zstd.
const (
	streamHuff1X = 0x80
	streamHuff4X = 0x81
	huffEscape   = 255
)

// maxEscapeShare bounds the escapes in a Huffman stream, as a divisor of
// its length: past 1/16 the stream is too spread for one byte plane.
const maxEscapeShare = 16

// minEntropySamples is the fewest samples a column must hold for the
// encoder to try a Huffman stream on it. Below that, a Huffman table costs
// about what it saves: on the generator's data the rule costs 0.002% of
// the bytes of 24-sample blocks and 0.035% at 31
// (TestSmallBlocksSkipEntropyCoders), while trying the candidates took
// five to eight times as long as the FOR forms alone. A store's head flush
// writes blocks of about Options.HeadSamplesPerSeries (24) samples, so this
// is most of what a flush costs; merges write larger blocks.
const minEntropySamples = 32

// minZstdSamples is the fewest samples a column must hold for the encoder
// to try zstd on its plain body. zstd wins on long runs, which short
// blocks do not have: on the generator's data it saved 0.01% of the bytes
// of 192-sample blocks and 0.1% at 360, but 0.3-0.7% from 1 024 samples up
// (TestZstdOnlyOnLongColumns), while an attempt at SpeedBetterCompression
// cost as much as the rest of the encoder. Merges of a partition still
// being written make blocks of a few hundred samples; its final merge
// makes full blocks, which get zstd.
const minZstdSamples = 512

// huff4XMin is the stream length from which the four-stream Huffman form
// is used: its 6-byte jump table is noise there, and four interleaved
// streams decode faster.
const huff4XMin = 1024

// streamChoice keeps, over the candidate transforms of one column, the
// smallest body in FOR form and the smallest in Huffman form. Sizes count
// the transform's own header fields (head) plus the stream.
type streamChoice struct {
	noHuff   bool // the column is too short for a Huffman table to pay
	forKind  byte
	forX     []int64
	forSize  int
	huffKind byte
	huffSize int // 0 when no candidate could be Huffman-coded
	huffN    int
	huffLo   int64
	huffLen  int    // length of the Huffman data within huffData
	huffData []byte // Huffman data then escapes; aliases s.hbest
}

// newStreamChoice starts the choice for a column of n samples; Huffman
// forms are considered from entropyMin samples up.
func newStreamChoice(n, entropyMin int) streamChoice {
	return streamChoice{forSize: math.MaxInt, noHuff: n < entropyMin}
}

// consider measures transform kind, whose header fields take head bytes
// and whose stream is x.
func (c *streamChoice) consider(kind byte, head int, x []int64, s *encScratch) {
	forLen := forSize(x)
	if size := head + forLen; size < c.forSize {
		c.forKind, c.forX, c.forSize = kind, x, size
	}
	if c.noHuff || forLen <= len(x)/8 {
		return // Huffman spends at least a bit a value
	}
	h, esc, base, ok := huffmanInts(x, s)
	if !ok {
		return
	}
	size := head + 1 + varintLen(base) + uvarintLen(uint64(len(h))) + len(h) + len(esc)
	if c.huffSize == 0 || size < c.huffSize {
		c.huffKind, c.huffSize, c.huffN, c.huffLo, c.huffLen = kind, size, len(x), base, len(h)
		c.huffData = append(append(s.hbest[:0], h...), esc...)
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
	dst = binary.AppendUvarint(dst, uint64(c.huffLen))
	return append(dst, c.huffData...)
}

// huffmanInts Huffman-codes x as one byte a value around a base, with an
// escape for each value outside [base, base+254]. The base is the minimum
// when all values fit that window, else the median less 127. ok is false
// when more than 1/16 of the values would escape or huff0 finds nothing to
// gain. The results alias s and are valid until s is used again.
func huffmanInts(x []int64, s *encScratch) (data, esc []byte, base int64, ok bool) {
	if len(x) < 2 {
		return nil, nil, 0, false
	}
	lo, hi := x[0], x[0]
	for _, v := range x[1:] {
		lo = min(lo, v)
		hi = max(hi, v)
	}
	base = lo
	if uint64(hi-lo) >= huffEscape {
		base = approxMedian(x) - 127
	}
	s.bytes = grow(s.bytes, len(x))
	b := s.bytes
	escBuf := s.esc[:0]
	defer func() { s.esc = escBuf[:0] }() // keep the grown array
	escapes, limit := 0, len(x)/maxEscapeShare
	for i, v := range x {
		if u := uint64(v - base); u < huffEscape {
			b[i] = byte(u)
			continue
		}
		if escapes++; escapes > limit {
			return nil, nil, 0, false
		}
		b[i] = huffEscape
		escBuf = binary.AppendVarint(escBuf, v-base)
	}
	s.huff.Reuse = huff0.ReusePolicyNone // each column carries its own table
	var err error
	if len(x) >= huff4XMin {
		data, _, err = huff0.Compress4X(b, &s.huff)
	} else {
		data, _, err = huff0.Compress1X(b, &s.huff)
	}
	if err != nil { // incompressible, or one symbol only
		return nil, nil, 0, false
	}
	return data, escBuf, base, true
}

// approxMedian returns the median of up to 63 values spread evenly over x.
func approxMedian(x []int64) int64 {
	var sample [63]int64
	k := min(len(x), len(sample))
	for i := range k {
		sample[i] = x[i*len(x)/k]
	}
	slices.Sort(sample[:k])
	return sample[k/2]
}

// intReader reads an integer stream in chunks of at most miniBlock.
type intReader struct {
	p    []byte // FOR frames, or the escapes of a Huffman stream, still to read
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
		if b == huffEscape {
			d, k := binary.Varint(r.p)
			if k <= 0 {
				return corrupt("missing huffman escape")
			}
			t[i] = r.base + d
			r.p = r.p[k:]
		}
	}
	r.huff = r.huff[len(t):]
	return nil
}
