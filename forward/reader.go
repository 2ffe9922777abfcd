package forward

import (
	"context"
	"encoding/binary"
	"hash/crc32"
	"log/slog"
)

// logReader reads one destination's records in log order from a position.
// It is used by the destination's reader goroutine only.
type logReader struct {
	l   *queueLog
	log *slog.Logger
	pos Position // the next record to read
	seg segmentReader
}

func newLogReader(l *queueLog, logger *slog.Logger, pos Position) *logReader {
	return &logReader{l: l, log: logger, pos: pos, seg: segmentReader{dir: l.dir}}
}

// caughtUp reports whether every committed record has been read. At the
// end of a segment that is not the last, it moves on to the next one, so
// that empty segments after it (a restart starts a new one) do not hide
// that the reader is at the head.
func (r *logReader) caughtUp() bool {
	for {
		v := r.l.view(r.pos.Segment)
		if !v.found || max(r.pos.Offset, segHeaderSize) < v.size {
			return false
		}
		if v.last {
			return true
		}
		r.pos = Position{Segment: v.next.num, Offset: segHeaderSize, Seq: v.next.firstSeq}
	}
}

// next returns the body of the next record and the position it starts at,
// and moves past it. The body is valid until the next call. At the head it
// waits for the next commit, or until ctx is done. A damaged record is
// counted, logged and skipped; an error is returned only for a failed read
// or a done ctx, and the reader can be called again afterwards.
//
// The returned position's Seq is the reader's best knowledge before
// decoding; the caller sets the true values from the record.
func (r *logReader) next(ctx context.Context) ([]byte, Position, error) {
	for {
		v := r.l.view(r.pos.Segment)
		switch {
		case !v.found && r.pos.Segment < v.oldest.num:
			r.pos = Position{Segment: v.oldest.num, Offset: segHeaderSize, Seq: v.oldest.firstSeq}
			continue
		case !v.found:
			r.pos = r.l.head()
			continue
		}
		r.pos.Offset = max(r.pos.Offset, segHeaderSize)
		if r.pos.Offset >= v.size {
			if !v.last {
				r.pos = Position{Segment: v.next.num, Offset: segHeaderSize, Seq: v.next.firstSeq}
				continue
			}
			select {
			case <-v.changed:
				continue
			case <-ctx.Done():
				return nil, r.pos, ctx.Err()
			}
		}
		fr, err := r.seg.at(r.pos.Segment, r.pos.Offset, frameSize, v.size)
		if err != nil {
			return nil, r.pos, err
		}
		n := int64(binary.LittleEndian.Uint32(fr))
		sum := binary.LittleEndian.Uint32(fr[4:])
		if r.pos.Offset+frameSize+n > v.size {
			r.damaged("record runs past the committed end of its segment")
			r.pos.Offset = v.size
			continue
		}
		body, err := r.seg.at(r.pos.Segment, r.pos.Offset+frameSize, int(n), v.size)
		if err != nil {
			return nil, r.pos, err
		}
		at := r.pos
		r.pos.Offset += frameSize + n
		if crc32.Checksum(body, castagnoli) != sum {
			r.damaged("record checksum mismatch")
			continue
		}
		return body, at, nil
	}
}

func (r *logReader) damaged(why string) {
	r.l.countCorrupt()
	r.log.Warn("damaged forward queue record skipped", "segment", r.pos.Segment, "offset", r.pos.Offset, "why", why)
}

func (r *logReader) close() { r.seg.close() }
