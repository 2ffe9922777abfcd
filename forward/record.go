package forward

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/prometheus/prometheus/model/labels"
)

// recordVersion is the first byte of every record body.
const recordVersion = 1

// maxRecordLabels bounds the labels of one sample in a record. The pipeline
// allows 16 by default; a count above this can only come from damage.
const maxRecordLabels = 256

// recordEncoder turns one commit group into a record body. Label strings
// repeat heavily within a group (metric names, provinces, gateways), so each
// distinct string is written once in a symbol table and samples refer to it
// by number. An encoder is used by the committer goroutine only.
type recordEncoder struct {
	syms    map[string]uint32
	symList []string
	refs    []uint32 // per sample: label count, then name and value refs
}

func newRecordEncoder() *recordEncoder {
	return &recordEncoder{syms: make(map[string]uint32)}
}

func (e *recordEncoder) intern(s string) uint32 {
	if r, ok := e.syms[s]; ok {
		return r
	}
	r := uint32(len(e.symList))
	e.syms[s] = r
	e.symList = append(e.symList, s)
	return r
}

// encode appends the record body of a group to dst and returns the extended
// slice. firstSeq is the log sequence number of the group's first sample;
// appendMs is when the group was committed. The encoder keeps nothing of
// lsets after encode returns.
func (e *recordEncoder) encode(dst []byte, firstSeq uint64, appendMs int64,
	lsets []labels.Labels, ts []int64, vals []float64) []byte {
	clear(e.syms)
	clear(e.symList) // drop references to the group's label strings
	e.symList, e.refs = e.symList[:0], e.refs[:0]
	for i := range lsets {
		at := len(e.refs)
		e.refs = append(e.refs, 0)
		lsets[i].Range(func(l labels.Label) {
			e.refs = append(e.refs, e.intern(l.Name), e.intern(l.Value))
		})
		e.refs[at] = uint32(len(e.refs)-at-1) / 2
	}

	dst = append(dst, recordVersion)
	dst = binary.AppendUvarint(dst, firstSeq)
	dst = binary.AppendVarint(dst, appendMs)
	dst = binary.AppendUvarint(dst, uint64(len(e.symList)))
	for _, s := range e.symList {
		dst = binary.AppendUvarint(dst, uint64(len(s)))
		dst = append(dst, s...)
	}
	dst = binary.AppendUvarint(dst, uint64(len(ts)))
	var prev int64
	r := e.refs
	for i := range ts {
		n := int(r[0])
		dst = binary.AppendUvarint(dst, uint64(n))
		for _, ref := range r[1 : 1+2*n] {
			dst = binary.AppendUvarint(dst, uint64(ref))
		}
		r = r[1+2*n:]
		dst = binary.AppendVarint(dst, ts[i]-prev)
		prev = ts[i]
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(vals[i]))
	}
	return dst
}

// errRecord is wrapped by every record decoding error: the record is damaged
// or was written by an incompatible build, and is skipped.
var errRecord = errors.New("malformed forward record")

// record is a decoded record header with an iterator over its samples. Its
// slices point into the body it was decoded from, which must stay unchanged
// while the record is in use; a record is reused across bodies.
type record struct {
	firstSeq uint64
	appendMs int64
	count    int // samples
	symbols  [][]byte

	rest   []byte // samples not yet read
	left   int    // samples not yet read
	prevTs int64
}

// sample is one decoded sample; labels holds name and value symbol numbers
// in pairs, in the order they were written (sorted by name).
type sample struct {
	labels []uint32
	ts     int64
	val    float64
}

// decode reads the header and symbol table of body. It returns an error
// wrapping errRecord when body is not a well-formed record.
func (r *record) decode(body []byte) error {
	if len(body) == 0 || body[0] != recordVersion {
		return fmt.Errorf("%w: unknown version", errRecord)
	}
	b := body[1:]
	var ok bool
	if r.firstSeq, b, ok = uvarint(b); !ok {
		return fmt.Errorf("%w: sequence number", errRecord)
	}
	if r.appendMs, b, ok = varint(b); !ok {
		return fmt.Errorf("%w: append time", errRecord)
	}
	nsym, b, ok := uvarint(b)
	if !ok || nsym > uint64(len(b)) {
		return fmt.Errorf("%w: symbol count", errRecord)
	}
	r.symbols = r.symbols[:0]
	for range nsym {
		var n uint64
		if n, b, ok = uvarint(b); !ok || n > uint64(len(b)) {
			return fmt.Errorf("%w: symbol %d", errRecord, len(r.symbols))
		}
		r.symbols = append(r.symbols, b[:n:n])
		b = b[n:]
	}
	count, b, ok := uvarint(b)
	// A sample takes at least 10 bytes: a label count, a timestamp and a value.
	if !ok || count > uint64(len(b))/10 {
		return fmt.Errorf("%w: sample count", errRecord)
	}
	r.count, r.left, r.rest, r.prevTs = int(count), int(count), b, 0
	return nil
}

// next decodes the next sample into s, reusing s.labels. It returns false
// when the record has no more samples, and an error wrapping errRecord when
// the samples section is damaged.
func (r *record) next(s *sample) (bool, error) {
	if r.left == 0 {
		if len(r.rest) != 0 {
			return false, fmt.Errorf("%w: %d bytes after the last sample", errRecord, len(r.rest))
		}
		return false, nil
	}
	b := r.rest
	n, b, ok := uvarint(b)
	if !ok || n > maxRecordLabels {
		return false, fmt.Errorf("%w: label count", errRecord)
	}
	s.labels = s.labels[:0]
	nsym := uint64(len(r.symbols))
	for range 2 * n {
		var ref uint64
		if ref, b, ok = uvarint(b); !ok || ref >= nsym {
			return false, fmt.Errorf("%w: symbol reference", errRecord)
		}
		s.labels = append(s.labels, uint32(ref))
	}
	d, b, ok := varint(b)
	if !ok || len(b) < 8 {
		return false, fmt.Errorf("%w: timestamp or value", errRecord)
	}
	r.prevTs += d
	s.ts = r.prevTs
	s.val = math.Float64frombits(binary.LittleEndian.Uint64(b))
	r.rest = b[8:]
	r.left--
	return true, nil
}

func uvarint(b []byte) (uint64, []byte, bool) {
	v, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, b, false
	}
	return v, b[n:], true
}

func varint(b []byte) (int64, []byte, bool) {
	v, n := binary.Varint(b)
	if n <= 0 {
		return 0, b, false
	}
	return v, b[n:], true
}
