package tsdb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/klauspost/compress/zstd"
	"github.com/prometheus/prometheus/model/labels"
)

// A WAL record holds one commit group: the series created since the previous
// group, then the group's samples in columns. Layout (before compression):
//
//	uvarint  series count
//	  per series: uvarint ref, uvarint label count,
//	              per label: uvarint len, name, uvarint len, value
//	uvarint  sample count n
//	n x uvarint         series refs
//	n x zigzag varint   timestamp deltas (the first from 0)
//	n x 8 bytes         float64 bits, little endian
//
// The record body is one kind byte (recGroupZstd) followed by that layout as
// a single zstd frame.
const recGroupZstd = 1

// errRecord is wrapped by every decoding error, so replay can tell damage from
// I/O failure.
var errRecord = errors.New("malformed WAL record")

// recordCodec encodes and decodes group records. It is owned by one goroutine:
// the committer for encoding, the replay for decoding.
type recordCodec struct {
	enc *zstd.Encoder
	dec *zstd.Decoder
	raw []byte
}

func newRecordCodec() (*recordCodec, error) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithEncoderConcurrency(1), zstd.WithLowerEncoderMem(true))
	if err != nil {
		return nil, fmt.Errorf("cannot create zstd encoder: %w", err)
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(1<<30))
	if err != nil {
		return nil, fmt.Errorf("cannot create zstd decoder: %w", err)
	}
	return &recordCodec{enc: enc, dec: dec}, nil
}

func (c *recordCodec) close() {
	c.enc.Close()
	c.dec.Close()
}

// encode appends the record for g to dst.
func (c *recordCodec) encode(dst []byte, g *pending) []byte {
	b := c.raw[:0]
	b = binary.AppendUvarint(b, uint64(len(g.series)))
	for _, s := range g.series {
		b = binary.AppendUvarint(b, uint64(s.ref))
		b = binary.AppendUvarint(b, uint64(s.lset.Len()))
		s.lset.Range(func(l labels.Label) {
			b = binary.AppendUvarint(b, uint64(len(l.Name)))
			b = append(b, l.Name...)
			b = binary.AppendUvarint(b, uint64(len(l.Value)))
			b = append(b, l.Value...)
		})
	}
	b = binary.AppendUvarint(b, uint64(len(g.refs)))
	for _, r := range g.refs {
		b = binary.AppendUvarint(b, uint64(r))
	}
	var prev int64
	for _, t := range g.ts {
		b = binary.AppendVarint(b, t-prev)
		prev = t
	}
	for _, v := range g.vals {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
	}
	c.raw = b
	dst = append(dst, recGroupZstd)
	return c.enc.EncodeAll(b, dst)
}

// decodedGroup is a group record read back. Its slices are owned by the codec
// and valid until the next decode.
type decodedGroup struct {
	series []decodedSeries
	refs   []SeriesRef
	ts     []int64
	vals   []float64
}

type decodedSeries struct {
	ref  SeriesRef
	lset labels.Labels
}

func (c *recordCodec) decode(rec []byte, g *decodedGroup) error {
	if len(rec) == 0 || rec[0] != recGroupZstd {
		return fmt.Errorf("%w: unknown record kind", errRecord)
	}
	raw, err := c.dec.DecodeAll(rec[1:], c.raw[:0])
	if err != nil {
		return fmt.Errorf("%w: %w", errRecord, err)
	}
	c.raw = raw
	r := reader{b: raw}
	g.series = g.series[:0]
	ns := r.uvarint()
	var lb labels.ScratchBuilder
	for i := uint64(0); i < ns && r.err == nil; i++ {
		ref := SeriesRef(r.uvarint())
		nl := r.uvarint()
		if nl > 1024 {
			return fmt.Errorf("%w: series with %d labels", errRecord, nl)
		}
		lb.Reset()
		for j := uint64(0); j < nl && r.err == nil; j++ {
			name := r.bytes()
			value := r.bytes()
			lb.Add(string(name), string(value))
		}
		lb.Sort()
		g.series = append(g.series, decodedSeries{ref: ref, lset: lb.Labels()})
	}
	n := r.uvarint()
	if r.err == nil && n > uint64(len(r.b)) { // every sample needs at least one byte
		return fmt.Errorf("%w: %d samples in %d bytes", errRecord, n, len(r.b))
	}
	g.refs, g.ts, g.vals = g.refs[:0], g.ts[:0], g.vals[:0]
	for i := uint64(0); i < n && r.err == nil; i++ {
		g.refs = append(g.refs, SeriesRef(r.uvarint()))
	}
	var prev int64
	for i := uint64(0); i < n && r.err == nil; i++ {
		prev += r.varint()
		g.ts = append(g.ts, prev)
	}
	for i := uint64(0); i < n && r.err == nil; i++ {
		g.vals = append(g.vals, math.Float64frombits(r.u64()))
	}
	if r.err != nil {
		return r.err
	}
	if len(r.b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", errRecord, len(r.b))
	}
	return nil
}

// reader decodes varints from a byte slice, remembering the first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail() {
	if r.err == nil {
		r.err = fmt.Errorf("%w: truncated", errRecord)
	}
	r.b = nil
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) u64() uint64 {
	if len(r.b) < 8 {
		r.fail()
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)) {
		r.fail()
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}
