// Package queue is a gateway's store-and-forward buffer: a bounded FIFO of
// records on disk that survives a restart of the process.
//
// Records live in segment files of at most Options.SegmentBytes; each record
// carries a CRC-32C and a weight (the number of readings it holds, so drops
// can be counted in readings). A record leaves the queue when its consumer
// acknowledges it, or when the queue is full and it is the oldest: the queue
// then drops records from the head, oldest first, until the new one fits.
// The position of the head is kept in a small cursor file with two
// checksummed slots written alternately, so a torn write of one slot falls
// back to the other.
//
// The on-disk format is specified in docs/gwsim.md.
//
// A Queue is owned by one goroutine: it is not safe for concurrent use.
package queue

import (
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Options configure a queue.
type Options struct {
	// Dir holds the queue's files; it is created if missing. One process at
	// a time may open it (an exclusive lock on the cursor file).
	Dir string
	// MaxBytes bounds the queued records (headers included). Default 64 MiB.
	MaxBytes int64
	// SegmentBytes is the size at which a new segment file is started.
	// Default MaxBytes/16, at least 64 KiB. Disk use stays under
	// MaxBytes+SegmentBytes: a segment is deleted only when its last record
	// has left the queue.
	SegmentBytes int64
	// NoSync leaves the queue's writes in the operating system's page
	// cache: records and the cursor survive a crash of the process but not
	// of the machine. It is for load generators that run many simulated
	// gateways on one disk, where a thousand gateways' fsyncs would queue
	// behind each other and behind the node under test's own, though real
	// gateways each write their own flash.
	NoSync bool
	// Logger receives recovery notices (torn tails, corrupt records). Default
	// slog.Default().
	Logger *slog.Logger
}

// Default sizes.
const (
	DefaultMaxBytes = 64 << 20
	minSegmentBytes = 64 << 10
)

func (o *Options) withDefaults() Options {
	c := *o
	if c.MaxBytes == 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.SegmentBytes == 0 {
		c.SegmentBytes = max(c.MaxBytes/16, minSegmentBytes)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports whether the options can be used.
func (o *Options) Validate() error {
	c := o.withDefaults()
	switch {
	case c.Dir == "":
		return errors.New("invalid queue options: no directory")
	case c.MaxBytes < 2*recordHeaderSize:
		return fmt.Errorf("invalid queue options: MaxBytes %d too small", c.MaxBytes)
	case c.SegmentBytes < segmentHeaderSize+recordHeaderSize || c.SegmentBytes > 1<<31:
		return fmt.Errorf("invalid queue options: SegmentBytes %d outside %d..2GiB",
			c.SegmentBytes, segmentHeaderSize+recordHeaderSize)
	}
	return nil
}

// ErrTooLarge is returned by Append for a record that cannot fit even in an
// empty queue.
var ErrTooLarge = errors.New("record larger than the queue")

// ErrLocked is returned by Open when another process holds the queue.
var ErrLocked = errors.New("queue is in use by another process")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Queue is an open queue. Records are numbered by a uint64 index that keeps
// growing across restarts.
type Queue struct {
	opts   Options
	segs   []*segment // oldest first; the last one takes appends
	active *os.File   // the last segment, open for append; nil until needed
	cursor *os.File   // also the lock file

	head  uint64              // first record still in the queue
	next  uint64              // index of the next appended record
	read  uint64              // next record Next hands out
	acked map[uint64]struct{} // acknowledged records at or past head, out of order

	cursorGen   uint64
	cursorHead  uint64 // head as last written to the cursor file
	dataDirty   bool   // appended records not yet fsynced
	stats       Stats
	readFile    *os.File // open segment being read, when it is not active
	readFileSeg uint64   // base of readFile's segment
	scratch     []byte
}

// Stats describes the queue's contents and history since Open.
type Stats struct {
	// Records, Weight and Bytes count records in the queue that are not
	// acknowledged.
	Records int64
	Weight  int64
	Bytes   int64
	// Dropped counts records (and their weight) dropped to make room.
	DroppedRecords int64
	DroppedWeight  int64
	// Corrupt counts records lost to failed checksums or torn tails found
	// while opening or reading.
	Corrupt int64
}

// Stats returns the current statistics.
func (q *Queue) Stats() Stats { return q.stats }

// Open opens or creates the queue in opts.Dir and recovers its state: the
// head from the cursor file, the records from the segments. A torn record at
// the end of the last segment (a crash during a write) is cut off.
func Open(opts Options) (*Queue, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	q := &Queue{opts: opts.withDefaults(), acked: make(map[uint64]struct{})}
	if err := os.MkdirAll(q.opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create queue directory: %w", err)
	}
	if err := q.openCursor(); err != nil {
		return nil, err
	}
	if err := q.loadSegments(); err != nil {
		q.cursor.Close()
		return nil, err
	}
	return q, nil
}

// loadSegments scans every segment file and sets head, next and read.
func (q *Queue) loadSegments() error {
	names, err := filepath.Glob(filepath.Join(q.opts.Dir, "*"+segmentSuffix))
	if err != nil {
		return fmt.Errorf("cannot list queue segments: %w", err)
	}
	var bases []uint64
	for _, n := range names {
		base, err := strconv.ParseUint(strings.TrimSuffix(filepath.Base(n), segmentSuffix), 10, 64)
		if err != nil {
			continue // not ours
		}
		bases = append(bases, base)
	}
	slices.Sort(bases)
	for i, base := range bases {
		seg, err := q.scanSegment(base, i == len(bases)-1)
		if err != nil {
			return err
		}
		if seg != nil {
			q.segs = append(q.segs, seg)
		}
	}
	q.next = q.cursorHead
	if n := len(q.segs); n > 0 {
		q.next = max(q.next, q.segs[n-1].end())
		q.head = max(q.cursorHead, q.segs[0].base)
	} else {
		q.head = q.next
	}
	q.read = q.head
	q.recount()
	return q.removePassedSegments()
}

// recount recomputes the stats of records in the queue from the segments.
func (q *Queue) recount() {
	q.stats.Records, q.stats.Weight, q.stats.Bytes = 0, 0, 0
	for _, s := range q.segs {
		for i := range s.offs {
			if idx := s.base + uint64(i); idx >= q.head {
				q.stats.Records++
				q.stats.Weight += int64(s.weights[i])
				q.stats.Bytes += s.recordSize(i)
			}
		}
	}
}

// Sync makes appended records durable. Call it after a burst of appends
// rather than after each one: it is an fsync.
func (q *Queue) Sync() error {
	if !q.dataDirty || q.active == nil {
		return nil
	}
	if err := q.sync(q.active); err != nil {
		return fmt.Errorf("cannot sync queue segment: %w", err)
	}
	q.dataDirty = false
	return nil
}

// sync fsyncs f unless the queue was opened with NoSync.
func (q *Queue) sync(f *os.File) error {
	if q.opts.NoSync {
		return nil
	}
	return f.Sync()
}

// Close syncs the records and the cursor and releases the queue.
func (q *Queue) Close() error {
	err := errors.Join(q.Sync(), q.Checkpoint())
	if q.active != nil {
		err = errors.Join(err, q.active.Close())
	}
	if q.readFile != nil {
		err = errors.Join(err, q.readFile.Close())
	}
	return errors.Join(err, q.cursor.Close()) // closing releases the lock
}
