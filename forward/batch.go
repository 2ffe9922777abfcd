package forward

import (
	"encoding/binary"
	"math"
	"math/bits"

	"github.com/golang/snappy"
)

// batch gathers the samples of one remote-write request for one shard. The
// series' labels are kept already encoded as protobuf Label fields, so that
// building the request is copying bytes. A batch is owned by its shard:
// filled by the destination's reader, then sent by the shard's sender; its
// buffers are reused from one request to the next.
type batch struct {
	first   Position // the record holding the first sample
	firstMs int64    // when that record was appended

	labels  []byte // every series' encoded labels, back to back
	series  []batchSeries
	index   map[uint64]int32 // label hash -> series
	samples []batchSample

	order []int32 // sample indexes grouped by series, for encoding
	raw   []byte  // encoded WriteRequest
	body  []byte  // snappy-compressed raw
}

type batchSeries struct {
	off, n int32 // labels[off : off+n]
	count  int32 // samples
	start  int32 // first slot in order, while encoding
}

type batchSample struct {
	series int32
	seq    uint64 // the sample's sequence number in the log
	ts     int64
	val    float64
}

func newBatch() *batch { return &batch{index: make(map[uint64]int32)} }

func (b *batch) len() int { return len(b.samples) }

func (b *batch) reset() {
	b.labels, b.series, b.samples = b.labels[:0], b.series[:0], b.samples[:0]
	clear(b.index)
}

// add appends one sample of the series whose encoded labels are lbls and
// whose hash is h; seq is its sequence number in the log. at and appendMs
// describe the record it came from. The batch copies lbls.
func (b *batch) add(at Position, appendMs int64, lbls []byte, h uint64, seq uint64, ts int64, v float64) {
	if len(b.samples) == 0 {
		b.first, b.firstMs = at, appendMs
	}
	i, ok := b.index[h]
	if !ok || string(b.seriesLabels(i)) != string(lbls) {
		i = int32(len(b.series))
		b.series = append(b.series, batchSeries{off: int32(len(b.labels)), n: int32(len(lbls))})
		b.labels = append(b.labels, lbls...)
		if !ok { // on a hash collision the second series is simply not indexed
			b.index[h] = i
		}
	}
	b.series[i].count++
	b.samples = append(b.samples, batchSample{series: i, seq: seq, ts: ts, val: v})
}

// countBefore returns how many of the batch's samples have a sequence
// number below seq.
func (b *batch) countBefore(seq uint64) int64 {
	var n int64
	for _, s := range b.samples {
		if s.seq < seq {
			n++
		}
	}
	return n
}

func (b *batch) seriesLabels(i int32) []byte {
	s := b.series[i]
	return b.labels[s.off : s.off+s.n]
}

// encode builds the snappy-compressed WriteRequest of the batch: one
// TimeSeries per series, its samples in the order they were added. The
// result is valid until the batch is reset or encoded again.
func (b *batch) encode() []byte {
	// Group the samples by series, keeping their order (a counting sort).
	var next int32
	for i := range b.series {
		b.series[i].start = next
		next += b.series[i].count
	}
	b.order = append(b.order[:0], make([]int32, len(b.samples))...)
	for i, s := range b.samples {
		b.order[b.series[s.series].start] = int32(i)
		b.series[s.series].start++
	}

	raw := b.raw[:0]
	var at int32
	for i := range b.series {
		s := &b.series[i]
		idx := b.order[at : at+s.count]
		at += s.count
		size := int(s.n)
		for _, j := range idx {
			size += 2 + sampleSize(b.samples[j].ts)
		}
		raw = append(raw, 0x0a) // WriteRequest.timeseries, field 1
		raw = binary.AppendUvarint(raw, uint64(size))
		raw = append(raw, b.labels[s.off:s.off+s.n]...)
		for _, j := range idx {
			raw = appendSample(raw, b.samples[j].ts, b.samples[j].val)
		}
	}
	b.raw = raw
	b.body = snappy.Encode(b.body[:cap(b.body)], raw)
	return b.body
}

// sampleSize is the size of an encoded Sample message.
func sampleSize(ts int64) int { return 9 + 1 + uvarintLen(uint64(ts)) }

// appendSample appends TimeSeries.samples (field 2) holding one Sample.
func appendSample(dst []byte, ts int64, v float64) []byte {
	dst = append(dst, 0x12, byte(sampleSize(ts)))
	dst = append(dst, 0x09) // Sample.value, field 1, fixed64
	dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(v))
	dst = append(dst, 0x10) // Sample.timestamp, field 2, varint
	return binary.AppendUvarint(dst, uint64(ts))
}

// appendLabel appends TimeSeries.labels (field 1) holding one Label.
func appendLabel(dst, name, value []byte) []byte {
	n := 1 + uvarintLen(uint64(len(name))) + len(name) + 1 + uvarintLen(uint64(len(value))) + len(value)
	dst = append(dst, 0x0a)
	dst = binary.AppendUvarint(dst, uint64(n))
	dst = append(dst, 0x0a) // Label.name
	dst = binary.AppendUvarint(dst, uint64(len(name)))
	dst = append(dst, name...)
	dst = append(dst, 0x12) // Label.value
	dst = binary.AppendUvarint(dst, uint64(len(value)))
	return append(dst, value...)
}

func uvarintLen(v uint64) int { return (bits.Len64(v|1) + 6) / 7 }
