// Package wal is Quantrac's write-ahead log: an append-only sequence of
// segment files holding checksummed records. It knows nothing of what a record
// means; the store above it encodes series definitions and sample batches into
// records, writes a group of them, and calls Sync once for the whole group
// (group commit).
//
// On-disk layout (docs/storage-format.md has the full specification):
//
//	<dir>/00000000000000000001.wal    segment files, numbered from 1
//
// A segment starts with an 8-byte header: the magic "QWAL", a format version
// byte and three zero bytes. Records follow back to back:
//
//	u32 little-endian  length of body, at least 1
//	u32 little-endian  CRC-32C (Castagnoli) of body
//	body               length bytes
//
// A WAL is used by one writer goroutine at a time (Write, Sync, Cut, Close);
// RemoveBefore and Segments may be called from any goroutine. Replay must
// finish before the first write.
package wal

import (
	"bufio"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/quantrac/quantrac/internal/fsutil"
)

const (
	magic = "QWAL"
	// formatVersion is the segment format written. Version 2 segments
	// differ from version 1 only in the records the store puts in them
	// (docs/storage-format.md); both are read.
	formatVersion  = 2
	minReadVersion = 1
	headerSize     = 8
	frameSize      = 8

	// MaxRecordSize bounds one record's body. A length field above it can only
	// come from damage, and replay treats it as the end of the segment.
	MaxRecordSize = 256 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Options configure a WAL. The zero value of each field means its default.
type Options struct {
	// SegmentSize is the size after which the writer starts a new segment.
	// Default 64 MiB.
	SegmentSize int64
	// Logger receives warnings about damaged segments. Default slog.Default().
	Logger *slog.Logger
}

func (o *Options) setDefaults() {
	if o.SegmentSize <= 0 {
		o.SegmentSize = 64 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// WAL is an open write-ahead log directory.
type WAL struct {
	dir  string
	opts Options

	// mu guards segments, which the writer extends and RemoveBefore shrinks.
	mu       sync.Mutex
	segments []int // existing segment numbers, ascending
	open     int   // number of the segment open for writing, 0 if none
	last     int   // highest segment number ever seen here, removed or not

	f    *os.File // current segment, nil until the first write
	bw   *bufio.Writer
	size int64 // bytes in the current segment, header included
	seq  int   // number of the current segment

	frame [frameSize]byte
}

// Open opens or creates the WAL in dir. Existing segments are left as they
// are until Replay reads them; writes go to a new segment after the last one.
func Open(dir string, opts Options) (*WAL, error) {
	opts.setDefaults()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create WAL directory %s: %w", dir, err)
	}
	segs, err := listSegments(dir)
	if err != nil {
		return nil, err
	}
	w := &WAL{dir: dir, opts: opts, segments: segs}
	if n := len(segs); n > 0 {
		w.last = segs[n-1]
	}
	return w, nil
}

// Dir returns the WAL's directory.
func (w *WAL) Dir() string { return w.dir }

func segmentName(dir string, n int) string {
	return filepath.Join(dir, fmt.Sprintf("%020d.wal", n))
}

func listSegments(dir string) ([]int, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("cannot list WAL directory %s: %w", dir, err)
	}
	var segs []int
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".wal")
		if !ok || e.IsDir() {
			continue
		}
		n, err := strconv.Atoi(name)
		if err != nil || n <= 0 {
			continue
		}
		segs = append(segs, n)
	}
	slices.Sort(segs)
	return segs, nil
}

// Segments returns the numbers of the segments on disk, ascending, including
// the one being written.
func (w *WAL) Segments() []int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.segments)
}

// Current returns the number of the segment being written, or 0 before the
// first write.
func (w *WAL) Current() int { return w.seq }

