package ledger

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
)

// reader walks the records of a ledger.
type reader struct {
	r    *bufio.Reader
	off  int64 // offset just past the last complete record
	body []byte
	torn int64 // bytes of an incomplete record at the end
}

func newReader(r io.Reader) *reader { return &reader{r: bufio.NewReaderSize(r, 1<<16)} }

// next reads one entry into e. It returns false at the end of the file or
// at a torn last record; a damaged record followed by more data is an error.
func (r *reader) next(e *Entry) (bool, error) {
	if r.off == 0 {
		var hdr [fileHeaderSize]byte
		if _, err := io.ReadFull(r.r, hdr[:]); err != nil {
			return false, fmt.Errorf("cannot read ledger header: %w: %w", ErrCorrupt, err)
		}
		if string(hdr[:4]) != magic || hdr[4] != version {
			return false, fmt.Errorf("cannot read ledger: %w: not a version %d ledger", ErrCorrupt, version)
		}
		r.off = fileHeaderSize
	}
	var hdr [recordHeaderSize]byte
	n, err := io.ReadFull(r.r, hdr[:])
	if errors.Is(err, io.EOF) {
		return false, nil
	}
	if err != nil {
		return r.tornOrFail(int64(n), err)
	}
	size := binary.LittleEndian.Uint32(hdr[:])
	if size == 0 || size > MaxRecord {
		return r.tornOrFail(recordHeaderSize, fmt.Errorf("record length %d", size))
	}
	if cap(r.body) < int(size) {
		r.body = make([]byte, size)
	}
	r.body = r.body[:size]
	if n, err := io.ReadFull(r.r, r.body); err != nil {
		return r.tornOrFail(recordHeaderSize+int64(n), err)
	}
	crc := crc32.Update(crc32.Checksum(hdr[:4], castagnoli), castagnoli, r.body)
	if crc != binary.LittleEndian.Uint32(hdr[4:]) {
		return r.tornOrFail(recordHeaderSize+int64(size), errors.New("checksum mismatch"))
	}
	if err := decodeBody(r.body, e); err != nil {
		return false, fmt.Errorf("at offset %d: %w", r.off, err)
	}
	r.off += recordHeaderSize + int64(size)
	return true, nil
}

// tornOrFail decides whether a bad record of consumed bytes is the torn end
// of the file (nothing follows it) or damage in the middle.
func (r *reader) tornOrFail(consumed int64, cause error) (bool, error) {
	rest, _ := io.Copy(io.Discard, r.r)
	if rest == 0 {
		r.torn = consumed
		return false, nil
	}
	return false, fmt.Errorf("cannot read ledger at offset %d: %w: %w", r.off, ErrCorrupt, cause)
}

// ReadStats describes a read of a whole ledger.
type ReadStats struct {
	Entries int64
	// TornBytes is the size of an incomplete record at the end, left by a
	// crash during a write; it is ignored.
	TornBytes int64
}

// Read calls fn for every entry of the ledger at path, in file order. The
// Entry (and its Batch.Readings) is reused between calls: fn must copy what
// it keeps. An error from fn stops the read and is returned.
func Read(path string, fn func(*Entry) error) (ReadStats, error) {
	f, err := os.Open(path)
	if err != nil {
		return ReadStats{}, fmt.Errorf("cannot open ledger: %w", err)
	}
	defer f.Close()
	r := newReader(f)
	var st ReadStats
	var e Entry
	for {
		ok, err := r.next(&e)
		if err != nil {
			return st, err
		}
		if !ok {
			st.TornBytes = r.torn
			return st, nil
		}
		st.Entries++
		if err := fn(&e); err != nil {
			return st, err
		}
	}
}
