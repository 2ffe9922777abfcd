package forward

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/quantrac/quantrac/ingest/pipeline"
	"github.com/quantrac/quantrac/internal/fsutil"
)

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("forward queue is closed")

// Position is a place in the log: the start of a record, or the end of the
// last one. Seq is the sequence number of the first sample at that place;
// every sample appended to the log gets the next number.
type Position struct {
	Segment uint64
	Offset  int64
	Seq     uint64
}

func (p Position) before(q Position) bool {
	return p.Segment < q.Segment || p.Segment == q.Segment && p.Offset < q.Offset
}

// group is a commit group being filled: every sample appended while the
// previous group was being written and fsynced.
type group struct {
	lsets []labels.Labels
	ts    []int64
	vals  []float64
	done  *commit
}

func (g *group) reset() {
	clear(g.lsets) // let the label strings go
	g.lsets, g.ts, g.vals = g.lsets[:0], g.ts[:0], g.vals[:0]
	g.done = newCommit()
}

// commit is the outcome of one group, shared by every Append that joined it.
type commit struct {
	done chan struct{}
	err  error
}

func newCommit() *commit { return &commit{done: make(chan struct{})} }

// Wait blocks until the group is fsynced in the queue, and returns the error
// that prevented that, if any.
func (c *commit) Wait() error {
	<-c.done
	return c.err
}

// queueLog is the shared append-only log every destination reads from.
// Appends join a commit group; one committer goroutine writes each group as
// one record and fsyncs it, so that under load many appends share an fsync.
type queueLog struct {
	dir string
	log *slog.Logger
	now func() time.Time

	maxPending   int
	segmentBytes int64

	// mu guards the group being filled and the closing state.
	mu struct {
		sync.Mutex
		cur, spare *group
		closed     bool
		failed     error
	}
	space *sync.Cond // on mu: the committer took a group

	kick    chan struct{}
	stop    chan struct{}
	stopped chan struct{}

	// Owned by the committer goroutine.
	f     *os.File
	enc   *recordEncoder
	frame []byte

	// segs guards what readers and the maintenance loop see of the files.
	segs struct {
		sync.Mutex
		list    []segInfo // ascending; the last one is being written
		nextSeq uint64    // sequence number of the next sample appended
		changed chan struct{}
		corrupt int64 // records skipped when recovering
	}
}

// openLog opens or creates the log in dir, recovers the newest segment and
// starts a fresh one for this process's writes. The committer is not
// started: start does that.
func openLog(dir string, segmentBytes int64, maxPending int, logger *slog.Logger, now func() time.Time) (*queueLog, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create forward queue directory %s: %w", dir, err)
	}
	l := &queueLog{dir: dir, log: logger, now: now, maxPending: maxPending, segmentBytes: segmentBytes,
		kick: make(chan struct{}, 1), stop: make(chan struct{}), stopped: make(chan struct{}),
		enc: newRecordEncoder()}
	l.mu.cur, l.mu.spare = &group{done: newCommit()}, &group{}
	l.space = sync.NewCond(&l.mu)
	l.segs.changed = make(chan struct{})
	if err := l.recover(); err != nil {
		return nil, err
	}
	if err := l.cut(); err != nil {
		return nil, err
	}
	return l, nil
}

// recover reads the segment headers, and scans the newest segment to find
// its intact end and the next sequence number.
func (l *queueLog) recover() error {
	nums, err := listSegments(l.dir)
	if err != nil {
		return err
	}
	for i, n := range nums {
		name := segmentPath(l.dir, n)
		last := i == len(nums)-1
		info, err := l.recoverSegment(name, n, last)
		if err != nil {
			return err
		}
		if info.size == 0 { // a header never written: the segment is dropped
			continue
		}
		l.segs.list = append(l.segs.list, info)
	}
	return nil
}

