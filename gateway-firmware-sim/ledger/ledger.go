// Package ledger records what the broker acknowledged to a simulated
// gateway, so a test can prove that the platform lost nothing and doubled
// nothing: every acknowledged batch is written with its gateway, sequence
// number and the exact readings it carried, and the package reads the file
// back as the samples (metric, labels, timestamp, value) the platform must
// hold.
//
// One ledger file serves all gateways of a simulator. Writes are buffered and
// become durable on Sync; a ledger cut short by a crash reads back up to its
// last complete record. The format is specified in docs/gwsim.md.
package ledger

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/quantrac/quantrac/gateway-firmware-sim/batch"
	"github.com/quantrac/quantrac/gateway-firmware-sim/wire"
)

// Type says what a ledger entry records.
type Type uint8

// Entry types.
const (
	// Acked is a data batch the broker acknowledged (QoS 1), or wrote to the
	// socket (QoS 0, no acknowledgement exists). Its readings are expected in
	// the platform.
	Acked Type = iota + 1
	// Duplicate is a deliberate republication of a batch already recorded as
	// Acked: the platform must store its readings once.
	Duplicate
	// Malformed is a deliberately broken payload the broker acknowledged: the
	// platform must refuse it and store nothing from it.
	Malformed
)

func (t Type) String() string {
	switch t {
	case Acked:
		return "acked"
	case Duplicate:
		return "duplicate"
	case Malformed:
		return "malformed"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Entry is one ledger record.
type Entry struct {
	Type     Type
	Province string // province slug
	Gateway  string // gateway id
	Format   wire.Format
	QoS      byte
	// AckedAt is the simulator's wall clock (Unix ms) when the
	// acknowledgement arrived.
	AckedAt int64
	// Seq is the batch sequence number; for Malformed, the sequence number
	// of the batch the broken payload was sent after.
	Seq uint64
	// Batch holds the readings of an Acked entry (Batch.Seq == Seq).
	Batch batch.Batch
	// Readings is the reading count of a Duplicate's batch.
	Readings int
	// Variant is the defect of a Malformed payload (see wire.AppendMalformed).
	Variant uint8
}

// File layout (little endian):
//
//	header: "gwsl" | version u8 | 3 zero bytes                 8 bytes
//	record: length u32 | crc32c u32 | type u8 | body[length-1]
//
// The CRC-32C covers the length, the type and the body. Every body starts
// with: uvarint-prefixed province, uvarint-prefixed gateway, format u8,
// qos u8, varint acked-at ms. Then Acked: the batch in batch.Append form;
// Duplicate: uvarint seq, uvarint readings; Malformed: uvarint seq, variant u8.
const (
	magic            = "gwsl"
	version          = 1
	fileHeaderSize   = 8
	recordHeaderSize = 8
	// MaxRecord bounds one record, so a corrupt length cannot make a reader
	// allocate without limit.
	MaxRecord = 64 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrCorrupt is wrapped by read errors for records that are damaged in the
// middle of the file (a torn tail is not an error).
var ErrCorrupt = errors.New("corrupt ledger")

// appendEntry appends the framed record for e to dst. For Acked entries,
// batchBin is the batch in batch.Append form.
func appendEntry(dst []byte, e *Entry, batchBin []byte) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 0, byte(e.Type))
	dst = binary.AppendUvarint(dst, uint64(len(e.Province)))
	dst = append(dst, e.Province...)
	dst = binary.AppendUvarint(dst, uint64(len(e.Gateway)))
	dst = append(dst, e.Gateway...)
	dst = append(dst, byte(e.Format), e.QoS)
	dst = binary.AppendVarint(dst, e.AckedAt)
	switch e.Type {
	case Acked:
		dst = append(dst, batchBin...)
	case Duplicate:
		dst = binary.AppendUvarint(dst, e.Seq)
		dst = binary.AppendUvarint(dst, uint64(e.Readings))
	case Malformed:
		dst = binary.AppendUvarint(dst, e.Seq)
		dst = append(dst, e.Variant)
	}
	binary.LittleEndian.PutUint32(dst[start:], uint32(len(dst)-start-recordHeaderSize))
	crc := crc32.Update(crc32.Checksum(dst[start:start+4], castagnoli), castagnoli, dst[start+recordHeaderSize:])
	binary.LittleEndian.PutUint32(dst[start+4:], crc)
	return dst
}

// decodeBody parses a record body (type byte onwards) into e. e.Batch's
// readings are reused.
func decodeBody(body []byte, e *Entry) error {
	fail := func(what string) error { return fmt.Errorf("cannot decode ledger entry: %w: %s", ErrCorrupt, what) }
	if len(body) == 0 {
		return fail("empty")
	}
	readings := e.Batch.Readings[:0]
	*e = Entry{Batch: batch.Batch{Readings: readings}}
	e.Type = Type(body[0])
	b := body[1:]
	str := func() (string, bool) {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return "", false
		}
		s := string(b[k : k+int(n)])
		b = b[k+int(n):]
		return s, true
	}
	var ok bool
	if e.Province, ok = str(); !ok {
		return fail("province")
	}
	if e.Gateway, ok = str(); !ok {
		return fail("gateway")
	}
	if len(b) < 2 {
		return fail("format")
	}
	e.Format, e.QoS = wire.Format(b[0]), b[1]
	b = b[2:]
	at, k := binary.Varint(b)
	if k <= 0 {
		return fail("acked-at")
	}
	e.AckedAt, b = at, b[k:]
	switch e.Type {
	case Acked:
		tail, err := batch.Decode(b, &e.Batch)
		if err != nil {
			return fmt.Errorf("cannot decode ledger entry: %w: %w", ErrCorrupt, err)
		}
		if len(tail) != 0 {
			return fail("bytes after the batch")
		}
		e.Seq, e.Readings = e.Batch.Seq, len(e.Batch.Readings)
	case Duplicate, Malformed:
		seq, k := binary.Uvarint(b)
		if k <= 0 {
			return fail("seq")
		}
		e.Seq, b = seq, b[k:]
		if e.Type == Malformed {
			if len(b) != 1 {
				return fail("variant")
			}
			e.Variant = b[0]
			return nil
		}
		n, k := binary.Uvarint(b)
		if k <= 0 || k != len(b) {
			return fail("readings")
		}
		e.Readings = int(n)
	default:
		return fail(e.Type.String())
	}
	return nil
}
