package queue

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"

	"github.com/quantrac/quantrac/internal/fsutil"
)

// Segment file layout (little endian):
//
//	header: "gwsq" | version u8 | 3 zero bytes | base index u64       16 bytes
//	record: length u32 | weight u32 | crc32c u32 | payload[length]    12+length bytes
//
// The CRC-32C (Castagnoli) covers length, weight and payload. The record
// numbered base+i is the i-th record of the file.
const (
	segmentMagic      = "gwsq"
	segmentVersion    = 1
	segmentHeaderSize = 16
	recordHeaderSize  = 12
	segmentSuffix     = ".seg"
)

// segment is the in-memory index of one segment file.
type segment struct {
	base    uint64
	offs    []uint32 // file offset of each record's header
	weights []uint32
	size    int64 // end of the last valid record
}

func (s *segment) end() uint64 { return s.base + uint64(len(s.offs)) }

func (s *segment) recordSize(i int) int64 {
	if i+1 < len(s.offs) {
		return int64(s.offs[i+1] - s.offs[i])
	}
	return s.size - int64(s.offs[i])
}

func (q *Queue) segmentPath(base uint64) string {
	return filepath.Join(q.opts.Dir, fmt.Sprintf("%020d%s", base, segmentSuffix))
}

// scanSegment indexes the segment starting at base, verifying every record.
// In the last segment a bad record and everything after it is treated as a
// torn write and cut off; in an older segment the records after a bad one
// cannot be framed and are counted as corrupt. A segment with a bad header
// is removed. It returns nil for a segment with no records left.
func (q *Queue) scanSegment(base uint64, last bool) (*segment, error) {
	path := q.segmentPath(base)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read queue segment: %w", err)
	}
	if len(data) < segmentHeaderSize || string(data[:4]) != segmentMagic ||
		data[4] != segmentVersion || binary.LittleEndian.Uint64(data[8:]) != base {
		q.opts.Logger.Warn("queue segment has a bad header; removing it", "path", path)
		q.stats.Corrupt++
		return nil, q.removeFile(path)
	}
	seg := &segment{base: base, size: segmentHeaderSize}
	rest := data[segmentHeaderSize:]
	for len(rest) > 0 {
		n, weight, ok := parseRecord(rest)
		if !ok {
			break
		}
		seg.offs = append(seg.offs, uint32(seg.size))
		seg.weights = append(seg.weights, weight)
		seg.size += int64(n)
		rest = rest[n:]
	}
	if len(rest) > 0 {
		q.stats.Corrupt++
		q.opts.Logger.Warn("queue segment has a bad record; keeping the records before it",
			"path", path, "offset", seg.size, "lost_bytes", len(rest))
		if last {
			if err := os.Truncate(path, seg.size); err != nil {
				return nil, fmt.Errorf("cannot cut torn tail of queue segment: %w", err)
			}
		}
	}
	if len(seg.offs) == 0 && !last {
		return nil, q.removeFile(path)
	}
	return seg, nil
}

// parseRecord checks the record at the start of b and returns its total size
// and weight.
func parseRecord(b []byte) (size int, weight uint32, ok bool) {
	if len(b) < recordHeaderSize {
		return 0, 0, false
	}
	n := binary.LittleEndian.Uint32(b)
	if uint64(n) > uint64(len(b)-recordHeaderSize) {
		return 0, 0, false
	}
	size = recordHeaderSize + int(n)
	crc := crc32.Update(crc32.Checksum(b[:8], castagnoli), castagnoli, b[recordHeaderSize:size])
	if crc != binary.LittleEndian.Uint32(b[8:]) {
		return 0, 0, false
	}
	return size, binary.LittleEndian.Uint32(b[4:]), true
}

// appendRecord appends the framed record to dst.
func appendRecord(dst []byte, weight uint32, payload []byte) []byte {
	start := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(payload)))
	dst = binary.LittleEndian.AppendUint32(dst, weight)
	crc := crc32.Update(crc32.Checksum(dst[start:start+8], castagnoli), castagnoli, payload)
	dst = binary.LittleEndian.AppendUint32(dst, crc)
	return append(dst, payload...)
}

// createSegment starts a new segment whose first record will be q.next and
// makes it the active one. The previous active segment is synced first, so
// records never become durable out of order.
func (q *Queue) createSegment() error {
	if err := q.Sync(); err != nil {
		return err
	}
	if q.active != nil {
		if err := q.active.Close(); err != nil {
			return fmt.Errorf("cannot close queue segment: %w", err)
		}
		q.active = nil
	}
	path := q.segmentPath(q.next)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("cannot create queue segment: %w", err)
	}
	var hdr [segmentHeaderSize]byte
	copy(hdr[:], segmentMagic)
	hdr[4] = segmentVersion
	binary.LittleEndian.PutUint64(hdr[8:], q.next)
	if _, err := f.Write(hdr[:]); err != nil {
		f.Close()
		return fmt.Errorf("cannot write queue segment header: %w", err)
	}
	if !q.opts.NoSync {
		err = errors.Join(f.Sync(), fsutil.SyncDir(q.opts.Dir))
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("cannot sync new queue segment: %w", err)
	}
	q.active = f
	q.segs = append(q.segs, &segment{base: q.next, size: segmentHeaderSize})
	return nil
}

// openActive opens the last segment for appending after a restart.
func (q *Queue) openActive() error {
	s := q.segs[len(q.segs)-1]
	f, err := os.OpenFile(q.segmentPath(s.base), os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("cannot open queue segment: %w", err)
	}
	q.active = f
	return nil
}

// readRecord reads record i of seg into dst (grown as needed) and verifies
// it. It returns the payload, aliasing dst.
func (q *Queue) readRecord(seg *segment, i int, dst []byte) ([]byte, bool, error) {
	f, err := q.fileFor(seg)
	if err != nil {
		return nil, false, err
	}
	size := seg.recordSize(i)
	if int64(cap(dst)) < size {
		dst = make([]byte, size)
	}
	dst = dst[:size]
	if _, err := f.ReadAt(dst, int64(seg.offs[i])); err != nil && !errors.Is(err, io.EOF) {
		return nil, false, fmt.Errorf("cannot read queue record: %w", err)
	}
	n, _, ok := parseRecord(dst)
	if !ok || int64(n) != size {
		return nil, false, nil
	}
	return dst[recordHeaderSize:], true, nil
}

// fileFor returns an open file for reading seg: the active file, or one
// read-only file kept open while the consumer works through a segment.
func (q *Queue) fileFor(seg *segment) (*os.File, error) {
	if q.active != nil && seg == q.segs[len(q.segs)-1] {
		return q.active, nil
	}
	if q.readFile != nil && q.readFileSeg == seg.base {
		return q.readFile, nil
	}
	if q.readFile != nil {
		q.readFile.Close()
		q.readFile = nil
	}
	f, err := os.Open(q.segmentPath(seg.base))
	if err != nil {
		return nil, fmt.Errorf("cannot open queue segment: %w", err)
	}
	q.readFile, q.readFileSeg = f, seg.base
	return f, nil
}

func (q *Queue) removeFile(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("cannot remove queue segment: %w", err)
	}
	return nil
}
