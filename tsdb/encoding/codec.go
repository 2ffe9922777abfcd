package encoding

import (
	"encoding/binary"
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/klauspost/compress/huff0"
	"github.com/klauspost/compress/zstd"
)

// maxBody bounds the decompressed body of one column. The largest body an
// encoder writes is a raw values column (8 bytes a sample); decimal
// exceptions can add a few more bytes per sample, so twice that with some
// slack covers every valid column and caps what a hostile zstd frame can
// make a decoder allocate.
const maxBody = 16*MaxBlockSamples + 1024

// Options configures a Codec. The zero value is valid and means defaults.
// Nothing here changes the bytes written: any Codec reads what any other
// wrote.
type Options struct {
	// Concurrency is how many zstd compressions and how many zstd
	// decompressions may run at once through one Codec; further callers
	// wait for a free slot. Zero means GOMAXPROCS at NewCodec time.
	Concurrency int
}

// Validate reports whether o can be used.
func (o Options) Validate() error {
	if o.Concurrency < 0 {
		return fmt.Errorf("cannot use encoding options: Concurrency %d < 0", o.Concurrency)
	}
	return nil
}

// Codec encodes and decodes columns. It owns one zstd encoder and decoder
// (both safe for concurrent stateless use) and pools of scratch buffers,
// so one Codec serves every goroutine of a store. It starts no goroutines
// and needs no Close.
type Codec struct {
	zenc *zstd.Encoder
	zdec *zstd.Decoder
	encs *sync.Pool // of *encScratch; shared with Quick views
	decs *sync.Pool // of *decScratch

	// entropyMin and zstdMin are the fewest samples of a column for which
	// Huffman and zstd are tried: minEntropySamples and minZstdSamples,
	// lowered only by tests that measure what the rules cost.
	entropyMin, zstdMin int
}

// encScratch is an encoder's working memory for one call. Buffers grow to
// the largest block seen and are reused; nothing in them outlives the
// call. About 300 KiB once a full block has been encoded.
type encScratch struct {
	a, b, c []int64 // transformed integer sequences
	ea      []int16 // decimal exponent of each value
	exc     []int32 // positions of decimal exceptions
	body    []byte  // body in FOR (or other plain) form
	body2   []byte  // body in Huffman form
	hbest   []byte  // smallest Huffman data (and escapes) so far
	esc     []byte  // Huffman escapes
	z       []byte  // zstd output
	bytes   []byte  // Huffman symbols
	huff    huff0.Scratch
}

// decScratch is a decoder's working memory for one call: the Huffman
// table and symbols (up to MaxBlockSamples bytes) and, once a zstd column
// has been seen, a buffer of maxBody bytes to decompress into.
type decScratch struct {
	zbuf  []byte
	bytes []byte
	huff  huff0.Scratch
}

// NewCodec returns a Codec configured by opts.
func NewCodec(opts Options) (*Codec, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	conc := opts.Concurrency
	if conc == 0 {
		conc = runtime.GOMAXPROCS(0)
	}
	enc, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.SpeedBetterCompression),
		zstd.WithEncoderConcurrency(conc),
		zstd.WithEncoderCRC(false), // the store checksums whole files
		zstd.WithSingleSegment(true),
		zstd.WithLowerEncoderMem(true),
	)
	if err != nil {
		return nil, fmt.Errorf("cannot create zstd encoder: %w", err)
	}
	dec, err := zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(conc),
		zstd.WithDecoderMaxMemory(maxBody),
		zstd.WithDecodeAllCapLimit(true),
	)
	if err != nil {
		return nil, fmt.Errorf("cannot create zstd decoder: %w", err)
	}
	c := &Codec{zenc: enc, zdec: dec, entropyMin: minEntropySamples, zstdMin: minZstdSamples}
	c.encs = &sync.Pool{New: func() any { return new(encScratch) }}
	c.decs = &sync.Pool{New: func() any { return &decScratch{bytes: make([]byte, MaxBlockSamples)} }}
	return c, nil
}