// Write appends one record, of 1 to MaxRecordSize bytes (replay takes a
// zero length for damage: a tail of zeros). The record is buffered; it is
// durable only after the next successful Sync. The WAL does not keep rec
// after Write returns.
func (w *WAL) Write(rec []byte) error {
	if len(rec) == 0 {
		return errors.New("cannot write an empty WAL record")
	}
	if len(rec) > MaxRecordSize {
		return fmt.Errorf("cannot write WAL record of %d bytes: over the %d-byte limit", len(rec), MaxRecordSize)
	}
	if w.f == nil || w.size+int64(frameSize+len(rec)) > w.opts.SegmentSize && w.size > headerSize {
		if err := w.cut(); err != nil {
			return err
		}
	}
	putU32(w.frame[0:4], uint32(len(rec)))
	putU32(w.frame[4:8], crc32.Checksum(rec, castagnoli))
	if _, err := w.bw.Write(w.frame[:]); err != nil {
		return fmt.Errorf("cannot write to WAL segment %d: %w", w.seq, err)
	}
	if _, err := w.bw.Write(rec); err != nil {
		return fmt.Errorf("cannot write to WAL segment %d: %w", w.seq, err)
	}
	w.size += int64(frameSize + len(rec))
	return nil
}

// Sync writes buffered records to the segment file and fsyncs it.
func (w *WAL) Sync() error {
	if w.f == nil {
		return nil
	}
	if err := w.bw.Flush(); err != nil {
		return fmt.Errorf("cannot flush WAL segment %d: %w", w.seq, err)
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("cannot fsync WAL segment %d: %w", w.seq, err)
	}
	return nil
}

// Cut closes the current segment (after syncing it) so that the next Write
// starts a new one, and returns the number that new segment will have. The
// store cuts before it flushes the head into parts, so that every segment
// numbered below the returned one can be deleted once the parts are durable.
func (w *WAL) Cut() (int, error) {
	if w.f != nil {
		if err := w.closeCurrent(); err != nil {
			return 0, err
		}
	}
	return w.nextSeq(), nil
}

// nextSeq returns the number the next segment will get.
func (w *WAL) nextSeq() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last + 1
}

func (w *WAL) closeCurrent() error {
	if err := w.Sync(); err != nil {
		return err
	}
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("cannot close WAL segment %d: %w", w.seq, err)
	}
	w.f = nil // w.bw is kept and Reset onto the next segment
	w.mu.Lock()
	w.open = 0
	w.mu.Unlock()
	return nil
}

func (w *WAL) cut() error {
	if w.f != nil {
		if err := w.closeCurrent(); err != nil {
			return err
		}
	}
	next := w.nextSeq()
	name := segmentName(w.dir, next)
	f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("cannot create WAL segment %s: %w", name, err)
	}
	hdr := [headerSize]byte{magic[0], magic[1], magic[2], magic[3], formatVersion}
	if _, err := f.Write(hdr[:]); err != nil {
		f.Close()
		return fmt.Errorf("cannot write WAL segment header %s: %w", name, err)
	}
	// The new file's directory entry must be durable before any record in it
	// is acknowledged.
	if err := fsutil.SyncDir(w.dir); err != nil {
		f.Close()
		return err
	}
	w.f, w.seq, w.size = f, next, headerSize
	if w.bw == nil {
		w.bw = bufio.NewWriterSize(f, 1<<20)
	}
	w.bw.Reset(f)
	w.mu.Lock()
	w.segments = append(w.segments, next)
	w.open, w.last = next, next
	w.mu.Unlock()
	return nil
}

// RemoveBefore deletes every segment numbered below n, except the one being
// written. The store calls it once all the samples those segments hold are
// durable in parts.
func (w *WAL) RemoveBefore(n int) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	keep := w.segments[:0]
	var errs []error
	for _, s := range w.segments {
		if s >= n || s == w.open {
			keep = append(keep, s)
			continue
		}
		if err := os.Remove(segmentName(w.dir, s)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("cannot remove WAL segment %d: %w", s, err))
			keep = append(keep, s)
		}
	}
	w.segments = keep
	if err := fsutil.SyncDir(w.dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Close syncs and closes the current segment.
func (w *WAL) Close() error {
	if w.f == nil {
		return nil
	}
	return w.closeCurrent()
}

func putU32(b []byte, v uint32) {
	_ = b[3]
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}

func getU32(b []byte) uint32 {
	_ = b[3]
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}
