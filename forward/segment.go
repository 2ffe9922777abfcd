package forward

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Segment file layout (see the package documentation):
//
//	header  "QFWD", version byte, 3 zero bytes, u64 LE first sequence number
//	records u32 LE body length, u32 LE CRC-32C of body, body
const (
	segMagic      = "QFWD"
	segVersion    = 1
	segHeaderSize = 16
	frameSize     = 8
	segSuffix     = ".seg"

	// maxRecordBytes bounds one record body. A length above it can only come
	// from damage.
	maxRecordBytes = 256 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// segInfo is what the log knows of one segment file.
type segInfo struct {
	num      uint64
	firstSeq uint64 // sequence number of the segment's first sample
	size     int64  // bytes committed (fsynced), header included
}

func segmentPath(dir string, num uint64) string {
	return filepath.Join(dir, fmt.Sprintf("%020d%s", num, segSuffix))
}

func appendSegHeader(dst []byte, firstSeq uint64) []byte {
	dst = append(dst, segMagic...)
	dst = append(dst, segVersion, 0, 0, 0)
	return binary.LittleEndian.AppendUint64(dst, firstSeq)
}

// parseSegHeader returns the first sequence number of a segment header.
func parseSegHeader(b []byte) (uint64, error) {
	if len(b) < segHeaderSize || string(b[:4]) != segMagic {
		return 0, errors.New("no segment header")
	}
	if b[4] != segVersion {
		return 0, fmt.Errorf("segment format version %d, this build reads %d", b[4], segVersion)
	}
	return binary.LittleEndian.Uint64(b[8:16]), nil
}

// listSegments returns the segment numbers in dir, ascending.
func listSegments(dir string) ([]uint64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("cannot list forward queue %s: %w", dir, err)
	}
	var nums []uint64
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), segSuffix)
		if !ok || e.IsDir() {
			continue
		}
		if n, err := strconv.ParseUint(name, 10, 64); err == nil && n > 0 {
			nums = append(nums, n)
		}
	}
	slices.Sort(nums)
	return nums, nil
}

// putFrame fills the first frameSize bytes of rec, which precede the body,
// with the body's length and checksum.
func putFrame(rec []byte) {
	body := rec[frameSize:]
	binary.LittleEndian.PutUint32(rec[0:4], uint32(len(body)))
	binary.LittleEndian.PutUint32(rec[4:8], crc32.Checksum(body, castagnoli))
}

// scanResult is what recovering the newest segment found.
type scanResult struct {
	end     int64  // offset after the last intact record
	nextSeq uint64 // sequence number after the last intact record's samples
	corrupt int    // records skipped for a checksum or decoding mismatch
}

// scanSegment reads a whole segment and finds where its intact records end.
// A record whose checksum fails but whose frame fits is skipped; a frame that
// does not fit (a torn write) ends the scan.
func scanSegment(buf []byte, firstSeq uint64) scanResult {
	res := scanResult{end: segHeaderSize, nextSeq: firstSeq}
	var rec record
	off := int64(segHeaderSize)
	for int64(len(buf))-off >= frameSize {
		n := int64(binary.LittleEndian.Uint32(buf[off:]))
		if n > maxRecordBytes || off+frameSize+n > int64(len(buf)) {
			break
		}
		body := buf[off+frameSize : off+frameSize+n]
		off += frameSize + n
		if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(buf[off-n-4:]) ||
			rec.decode(body) != nil {
			res.corrupt++
			res.end = off
			continue
		}
		res.end = off
		res.nextSeq = max(res.nextSeq, rec.firstSeq+uint64(rec.count))
	}
	return res
}

// segmentReader reads records of one segment at a time through a window
// buffer, never past the bytes the log says are committed.
type segmentReader struct {
	dir    string
	f      *os.File
	num    uint64
	win    []byte // file bytes from winOff
	winOff int64
}

// at returns n bytes of segment num at off, reading from the file when they
// are not in the window. The slice is valid until the next call.
func (r *segmentReader) at(num uint64, off int64, n int, limit int64) ([]byte, error) {
	if r.f == nil || r.num != num {
		r.close()
		f, err := os.Open(segmentPath(r.dir, num))
		if err != nil {
			return nil, fmt.Errorf("cannot open forward segment %d: %w", num, err)
		}
		r.f, r.num, r.win, r.winOff = f, num, r.win[:0], 0
	}
	if off >= r.winOff && off+int64(n) <= r.winOff+int64(len(r.win)) {
		return r.win[off-r.winOff : off-r.winOff+int64(n)], nil
	}
	want := max(int64(n), min(256<<10, limit-off))
	if int64(cap(r.win)) < want {
		r.win = make([]byte, want)
	}
	r.win = r.win[:want]
	got, err := r.f.ReadAt(r.win, off)
	if got < n {
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		r.win, r.winOff = r.win[:0], 0
		return nil, fmt.Errorf("cannot read forward segment %d at %d: %w", num, off, err)
	}
	r.win, r.winOff = r.win[:got], off
	return r.win[:n], nil
}

func (r *segmentReader) close() {
	if r.f != nil {
		r.f.Close()
		r.f = nil
	}
}
