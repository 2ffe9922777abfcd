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
	CorruptRecords int   // records skipped because their checksum did not match
	TruncatedBytes int64 // bytes cut from segment tails that could not be framed
}

// Dropped reports whether the replay lost anything.
func (s ReplayStats) Dropped() bool { return s.CorruptRecords > 0 || s.TruncatedBytes > 0 }

// Replay calls fn with the body of every intact record, oldest first. The
// body slice is valid only during the call.
//
// Damage never stops a replay. A record whose checksum does not match is
// skipped and counted, and the replay goes on with the next record, which the
// length field still locates. A tail that cannot be framed (a torn write: a
// short header, or a length running past the end of the file) is cut off the
// segment, so that the next start does not meet it again. Both are logged as
// warnings. An error from fn stops the replay and is returned.
func (w *WAL) Replay(fn func(rec []byte) error) (ReplayStats, error) {
	var st ReplayStats
	for _, n := range w.segments {
		if n == w.seq {
			break // written by this process; nothing to replay
		}
		if err := w.replaySegment(n, &st, fn); err != nil {
			return st, err
		}
		st.Segments++
	}
	return st, nil
}

func (w *WAL) replaySegment(n int, st *ReplayStats, fn func([]byte) error) error {
	name := segmentName(w.dir, n)
	buf, err := os.ReadFile(name)
	if err != nil {
		return fmt.Errorf("cannot read WAL segment %s: %w", name, err)
	}
	if len(buf) < headerSize || string(buf[:4]) != magic {
		w.opts.Logger.Warn("WAL segment has no valid header; its content is dropped",
			"segment", name, "bytes", len(buf))
		st.TruncatedBytes += int64(len(buf))
		return truncate(name, 0)
	}
	if v := buf[4]; v != formatVersion {
		return fmt.Errorf("cannot replay WAL segment %s: format version %d, this build reads %d", name, v, formatVersion)
	}
	off := headerSize
	for off < len(buf) {
		rest := buf[off:]
		if len(rest) < frameSize {
			return w.cutTail(name, off, len(buf), st, "short record header")
		}
		size := int(getU32(rest[0:4]))
		if size > MaxRecordSize || frameSize+size > len(rest) {
			return w.cutTail(name, off, len(buf), st, "record runs past the end of the segment")
		}
		body := rest[frameSize : frameSize+size]
		if crc32.Checksum(body, castagnoli) != getU32(rest[4:8]) {
			st.CorruptRecords++
			w.opts.Logger.Warn("WAL record checksum mismatch; record skipped",
				"segment", name, "offset", off, "bytes", size)
			off += frameSize + size
			continue
		}
		st.Records++
		if err := fn(body); err != nil {
			return fmt.Errorf("cannot replay WAL segment %s at offset %d: %w", name, off, err)
		}
		off += frameSize + size
	}
	return nil
}

func (w *WAL) cutTail(name string, off, size int, st *ReplayStats, why string) error {
	w.opts.Logger.Warn("WAL segment has a torn tail; cutting it off",
		"segment", name, "offset", off, "bytes_dropped", size-off, "why", why)
	st.TruncatedBytes += int64(size - off)
	return truncate(name, int64(off))
}

func truncate(name string, size int64) error {
	if err := os.Truncate(name, size); err != nil {
		return fmt.Errorf("cannot truncate damaged WAL segment %s: %w", name, err)
	}
	return nil
}
