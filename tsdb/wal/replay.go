package wal

import (
	"fmt"
	"hash/crc32"
	"os"
)

// ReplayStats says what a replay read and what it had to drop.
type ReplayStats struct {
	Segments       int   // segments read
	Records        int   // records handed to the callback
	CorruptRecords int   // damaged stretches skipped in the middle of a segment
	SkippedBytes   int64 // bytes of those stretches, frames included
	TruncatedBytes int64 // bytes cut from segment tails that could not be framed
}

// Dropped reports whether the replay lost anything.
func (s ReplayStats) Dropped() bool { return s.CorruptRecords > 0 || s.TruncatedBytes > 0 }

// Replay calls fn with the body of every intact record, oldest first. The
// body slice is valid only during the call.
//
// Damage never stops a replay. A record is intact when its frame fits in
// the segment, its body is not empty and its checksum matches. When one is
// not, the replay looks for the next intact record: first where the damaged
// frame's length says it ends (a byte flipped in a body leaves the length
// right), then at every later offset (a byte flipped in a length field).
// The stretch between is skipped, counted and logged, and the replay goes
// on from the record found. If no intact record follows, the rest of the
// segment is a torn tail (a write cut short by a crash, or a tail of zeros
// a file system left), and it is cut off the segment so that the next
// start does not meet it again. An error from fn stops the replay and is
// returned.
//
// The search considers records up to twice the largest intact record seen
// so far in the replay (at least 64 KiB), and checksums at most
// resyncBudget bytes for one damaged stretch before it gives up and treats
// the rest as a torn tail: so a long stretch of garbage costs a start a
// second at most. A record larger than that bound right after damage, or
// one beyond the budget, is lost with the damage.
func (w *WAL) Replay(fn func(rec []byte) error) (ReplayStats, error) {
	var st ReplayStats
	r := replayer{w: w, st: &st, fn: fn, largest: minResyncRecord / 2}
	for _, n := range w.segments {
		if n == w.seq {
			break // written by this process; nothing to replay
		}
		if err := r.segment(n); err != nil {
			return st, err
		}
		st.Segments++
	}
	return st, nil
}

const (
	// minResyncRecord is the least record size the search after damage
	// considers.
	minResyncRecord = 64 << 10
	// resyncBudget bounds the bytes the search after one damaged stretch
	// checksums: about a second's work.
	resyncBudget = 4 << 30
)

type replayer struct {
	w       *WAL
	st      *ReplayStats
	fn      func([]byte) error
	largest int // largest intact record body seen
}

// intact reports whether an intact record starts at buf[off:], and its
// body's size. maxBody bounds the body sizes considered.
func intact(buf []byte, off, maxBody int) (int, bool) {
	rest := buf[off:]
	if len(rest) < frameSize {
		return 0, false
	}
	size := int(getU32(rest[0:4]))
	if size == 0 || size > maxBody || frameSize+size > len(rest) {
		return 0, false
	}
	return size, crc32.Checksum(rest[frameSize:frameSize+size], castagnoli) == getU32(rest[4:8])
}

func (r *replayer) segment(n int) error {
	name := segmentName(r.w.dir, n)
	buf, err := os.ReadFile(name)
	if err != nil {
		return fmt.Errorf("cannot read WAL segment %s: %w", name, err)
	}
	log := r.w.opts.Logger
	if len(buf) < headerSize || string(buf[:4]) != magic {
		log.Warn("WAL segment has no valid header; its content is dropped",
			"segment", name, "bytes", len(buf))
		r.st.TruncatedBytes += int64(len(buf))
		return truncate(name, 0)
	}
	if v := buf[4]; v < minReadVersion || v > formatVersion {
		return fmt.Errorf("cannot replay WAL segment %s: format version %d, this build reads %d to %d",
			name, v, minReadVersion, formatVersion)
	}
	off := headerSize
	for off < len(buf) {
		size, ok := intact(buf, off, MaxRecordSize)
		if !ok {
			next, found := r.resync(buf, off)
			if !found {
				log.Warn("WAL segment has a torn tail; cutting it off",
					"segment", name, "offset", off, "bytes_dropped", len(buf)-off)
				r.st.TruncatedBytes += int64(len(buf) - off)
				return truncate(name, int64(off))
			}
			log.Warn("WAL segment has a damaged record; skipped to the next intact one",
				"segment", name, "offset", off, "bytes_skipped", next-off)
			r.st.CorruptRecords++
			r.st.SkippedBytes += int64(next - off)
			off = next
			continue
		}
		body := buf[off+frameSize : off+frameSize+size]
		r.st.Records++
		r.largest = max(r.largest, size)
		if err := r.fn(body); err != nil {
			return fmt.Errorf("cannot replay WAL segment %s at offset %d: %w", name, off, err)
		}
		off += frameSize + size
	}
	return nil
}

// resync returns the offset of the next intact record after the damaged
// one at off, or false if none follows.
func (r *replayer) resync(buf []byte, off int) (int, bool) {
	maxBody := min(MaxRecordSize, 2*r.largest)
	// Where the damaged frame says it ends, if the length is plausible.
	if len(buf)-off >= frameSize {
		if size := int(getU32(buf[off : off+4])); size > 0 && size <= MaxRecordSize {
			if end := off + frameSize + size; end <= len(buf)-frameSize {
				if _, ok := intact(buf, end, MaxRecordSize); ok {
					return end, true
				}
			}
		}
	}
	budget := resyncBudget
	for p := off + 1; p+frameSize < len(buf) && budget > 0; p++ {
		size, ok := intact(buf, p, maxBody)
		if ok {
			return p, true
		}
		budget -= size
	}
	return 0, false
}

func truncate(name string, size int64) error {
	if err := os.Truncate(name, size); err != nil {
		return fmt.Errorf("cannot truncate damaged WAL segment %s: %w", name, err)
	}
	return nil
}
