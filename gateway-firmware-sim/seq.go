package gwsim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"time"
)

// seqAlloc hands out a gateway's batch sequence numbers so that they never
// repeat, across restarts and crashes, without a disk write per batch: it
// reserves blocks of numbers by writing the block's end to a small file
// before using any number in it. After a crash the rest of the block is
// skipped (a gap, never a repeat); a clean close records the exact next
// number, so a clean restart continues without a gap.
//
// The first block is seqBlock numbers; a block used up in less than
// seqRefill doubles the next, up to maxSeqBlock. So a gateway replaces the
// file about every seqRefill at most, however fast it cuts batches (an
// unpaced gateway publishing one reading per message cuts thousands a
// second, and a file replacement with its two fsyncs per 1 024 of them was
// a large part of the load generator's work); a crash then skips more.
//
// File layout: next (u64 LE) | crc32c of those 8 bytes (u32 LE). It is
// replaced atomically (temporary file, fsync, rename, directory fsync).
type seqAlloc struct {
	path     string
	next     uint64
	limit    uint64 // next may reach limit before a new block is reserved
	block    uint64 // size of the last block reserved; 0 before the first
	reserved time.Time
	now      func() time.Time
}

const (
	seqBlock    = 1024
	maxSeqBlock = 1 << 20
	seqRefill   = 10 * time.Second
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func openSeq(path string) (*seqAlloc, error) {
	s := &seqAlloc{path: path, next: 1, now: time.Now}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("cannot read sequence file: %w", err)
	case len(b) != 12 || crc32.Checksum(b[:8], castagnoli) != binary.LittleEndian.Uint32(b[8:]):
		return nil, fmt.Errorf("cannot read sequence file %s: corrupt", path)
	default:
		s.next = binary.LittleEndian.Uint64(b)
	}
	s.limit = s.next
	return s, nil
}

// take returns the next sequence number. If a new block cannot be reserved
// the number is still returned (the batch is worth more than the counter)
// with the error, for the caller to log; uniqueness after a crash is then
// no longer guaranteed.
func (s *seqAlloc) take() (uint64, error) {
	var err error
	if s.next >= s.limit {
		now := s.now()
		switch {
		case s.block == 0:
			s.block = seqBlock
		case now.Sub(s.reserved) < seqRefill:
			s.block = min(2*s.block, maxSeqBlock)
		}
		s.reserved = now
		s.limit = s.next + s.block
		err = s.write(s.limit)
	}
	v := s.next
	s.next++
	return v, err
}

// close records the exact next number.
func (s *seqAlloc) close() error {
	if s == nil {
		return nil
	}
	return s.write(s.next)
}

func (s *seqAlloc) write(v uint64) error {
	var b [12]byte
	binary.LittleEndian.PutUint64(b[:], v)
	binary.LittleEndian.PutUint32(b[8:], crc32.Checksum(b[:8], castagnoli))
	tmp := s.path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("cannot write sequence file: %w", err)
	}
	_, err = f.Write(b[:])
	err = errors.Join(err, f.Sync(), f.Close())
	if err == nil {
		err = os.Rename(tmp, s.path)
	}
	if err == nil {
		var d *os.File
		if d, err = os.Open(filepath.Dir(s.path)); err == nil {
			err = errors.Join(d.Sync(), d.Close())
		}
	}
	if err != nil {
		return fmt.Errorf("cannot write sequence file: %w", err)
	}
	return nil
}