func (l *queueLog) recoverSegment(name string, n uint64, last bool) (segInfo, error) {
	info := segInfo{num: n}
	if !last {
		f, err := os.Open(name)
		if err != nil {
			return info, fmt.Errorf("cannot open forward segment: %w", err)
		}
		defer f.Close()
		var hdr [segHeaderSize]byte
		_, rerr := f.ReadAt(hdr[:], 0)
		st, err := f.Stat()
		if err != nil {
			return info, fmt.Errorf("cannot stat forward segment: %w", err)
		}
		if info.firstSeq, err = parseSegHeader(hdr[:]); rerr != nil || err != nil {
			l.log.Warn("forward segment has no valid header; removed", "segment", name, "err", errors.Join(rerr, err))
			return segInfo{}, removeFile(name)
		}
		info.size = st.Size()
		return info, nil
	}
	buf, err := os.ReadFile(name)
	if err != nil {
		return info, fmt.Errorf("cannot read forward segment: %w", err)
	}
	if info.firstSeq, err = parseSegHeader(buf); err != nil {
		l.log.Warn("newest forward segment has no valid header; removed", "segment", name, "err", err)
		return segInfo{}, removeFile(name)
	}
	res := scanSegment(buf, info.firstSeq)
	if res.end < int64(len(buf)) {
		l.log.Warn("forward segment has a torn tail; cutting it off", "segment", name,
			"offset", res.end, "bytes_dropped", int64(len(buf))-res.end)
		if err := os.Truncate(name, res.end); err != nil {
			return info, fmt.Errorf("cannot truncate forward segment: %w", err)
		}
	}
	if res.corrupt > 0 {
		l.log.Warn("forward segment has damaged records; they are skipped", "segment", name, "records", res.corrupt)
		l.segs.corrupt += int64(res.corrupt)
	}
	info.size = res.end
	l.segs.nextSeq = res.nextSeq
	return info, nil
}

func removeFile(name string) error {
	if err := os.Remove(name); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("cannot remove forward segment: %w", err)
	}
	return nil
}

// start runs the committer goroutine.
func (l *queueLog) start() { go l.commitLoop() }

// Append queues the samples for the next commit group and returns the
// group's pending commit. It copies the timestamps and values; labels are
// kept by value, which is safe because a labels.Labels is immutable once
// built. It blocks while maxPending samples are already waiting.
func (l *queueLog) Append(lsets []labels.Labels, ts []int64, vals []float64) (pipeline.Waiter, error) {
	if len(lsets) != len(ts) || len(vals) != len(ts) {
		return nil, fmt.Errorf("cannot queue samples: columns of %d, %d and %d", len(lsets), len(ts), len(vals))
	}
	l.mu.Lock()
	for !l.mu.closed && l.mu.failed == nil && len(l.mu.cur.ts) > 0 && len(l.mu.cur.ts)+len(ts) > l.maxPending {
		l.space.Wait()
	}
	if l.mu.closed {
		l.mu.Unlock()
		return nil, ErrClosed
	}
	if err := l.mu.failed; err != nil {
		l.mu.Unlock()
		return nil, err
	}
	g := l.mu.cur
	g.lsets = append(g.lsets, lsets...)
	g.ts = append(g.ts, ts...)
	g.vals = append(g.vals, vals...)
	c := g.done
	l.mu.Unlock()
	select {
	case l.kick <- struct{}{}:
	default: // the committer is already due to look
	}
	return c, nil
}

func (l *queueLog) commitLoop() {
	defer close(l.stopped)
	for {
		select {
		case <-l.kick:
			l.commitOnce()
		case <-l.stop:
			l.commitOnce()
			return
		}
	}
}

// commitOnce writes the group filled so far as one record and fsyncs it.
func (l *queueLog) commitOnce() {
	l.mu.Lock()
	g := l.mu.cur
	if len(g.ts) == 0 {
		l.mu.Unlock()
		return
	}
	next := l.mu.spare
	next.reset()
	l.mu.cur, l.mu.spare = next, nil
	l.space.Broadcast()
	failed := l.mu.failed
	l.mu.Unlock()

	err := failed
	if err == nil {
		err = l.write(g)
	}
	if err != nil && failed == nil {
		l.log.Error("cannot write to the forward queue; the samples are not acknowledged", "err", err)
	}
	g.done.err = err
	close(g.done.done)

	l.mu.Lock()
	l.mu.spare = g
	l.mu.Unlock()
}

