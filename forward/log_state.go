package forward

import (
	"errors"
	"fmt"
	"os"

	"github.com/quantrac/quantrac/internal/fsutil"
)

// The read side of the log: what destinations' readers and the maintenance
// loop ask of the segment list. Every method takes segs' lock briefly.

// segmentView is what a reader needs to know of the segment it is in.
type segmentView struct {
	found   bool    // the segment still exists
	size    int64   // committed bytes
	last    bool    // it is the segment being written
	next    segInfo // the segment after it, when not last
	oldest  segInfo // the oldest segment on disk
	changed <-chan struct{}
}

// view describes segment num. The changed channel is closed at the next
// commit, so a reader that found nothing new waits on it without missing one.
func (l *queueLog) view(num uint64) segmentView {
	l.segs.Lock()
	defer l.segs.Unlock()
	v := segmentView{changed: l.segs.changed, oldest: l.segs.list[0]}
	i := l.indexLocked(num)
	if i < 0 {
		return v
	}
	v.found, v.size = true, l.segs.list[i].size
	if i+1 < len(l.segs.list) {
		v.next = l.segs.list[i+1]
	} else {
		v.last = true
	}
	return v
}

// indexLocked returns the index of segment num in the list, or -1.
func (l *queueLog) indexLocked(num uint64) int {
	list := l.segs.list
	lo, hi := 0, len(list)
	for lo < hi {
		m := (lo + hi) / 2
		if list[m].num < num {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(list) && list[lo].num == num {
		return lo
	}
	return -1
}

// head returns the position after the last committed record.
func (l *queueLog) head() Position {
	l.segs.Lock()
	defer l.segs.Unlock()
	s := l.segs.list[len(l.segs.list)-1]
	return Position{Segment: s.num, Offset: s.size, Seq: l.segs.nextSeq}
}

// start returns the position of the oldest record on disk.
func (l *queueLog) oldest() Position {
	l.segs.Lock()
	defer l.segs.Unlock()
	s := l.segs.list[0]
	return Position{Segment: s.num, Offset: segHeaderSize, Seq: s.firstSeq}
}

// backlog returns the samples and the record bytes from p to the head.
func (l *queueLog) backlog(p Position) (samples uint64, bytes int64) {
	l.segs.Lock()
	defer l.segs.Unlock()
	if l.segs.nextSeq > p.Seq {
		samples = l.segs.nextSeq - p.Seq
	}
	for _, s := range l.segs.list {
		switch {
		case s.num > p.Segment:
			bytes += s.size - segHeaderSize
		case s.num == p.Segment:
			bytes += s.size - max(p.Offset, segHeaderSize)
		}
	}
	return samples, bytes
}

// dropTarget returns where a destination at from resumes when its backlog
// must shrink to at most maxBytes: the start of the oldest segment from
// which the rest of the log fits, never before from. The segment being
// written is always kept, even when it alone is larger.
func (l *queueLog) dropTarget(from Position, maxBytes int64) Position {
	l.segs.Lock()
	defer l.segs.Unlock()
	var tail int64 // bytes from segment i to the head
	list := l.segs.list
	i := len(list) - 1
	tail = list[i].size - segHeaderSize
	for i > 0 && tail+list[i-1].size-segHeaderSize <= maxBytes && list[i-1].num > from.Segment {
		i--
		tail += list[i].size - segHeaderSize
	}
	target := Position{Segment: list[i].num, Offset: segHeaderSize, Seq: list[i].firstSeq}
	if target.before(from) {
		return from
	}
	return target
}

// removeBefore deletes every segment numbered below num, except the one
// being written. The maintenance loop calls it with the oldest segment a
// destination's persisted cursor still needs.
func (l *queueLog) removeBefore(num uint64) error {
	l.segs.Lock()
	var doomed []uint64
	keep := l.segs.list[:0]
	last := len(l.segs.list) - 1
	for i, s := range l.segs.list {
		if s.num < num && i != last {
			doomed = append(doomed, s.num)
			continue
		}
		keep = append(keep, s)
	}
	l.segs.list = keep
	l.segs.Unlock()
	if len(doomed) == 0 {
		return nil
	}
	var errs []error
	for _, n := range doomed {
		if err := os.Remove(segmentPath(l.dir, n)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("cannot remove forward segment %d: %w", n, err))
		}
	}
	if err := fsutil.SyncDir(l.dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// LogStats describes the shared log.
type LogStats struct {
	Segments int    // segment files on disk
	Bytes    int64  // bytes of those files
	Samples  uint64 // samples appended since the log was created
	// CorruptRecords counts damaged records met: by the recovery scan of the
	// newest segment, and by every destination reader that skips one, so a
	// record may count more than once. Any increase means damage.
	CorruptRecords int64
}

func (l *queueLog) stats() LogStats {
	l.segs.Lock()
	defer l.segs.Unlock()
	st := LogStats{Segments: len(l.segs.list), Samples: l.segs.nextSeq, CorruptRecords: l.segs.corrupt}
	for _, s := range l.segs.list {
		st.Bytes += s.size
	}
	return st
}

// countCorrupt records a damaged record found by a reader.
func (l *queueLog) countCorrupt() {
	l.segs.Lock()
	l.segs.corrupt++
	l.segs.Unlock()
}
