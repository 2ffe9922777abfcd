package ledger

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/quantrac/quantrac/gateway-firmware-sim/batch"
)

// Writer appends entries to a ledger file. It is safe for concurrent use by
// all gateways of a simulator.
type Writer struct {
	mu struct {
		sync.Mutex
		f       *os.File
		pending []byte // encoded records not yet written to f
		dirty   bool   // written to f, not yet fsynced
		scratch []byte
		err     error // first write error; the writer refuses further work
	}
}

// flushAt is the buffered size at which Append writes (without fsync).
const flushAt = 1 << 20

// Open opens the ledger at path for appending, creating it if needed. An
// existing ledger keeps its entries: a restarted simulator adds to it. A torn
// record at its end (a crash during a write) is cut off.
func Open(path string) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("cannot open ledger: %w", err)
	}
	end, err := validEnd(f)
	if err == nil && end == 0 {
		hdr := []byte{magic[0], magic[1], magic[2], magic[3], version, 0, 0, 0}
		_, err = f.WriteAt(hdr, 0)
		end = fileHeaderSize
	}
	if err == nil {
		err = f.Truncate(end)
	}
	if err == nil {
		_, err = f.Seek(end, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("cannot open ledger %s: %w", path, err)
	}
	w := &Writer{}
	w.mu.f = f
	return w, nil
}

// validEnd returns the offset just past the last complete record, or 0 for
// an empty file.
func validEnd(f *os.File) (int64, error) {
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		return 0, err
	}
	r := newReader(io.NewSectionReader(f, 0, st.Size()))
	var e Entry
	for {
		ok, err := r.next(&e)
		if err != nil {
			return 0, err
		}
		if !ok {
			return r.off, nil
		}
	}
}

// Append records e. For an Acked entry e.Batch is encoded; the writer keeps
// no reference to e. The entry is durable after the next Sync.
func (w *Writer) Append(e *Entry) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.mu.err != nil {
		return w.mu.err
	}
	if e.Type == Acked {
		w.mu.scratch = batch.Append(w.mu.scratch[:0], &e.Batch)
	}
	w.mu.pending = appendEntry(w.mu.pending, e, w.mu.scratch)
	if len(w.mu.pending) >= flushAt {
		return w.flushLocked()
	}
	return nil
}

// AppendAcked records an acknowledged batch given in batch.Append form,
// which a gateway replaying its queue already has. e.Batch is ignored.
func (w *Writer) AppendAcked(e *Entry, batchBin []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.mu.err != nil {
		return w.mu.err
	}
	w.mu.pending = appendEntry(w.mu.pending, e, batchBin)
	if len(w.mu.pending) >= flushAt {
		return w.flushLocked()
	}
	return nil
}

// flushLocked writes pending records to the file. w.mu must be held.
func (w *Writer) flushLocked() error {
	if len(w.mu.pending) == 0 {
		return nil
	}
	if _, err := w.mu.f.Write(w.mu.pending); err != nil {
		w.mu.err = fmt.Errorf("cannot write ledger: %w", err)
		return w.mu.err
	}
	w.mu.pending = w.mu.pending[:0]
	w.mu.dirty = true
	return nil
}

// Sync writes buffered entries and fsyncs the file.
func (w *Writer) Sync() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.flushLocked(); err != nil {
		return err
	}
	if !w.mu.dirty {
		return nil
	}
	if err := w.mu.f.Sync(); err != nil {
		w.mu.err = fmt.Errorf("cannot sync ledger: %w", err)
		return w.mu.err
	}
	w.mu.dirty = false
	return nil
}

// Close syncs and closes the ledger.
func (w *Writer) Close() error {
	err := w.Sync()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.mu.f == nil {
		return err
	}
	err = errors.Join(err, w.mu.f.Close())
	w.mu.f = nil
	if w.mu.err == nil {
		w.mu.err = errors.New("ledger is closed")
	}
	return err
}
