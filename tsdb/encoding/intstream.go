package encoding

import (
	"cmp"
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

// quickEntropySamples is minEntropySamples for Codec.Quick: on the
// generator's data, leaving Huffman untried below it costs 0.18% of the
// bytes of 48-sample blocks and at most 0.75% up to 63
// (TestQuickSkipsHuffmanBelow64), while in qos1-max, whose flushes write
// blocks of up to 48 samples, Huffman trials were 15% of the node's CPU.
// It is not the rule for every block: an hour of one-minute samples is a
// 60-sample block that Huffman makes 4% smaller.
const quickEntropySamples = 64

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
//
// consider sizes each candidate's FOR form at once and queues its Huffman
// form; chooseHuff then Huffman-codes the queued candidates from the one
// with the lowest order-0 entropy up, and stops at the first whose size
// cannot go below the best form found: a Huffman code spends at least the
// entropy, so such a candidate could not win.
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

	queued [3]huffCandidate
	nq     int
}

// huffCandidate is a transform whose Huffman form is still to be sized.
type huffCandidate struct {
	kind  byte
	order int // place in the queue
	head  int
	x     []int64
	bound int // no Huffman body of x is smaller
}

// newStreamChoice starts the choice for a column of n samples; Huffman
// forms are considered from entropyMin samples up.
func newStreamChoice(n, entropyMin int) streamChoice {
	return streamChoice{forSize: math.MaxInt, noHuff: n < entropyMin}
}

// consider measures transform kind, whose header fields take head bytes
// and whose stream is x, in FOR form, and queues its Huffman form for
// chooseHuff.
func (c *streamChoice) consider(kind byte, head int, x []int64) {
	forLen := forSize(x)
	if size := head + forLen; size < c.forSize {
		c.forKind, c.forX, c.forSize = kind, x, size
	}
	if c.noHuff || forLen <= len(x)/8 || c.nq == len(c.queued) {
		return // Huffman spends at least a bit a value
	}
	c.queued[c.nq] = huffCandidate{kind: kind, order: c.nq, head: head, x: x}
	c.nq++
}

// chooseHuff sizes the queued Huffman forms, the most promising first,
// until none left can beat the best form found.
func (c *streamChoice) chooseHuff(s *encScratch) {
	q := c.queued[:c.nq]
	for i := range q {
		q[i].bound = math.MaxInt
		if base, escLen, ok := bytePlane(q[i].x, s); ok {
			q[i].bound = q[i].head + 1 + varintLen(base) + 1 + huffmanBound(s.bytes[:len(q[i].x)]) + escLen
		}
	}
	slices.SortStableFunc(q, func(a, b huffCandidate) int { return cmp.Compare(a.bound, b.bound) })
	best := len(q) // queue index of the chosen candidate
	for _, cand := range q {
		if cand.bound >= c.forSize || c.huffSize != 0 && cand.bound > c.huffSize {
			return
		}
		h, esc, base, ok := huffmanInts(cand.x, s)
		if !ok {
			continue
		}
		// Of two forms of one size the one queued first wins, as if every
		// candidate were sized in turn.
		size := cand.head + 1 + varintLen(base) + uvarintLen(uint64(len(h))) + len(h) + len(esc)
		if c.huffSize == 0 || size < c.huffSize || size == c.huffSize && cand.order < best {
			best = cand.order
			c.huffKind, c.huffSize, c.huffN, c.huffLo, c.huffLen = cand.kind, size, len(cand.x), base, len(h)
			c.huffData = append(append(s.hbest[:0], h...), esc...)
			s.hbest = c.huffData[:0]
		}
	}
}

// huffmanBound returns a size in bytes that no huff0 encoding of sym can go
// below: its order-0 entropy, which no prefix code beats, plus one byte of
// table and, for the four-stream form, its jump table.
func huffmanBound(sym []byte) int {
	var count [256]uint16 // a column holds at most MaxBlockSamples values
	var seen [256]byte
	distinct := 0
	for _, b := range sym {
		if count[b] == 0 {
			seen[distinct] = b
			distinct++
		}
		count[b]++
	}
	n := float64(len(sym))
	bits := n * math.Log2(n)
	for _, b := range seen[:distinct] {
		k := float64(count[b])
		bits -= k * math.Log2(k)
	}
	bound := 1 + int(bits/8*(1-1e-9)) // rounded down, a hair below
	if len(sym) >= huff4XMin {
		bound += 6
	}
	return bound
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
// escape for each value outside [base, base+254] (see bytePlane). ok is
// false when more than 1/16 of the values would escape or huff0 finds
// nothing to gain. The results alias s and are valid until s is used
// again.
func huffmanInts(x []int64, s *encScratch) (data, esc []byte, base int64, ok bool) {
	base, _, ok = bytePlane(x, s)
	if !ok {
		return nil, nil, 0, false
	}
	s.huff.Reuse = huff0.ReusePolicyNone // each column carries its own table
	var err error
	if len(x) >= huff4XMin {
		data, _, err = huff0.Compress4X(s.bytes[:len(x)], &s.huff)
	} else {
		data, _, err = huff0.Compress1X(s.bytes[:len(x)], &s.huff)
	}
	if err != nil { // incompressible, or one symbol only
		return nil, nil, 0, false
	}
	return data, s.esc, base, true
}

// bytePlane writes x as one symbol a value into s.bytes and its escapes
// into s.esc, and returns the base and the escapes' length. The base is
// the minimum when all values fit [base, base+254], else the median less
// 127; symbol 255 escapes a value outside that window. ok is false when
// x is shorter than 2 or more than 1/16 of its values would escape.
func bytePlane(x []int64, s *encScratch) (base int64, escLen int, ok bool) {
	if len(x) < 2 {
		return 0, 0, false
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
	escapes, limit := 0, len(x)/maxEscapeShare
	for i, v := range x {
		if u := uint64(v - base); u < huffEscape {
			b[i] = byte(u)
			continue
		}
		if escapes++; escapes > limit {
			s.esc = escBuf[:0]
			return 0, 0, false
		}
		b[i] = huffEscape
		escBuf = binary.AppendVarint(escBuf, v-base)
	}
	s.esc = escBuf
	return base, len(escBuf), true
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