// grow returns buf resliced to n elements, reallocated when too small.
func grow[T any](buf []T, n int) []T {
	if cap(buf) < n {
		return make([]T, n, max(n, MaxBlockSamples))
	}
	return buf[:n]
}

// finish appends the smallest of three bodies to dst: plain (FOR frames
// or a fixed form), plain compressed with zstd, and huff (the Huffman form,
// nil when there is none). zstd is kept only when it saves at least 1/16
// of the plain body, to spare decoders a decompression that buys little,
// and is not tried on a column of fewer than c.zstdMin samples.
// dst already ends with the marker placeholder at index at and the count
// of n samples.
func (c *Codec) finish(dst []byte, at, n int, kind byte, plain []byte, huffKind byte, huff []byte, s *encScratch) []byte {
	const minZstdBody = 32 // below this the frame header eats any gain
	best, z := plain, false
	if n >= c.zstdMin && len(plain) >= minZstdBody {
		zb := c.zenc.EncodeAll(plain, s.z[:0])
		s.z = zb[:0]
		if len(zb) <= len(plain)-len(plain)/16 {
			best, z = zb, true
		}
	}
	if huff != nil && len(huff) < len(best) {
		best, z, kind = huff, false, huffKind
	}
	dst[at] = makeMarker(kind, z)
	return append(dst, best...)
}

// appendHeader appends a marker placeholder and the sample count, and
// returns dst and the placeholder's index.
func appendHeader(dst []byte, n int) ([]byte, int) {
	if n > MaxBlockSamples {
		panic(fmt.Sprintf("BUG: encoding: %d samples in one block, limit is %d", n, MaxBlockSamples))
	}
	at := len(dst)
	dst = append(dst, 0)
	return binary.AppendUvarint(dst, uint64(n)), at
}

// header is a parsed column header.
type header struct {
	kind byte
	zstd bool
	n    int
	body []byte
}

func parseHeader(src []byte) (header, error) {
	if len(src) < 2 {
		return header{}, corrupt("column of %d bytes", len(src))
	}
	m := src[0]
	if v := m >> markerVersionShift; v != FormatVersion {
		return header{}, fmt.Errorf("%w: version %d, this build reads %d", ErrUnsupported, v, FormatVersion)
	}
	n, k := binary.Uvarint(src[1:])
	if k <= 0 || n > MaxBlockSamples {
		return header{}, corrupt("bad sample count")
	}
	return header{
		kind: m & markerKindMask,
		zstd: m&markerZstd != 0,
		n:    int(n),
		body: src[1+k:],
	}, nil
}

// unzstd decompresses h.body into s.zbuf when the column is compressed.
func (c *Codec) unzstd(h *header, s *decScratch) error {
	if !h.zstd {
		return nil
	}
	if s.zbuf == nil {
		s.zbuf = make([]byte, 0, maxBody) // the cap limits DecodeAll
	}
	out, err := c.zdec.DecodeAll(h.body, s.zbuf[:0])
	if err != nil {
		return fmt.Errorf("%w: cannot decompress body: %w", ErrCorrupt, err)
	}
	h.body = out
	return nil
}

// Draft returns a view of c, sharing its coders and scratch, that tries
// neither Huffman nor zstd: the FOR and plain forms only. A store's merges
// of a partition still being written use it: their output is rewritten by
// later merges, and the partition's final merge encodes it in full.
func (c *Codec) Draft() *Codec {
	q := *c
	q.entropyMin, q.zstdMin = math.MaxInt, math.MaxInt
	return &q
}

// Quick returns a view of c, sharing its coders and scratch, that tries
// Huffman streams only on columns of at least quickEntropySamples samples.
// A store's head flush uses it: its blocks are short-lived (merges rewrite
// them, and a day's final merge writes full blocks), and under full load it
// writes up to twice the head's 24-sample budget per series, where Huffman
// trials cost much and save little (intstream.go, quickEntropySamples).
func (c *Codec) Quick() *Codec {
	q := *c
	q.entropyMin = max(c.entropyMin, quickEntropySamples)
	return &q
}
