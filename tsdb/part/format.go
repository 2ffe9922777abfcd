// Package part reads and writes parts: the store's immutable, series-major
// files of samples. A part holds the samples of many series over one time
// partition; each series' samples are cut into blocks of at most
// encoding.MaxBlockSamples, and each block is two columns, timestamps and
// values, encoded by tsdb/encoding. A two-level block index (a small
// metaindex kept in memory, compressed index blocks read on demand) lets a
// reader find the blocks of one series, and among them those of a time
// range, without reading the others.
//
// Series of one device usually share every timestamp. The writer stores a
// timestamp column once when it is byte-for-byte the same as one written a
// little earlier in the part, and points both blocks at it: this is how a
// device's fields pay for their common timestamps once.
//
// A part is written once under a temporary name, fsynced, renamed into place
// and its directory fsynced; after that it never changes until it is
// deleted. docs/storage-format.md specifies every byte.
package part

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/quantrac/quantrac/tsdb/encoding"
)

// FormatVersion is the part format this package writes and reads.
const FormatVersion = 1

const (
	magic      = "QPRT"
	headerSize = 8
	footerSize = 96

	// indexBlockTarget is the raw size after which the writer closes an
	// index block. Small enough that looking up one series reads little,
	// large enough that the metaindex stays a few entries per thousand
	// series.
	indexBlockTarget = 32 << 10

	// maxIndexBlock bounds a decompressed index block; a larger one can only
	// come from damage.
	maxIndexBlock   = 64 << 20
	maxBlockSamples = encoding.MaxBlockSamples

	// maxColumn bounds one encoded column read from disk.
	maxColumn = 1 << 20
)

// Extension is the file name suffix of a finished part; TempSuffix is added
// while it is being written.
const (
	Extension  = ".part"
	TempSuffix = ".tmp"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func checksum(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// ErrCorrupt is wrapped by every error about a part whose bytes are not what
// a writer of this format produces. The store reports such a part and leaves
// it alone rather than serving wrong samples.
var ErrCorrupt = errors.New("corrupt part")

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
}

// Info describes a part; the footer holds it.
type Info struct {
	MinSeq, MaxSeq uint64 // flush sequence numbers the part's samples came from
	Series         uint64
	Blocks         uint64
	Samples        uint64
	MinT, MaxT     int64  // Unix ms of the oldest and newest sample
	TSBytes        uint64 // bytes of timestamp columns, each shared column once
	ValBytes       uint64 // bytes of value columns
	Size           int64  // file size, set by the reader and by Finish
}

// footer layout, little endian:
//
//	 0 u64 metaindex offset     8 u32 metaindex length   12 u32 metaindex CRC
//	16 u64 min seq             24 u64 max seq
//	32 u64 series              40 u64 blocks             48 u64 samples
//	56 i64 min t               64 i64 max t
//	72 u64 timestamp bytes     80 u64 value bytes
//	88 u32 CRC of bytes 0..87  92 "QPRT"
type footer struct {
	metaOff uint64
	metaLen uint32
	metaCRC uint32
	info    Info
}

func (f *footer) append(dst []byte) []byte {
	le := binary.LittleEndian
	start := len(dst)
	dst = le.AppendUint64(dst, f.metaOff)
	dst = le.AppendUint32(dst, f.metaLen)
	dst = le.AppendUint32(dst, f.metaCRC)
	for _, v := range []uint64{f.info.MinSeq, f.info.MaxSeq, f.info.Series, f.info.Blocks,
		f.info.Samples, uint64(f.info.MinT), uint64(f.info.MaxT), f.info.TSBytes, f.info.ValBytes} {
		dst = le.AppendUint64(dst, v)
	}
	dst = le.AppendUint32(dst, checksum(dst[start:]))
	return append(dst, magic...)
}

func parseFooter(b []byte) (footer, error) {
	le := binary.LittleEndian
	if len(b) != footerSize || string(b[92:]) != magic {
		return footer{}, corrupt("no footer")
	}
	if checksum(b[:88]) != le.Uint32(b[88:92]) {
		return footer{}, corrupt("footer checksum mismatch")
	}
	u := func(off int) uint64 { return le.Uint64(b[off:]) }
	return footer{
		metaOff: u(0),
		metaLen: le.Uint32(b[8:]),
		metaCRC: le.Uint32(b[12:]),
		info: Info{
			MinSeq: u(16), MaxSeq: u(24),
			Series: u(32), Blocks: u(40), Samples: u(48),
			MinT: int64(u(56)), MaxT: int64(u(64)),
			TSBytes: u(72), ValBytes: u(80),
		},
	}, nil
}

// BlockMeta locates one block of one series and says what it covers.
type BlockMeta struct {
	MinT, MaxT int64 // first and last timestamp in the block
	Count      int   // samples, 1..encoding.MaxBlockSamples
	TSOff      int64 // file offset of the timestamp column
	ValOff     int64 // file offset of the value column
	TSLen      int   // length of the timestamp column
	ValLen     int   // length of the value column
	TSCRC      uint32
	ValCRC     uint32
}

// metaEntry is one metaindex row: the index block holding series
// [firstRef, lastRef] and the time range of all their blocks.
type metaEntry struct {
	firstRef, lastRef uint64
	minT, maxT        int64
	off               int64
	size              int
	crc               uint32
}
