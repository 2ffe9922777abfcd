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
// group, then the group's samples in columns. The record body is one kind
// byte, then the group in one of two layouts (docs/storage-format.md):
//
//	recGroupZstd (1), written by WAL format 1 and still read:
//	  a zstd frame of: series, uvarint n, n uvarint refs,
//	  n zigzag varint timestamp deltas, n x 8 bytes float64 bits.
//	recGroupPacked (2), written since WAL format 2:
//	  series, uvarint n, n zigzag varint ref deltas,
//	  n zigzag varint timestamp deltas, n packed values.
//
// Series are: uvarint count, then per series uvarint ref, uvarint label
// count, per label uvarint len, name, uvarint len, value. A packed value is
// a uvarint u: u&7 = e < 7 means the value is the integer zigzag(u>>3)
// divided by 10^e; e = 7 means the 8 bytes of its float64 bits follow.
//
// The packed layout is what a sensor's value costs without a compressor:
// a reading's fields have consecutive refs (a delta of 1, one byte) and
// one timestamp (a delta of 0, one byte), and a value with a few decimals
// takes two or three bytes where its float64 bits took eight that zstd
// could hardly shrink. Writing it costs a tenth of what zstd at its
// fastest cost on the old layout, for about 40% more WAL bytes
// (docs/storage.md, "WAL record layout").
const (
	recGroupZstd   = 1
	recGroupPacked = 2
)

// maxPackedExp is the largest decimal exponent a packed value carries;
// packedRaw marks a value stored as its float64 bits.
const (
	maxPackedExp = 6
	packedRaw    = 7
)

// pow10 holds the exact float64 powers of ten a packed value may carry.
var pow10 = [maxPackedExp + 1]float64{1, 10, 100, 1e3, 1e4, 1e5, 1e6}

// errRecord is wrapped by every decoding error, so replay can tell damage from
// I/O failure.
var errRecord = errors.New("malformed WAL record")

// recordCodec encodes and decodes group records. It is owned by one goroutine:
// the committer for encoding, the replay for decoding. Only decoding an old
// record (recGroupZstd) uses zstd.
type recordCodec struct {
	dec *zstd.Decoder
	raw []byte
}

func newRecordCodec() (*recordCodec, error) {
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(1<<30))
	if err != nil {
		return nil, fmt.Errorf("cannot create zstd decoder: %w", err)
	}
	return &recordCodec{dec: dec}, nil
}

func (c *recordCodec) close() {
	c.dec.Close()
}

// encode appends the record for g to dst.
func (c *recordCodec) encode(dst []byte, g *pending) []byte {
	dst = append(dst, recGroupPacked)
	dst = appendSeriesDefs(dst, g.series)
	dst = binary.AppendUvarint(dst, uint64(len(g.refs)))
	var prevRef SeriesRef
	for _, r := range g.refs {
		dst = binary.AppendVarint(dst, int64(r-prevRef))
		prevRef = r
	}
	var prev int64
	for _, t := range g.ts {
		dst = binary.AppendVarint(dst, t-prev)
		prev = t
	}
	for _, v := range g.vals {
		dst = appendPackedValue(dst, v)
	}
	return dst
}

func appendSeriesDefs(b []byte, series []*memSeries) []byte {
	b = binary.AppendUvarint(b, uint64(len(series)))
	for _, s := range series {
		b = binary.AppendUvarint(b, uint64(s.ref))
		b = binary.AppendUvarint(b, uint64(s.lset.Len()))
		s.lset.Range(func(l labels.Label) {
			b = binary.AppendUvarint(b, uint64(len(l.Name)))
			b = append(b, l.Name...)
			b = binary.AppendUvarint(b, uint64(len(l.Value)))
			b = append(b, l.Value...)
		})
	}
	return b
}

// appendPackedValue appends v as a decimal with the fewest digits after the
// point (up to maxPackedExp) that reads back as exactly v, or as its bits.
func appendPackedValue(dst []byte, v float64) []byte {
	// Past 2^50 the mantissa no longer fits the varint with its exponent
	// and sign; NaN, ±Inf and -0 fail the checks below.
	if v > -(1<<50) && v < 1<<50 {
		for e, p := range pow10 {
			m := math.Round(v * p)
			if m/p == v && m > -(1<<50) && m < 1<<50 && (m != 0 || !math.Signbit(v)) {
				z := uint64(int64(m)<<1) ^ uint64(int64(m)>>63)
				return binary.AppendUvarint(dst, z<<3|uint64(e))
			}
		}
	}
	dst = binary.AppendUvarint(dst, packedRaw)
	return binary.LittleEndian.AppendUint64(dst, math.Float64bits(v))
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
	if len(rec) == 0 {
		return fmt.Errorf("%w: empty record", errRecord)
	}
	body := rec[1:]
	switch rec[0] {
	case recGroupPacked:
	case recGroupZstd:
		raw, err := c.dec.DecodeAll(body, c.raw[:0])
		if err != nil {
			return fmt.Errorf("%w: %w", errRecord, err)
		}
		c.raw, body = raw, raw
	default:
		return fmt.Errorf("%w: unknown record kind %d", errRecord, rec[0])
	}
	r := reader{b: body}
	if err := r.seriesDefs(g); err != nil {
		return err
	}
	n := r.uvarint()
	if r.err == nil && n > uint64(len(r.b)) { // every sample needs at least one byte
		return fmt.Errorf("%w: %d samples in %d bytes", errRecord, n, len(r.b))
	}
	g.refs, g.ts, g.vals = g.refs[:0], g.ts[:0], g.vals[:0]
	packed := rec[0] == recGroupPacked
	var prevRef int64
	for i := uint64(0); i < n && r.err == nil; i++ {
		if packed {
			prevRef += r.varint()
			g.refs = append(g.refs, SeriesRef(prevRef))
		} else {
			g.refs = append(g.refs, SeriesRef(r.uvarint()))
		}
	}
	var prev int64
	for i := uint64(0); i < n && r.err == nil; i++ {
		prev += r.varint()
		g.ts = append(g.ts, prev)
	}
	for i := uint64(0); i < n && r.err == nil; i++ {
		if packed {
			g.vals = append(g.vals, r.packedValue())
		} else {
			g.vals = append(g.vals, math.Float64frombits(r.u64()))
		}
	}
	if r.err != nil {
		return r.err
	}
	if len(r.b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", errRecord, len(r.b))
	}
	return nil
}

// seriesDefs reads the series defined by a group into g.series.
func (r *reader) seriesDefs(g *decodedGroup) error {
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
	return r.err
}

// packedValue reads one value written by appendPackedValue.
func (r *reader) packedValue() float64 {
	u := r.uvarint()
	e := u & 7
	if e == packedRaw {
		if u != packedRaw {
			r.failWith("raw value with a mantissa")
			return 0
		}
		return math.Float64frombits(r.u64())
	}
	z := u >> 3
	m := int64(z>>1) ^ -int64(z&1)
	return float64(m) / pow10[e]
}

// reader decodes varints from a byte slice, remembering the first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail() { r.failWith("truncated") }

func (r *reader) failWith(why string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", errRecord, why)
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