// write appends g as one record to the current segment, starting a new
// segment when the current one is full, and fsyncs it. After a failed write
// the segment is cut back to its last commit, so that a later group can
// succeed once the cause (a full disk) is gone; if even that fails, the log
// refuses every later append.
func (l *queueLog) write(g *group) error {
	l.segs.Lock()
	cur := l.segs.list[len(l.segs.list)-1]
	firstSeq := l.segs.nextSeq
	l.segs.Unlock()

	// The body is encoded after room for its frame, which is filled in
	// afterwards: one buffer, one write.
	l.frame = append(l.frame[:0], 0, 0, 0, 0, 0, 0, 0, 0)
	l.frame = l.enc.encode(l.frame, firstSeq, l.now().UnixMilli(), g.lsets, g.ts, g.vals)
	putFrame(l.frame)

	if cur.size > segHeaderSize && cur.size+int64(len(l.frame)) > l.segmentBytes {
		if err := l.cut(); err != nil {
			return err
		}
		l.segs.Lock()
		cur = l.segs.list[len(l.segs.list)-1]
		l.segs.Unlock()
	}
	if _, err := l.f.WriteAt(l.frame, cur.size); err != nil {
		return l.undo(cur, fmt.Errorf("cannot write forward segment %d: %w", cur.num, err))
	}
	if err := l.f.Sync(); err != nil {
		return l.undo(cur, fmt.Errorf("cannot fsync forward segment %d: %w", cur.num, err))
	}
	l.segs.Lock()
	l.segs.list[len(l.segs.list)-1].size = cur.size + int64(len(l.frame))
	l.segs.nextSeq = firstSeq + uint64(len(g.ts))
	close(l.segs.changed)
	l.segs.changed = make(chan struct{})
	l.segs.Unlock()
	return nil
}

func (l *queueLog) undo(cur segInfo, err error) error {
	if terr := l.f.Truncate(cur.size); terr != nil {
		l.mu.Lock()
		l.mu.failed = fmt.Errorf("forward queue is unusable after a failed write: %w", errors.Join(err, terr))
		l.mu.Unlock()
	}
	return err
}

// cut fsyncs and closes the current segment and creates the next one, whose
// header carries the next sequence number.
func (l *queueLog) cut() error {
	if l.f != nil {
		if err := l.f.Close(); err != nil { // every commit was fsynced already
			return fmt.Errorf("cannot close forward segment: %w", err)
		}
		l.f = nil
	}
	l.segs.Lock()
	num := uint64(1)
	if n := len(l.segs.list); n > 0 {
		num = l.segs.list[n-1].num + 1
	}
	first := l.segs.nextSeq
	l.segs.Unlock()

	name := segmentPath(l.dir, num)
	f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("cannot create forward segment: %w", err)
	}
	if _, err := f.Write(appendSegHeader(nil, first)); err != nil {
		f.Close()
		return fmt.Errorf("cannot write forward segment header %s: %w", name, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("cannot fsync forward segment %s: %w", name, err)
	}
	if err := fsutil.SyncDir(l.dir); err != nil {
		f.Close()
		return err
	}
	l.f = f
	l.segs.Lock()
	l.segs.list = append(l.segs.list, segInfo{num: num, firstSeq: first, size: segHeaderSize})
	l.segs.Unlock()
	return nil
}

// close commits what was appended, stops the committer and closes the file.
func (l *queueLog) close() error {
	l.mu.Lock()
	if l.mu.closed {
		l.mu.Unlock()
		return nil
	}
	l.mu.closed = true
	l.space.Broadcast()
	l.mu.Unlock()
	close(l.stop)
	<-l.stopped
	if l.f == nil {
		return nil
	}
	if err := l.f.Close(); err != nil {
		return fmt.Errorf("cannot close forward segment: %w", err)
	}
	return nil
}
