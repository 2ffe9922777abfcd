// Package batch defines the unit a simulated gateway publishes, queues and
// records: a sequence number and the readings it carries, and the compact
// binary form in which batches are kept on disk (the store-and-forward queue
// and the ledger). The binary form is exact: decoding gives back the same
// readings, value for value, in the same order.
package batch

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/quantrac/quantrac/gateway-firmware-sim/sensor"
)

// Batch is one message's worth of readings from one gateway.
type Batch struct {
	// Seq is the gateway's batch counter; it never repeats for one gateway.
	Seq uint64
	// Readings are in the order the gateway sampled them.
	Readings []sensor.Reading
}

// Samples returns the number of field values in b: one per field of each
// reading, which is what a store holds as samples.
func (b *Batch) Samples() int {
	n := 0
	for i := range b.Readings {
		n += len(b.Readings[i].Kind.Fields())
	}
	return n
}

// Version is the first byte of every encoded batch.
const Version = 1

// MaxReadings bounds the readings of one batch, so that a corrupt count
// cannot make Decode allocate without limit.
const MaxReadings = 1 << 20

// ErrCorrupt is wrapped by every Decode error: the bytes are not a batch.
var ErrCorrupt = errors.New("corrupt batch")

// Append appends the binary form of b to dst and returns the extended slice.
//
// Layout: the Version byte; uvarint Seq; uvarint reading count; then per
// reading: the kind byte, uvarint device number, the timestamp as a zigzag
// varint delta from the previous reading's (the first from zero), and one
// zigzag varint mantissa per field of the kind. Readings of one gateway are
// close in time, so most deltas take one to three bytes.
func Append(dst []byte, b *Batch) []byte {
	dst = append(dst, Version)
	dst = binary.AppendUvarint(dst, b.Seq)
	dst = binary.AppendUvarint(dst, uint64(len(b.Readings)))
	prev := int64(0)
	for i := range b.Readings {
		r := &b.Readings[i]
		dst = append(dst, byte(r.Kind))
		dst = binary.AppendUvarint(dst, uint64(r.Device))
		dst = binary.AppendVarint(dst, r.TS-prev)
		prev = r.TS
		for f := range r.Kind.Fields() {
			dst = binary.AppendVarint(dst, r.Values[f])
		}
	}
	return dst
}

// Decode reads one batch from src into b and returns the unread tail. It
// reuses the capacity of b.Readings; b does not alias src. On error b holds
// an unspecified prefix and the error wraps ErrCorrupt.
func Decode(src []byte, b *Batch) ([]byte, error) {
	if len(src) == 0 || src[0] != Version {
		return src, fmt.Errorf("cannot decode batch: %w: missing version %d", ErrCorrupt, Version)
	}
	d := decoder{buf: src[1:]}
	b.Seq = d.uvarint()
	n := d.uvarint()
	// Every reading takes at least four bytes: kind, device, ts, one field.
	if d.err != nil || n > MaxReadings || n > uint64(len(d.buf))/4 {
		return src, fmt.Errorf("cannot decode batch: %w: bad reading count %d", ErrCorrupt, n)
	}
	if uint64(cap(b.Readings)) < n {
		b.Readings = make([]sensor.Reading, n)
	}
	b.Readings = b.Readings[:n]
	prev := int64(0)
	for i := range b.Readings {
		r := &b.Readings[i]
		if len(d.buf) == 0 {
			return src, fmt.Errorf("cannot decode batch: %w: truncated at reading %d", ErrCorrupt, i)
		}
		r.Kind = sensor.Kind(d.buf[0])
		d.buf = d.buf[1:]
		if !r.Kind.Valid() {
			return src, fmt.Errorf("cannot decode batch: %w: reading %d has kind %d", ErrCorrupt, i, r.Kind)
		}
		dev := d.uvarint()
		if dev < 1 || dev > sensor.MaxDeviceNumber {
			return src, fmt.Errorf("cannot decode batch: %w: reading %d has device %d", ErrCorrupt, i, dev)
		}
		r.Device = uint16(dev)
		r.TS = prev + d.varint()
		prev = r.TS
		r.Values = [sensor.MaxFields]int64{}
		for f := range r.Kind.Fields() {
			r.Values[f] = d.varint()
		}
		if d.err != nil {
			return src, fmt.Errorf("cannot decode batch: reading %d: %w", i, d.err)
		}
	}
	return d.buf, nil
}

// decoder reads varints and remembers the first failure, so the reading
// loop checks once per reading.
type decoder struct {
	buf []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.buf)
	if n <= 0 {
		if d.err == nil {
			d.err = fmt.Errorf("%w: bad varint", ErrCorrupt)
		}
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.buf)
	if n <= 0 {
		if d.err == nil {
			d.err = fmt.Errorf("%w: bad varint", ErrCorrupt)
		}
		return 0
	}
	d.buf = d.buf[n:]
	return v
}
