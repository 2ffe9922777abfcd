package part

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/quantrac/quantrac/internal/fsutil"
)

// WriterOptions configure a Writer. The zero value is valid.
type WriterOptions struct {
	// MinSeq and MaxSeq are the flush sequence numbers the part's samples
	// come from; they order parts for "last write wins" (docs/storage.md).
	MinSeq, MaxSeq uint64
	// NoSharedTimestamps stores every timestamp column, even one identical
	// to a column just written. Only for measuring what sharing saves.
	NoSharedTimestamps bool
	// Throttle, when set, is called before each write with its size; it may
	// sleep to bound the writer's I/O rate. Merges use it.
	Throttle func(n int)
}

// Writer writes one part. It is used by one goroutine. Create starts it,
// AppendBlock or WriteSeries add samples series by series in ascending ref
// order, and Finish makes the part durable under its final name; Abort
// removes the temporary file instead.
type Writer struct {
	path, tmp string
	opts      WriterOptions
	codec     *Codec
	f         *os.File
	bw        *bufio.Writer
	off       int64
	info      Info
	err       error // first write error; the writer is unusable after it

	// The series being written and its blocks so far.
	curRef    uint64
	curBlocks []BlockMeta

	// The index block being built.
	ib      []byte
	ibN     int
	ibFirst uint64
	ibPrev  uint64
	ibMinT  int64
	ibMaxT  int64
	meta    []metaEntry
	zbuf    []byte
	tsCol   []byte
	valCol  []byte
	shared  tsShare
	started bool // a block was appended
}

// Create starts a part that Finish will place at path. The bytes go to
// path+TempSuffix meanwhile.
func Create(path string, c *Codec, opts WriterOptions) (*Writer, error) {
	tmp := path + TempSuffix
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("cannot create part %s: %w", tmp, err)
	}
	w := &Writer{path: path, tmp: tmp, opts: opts, codec: c, f: f, bw: bufio.NewWriterSize(f, 256<<10)}
	w.shared.init()
	w.info.MinSeq, w.info.MaxSeq = opts.MinSeq, opts.MaxSeq
	hdr := [headerSize]byte{magic[0], magic[1], magic[2], magic[3], FormatVersion}
	w.write(hdr[:])
	return w, w.err
}

func (w *Writer) write(b []byte) {
	if w.err != nil {
		return
	}
	if w.opts.Throttle != nil {
		w.opts.Throttle(len(b))
	}
	if _, err := w.bw.Write(b); err != nil {
		w.err = fmt.Errorf("cannot write part %s: %w", w.tmp, err)
		return
	}
	w.off += int64(len(b))
}

// WriteSeries appends all samples of series ref, cutting them into blocks
// of at most MaxBlockSamples from the first sample on, so that series with
// the same timestamps get the same blocks and share their timestamp
// columns. ts must ascend strictly; ts and vals are only read.
func (w *Writer) WriteSeries(ref uint64, ts []int64, vals []float64) error {
	if len(ts) != len(vals) {
		return fmt.Errorf("cannot write series %d: %d timestamps, %d values", ref, len(ts), len(vals))
	}
	for len(ts) > 0 {
		n := min(len(ts), maxBlockSamples)
		if err := w.AppendBlock(ref, ts[:n], vals[:n]); err != nil {
			return err
		}
		ts, vals = ts[n:], vals[n:]
	}
	return nil
}

// AppendBlock appends one block of series ref: 1 to MaxBlockSamples
// samples, timestamps strictly ascending and after the series' previous
// block. Refs must not descend between calls. ts and vals are only read.
func (w *Writer) AppendBlock(ref uint64, ts []int64, vals []float64) error {
	if w.err != nil {
		return w.err
	}
	n := len(ts)
	if n == 0 || n > maxBlockSamples || len(vals) != n {
		return fmt.Errorf("cannot write block of series %d: %d timestamps, %d values", ref, n, len(vals))
	}
	for i := 1; i < n; i++ {
		if ts[i] <= ts[i-1] {
			return fmt.Errorf("cannot write block of series %d: timestamps do not ascend at %d", ref, i)
		}
	}
	switch {
	case ref == 0 || w.started && ref < w.curRef:
		return fmt.Errorf("cannot write block of series %d after series %d", ref, w.curRef)
	case w.started && ref == w.curRef && ts[0] <= w.curBlocks[len(w.curBlocks)-1].MaxT:
		return fmt.Errorf("cannot write block of series %d: it overlaps the previous block", ref)
	case w.started && ref != w.curRef:
		w.endSeries()
	}
	w.started, w.curRef = true, ref

	b := BlockMeta{MinT: ts[0], MaxT: ts[n-1], Count: n}
	w.tsCol = w.codec.cols.AppendTimestamps(w.tsCol[:0], ts)
	w.valCol = w.codec.cols.AppendValues(w.valCol[:0], vals)
	b.TSLen, b.TSCRC = len(w.tsCol), checksum(w.tsCol)
	if off, ok := w.shared.lookup(w.tsCol); ok && !w.opts.NoSharedTimestamps {
		b.TSOff = off
	} else {
		b.TSOff = w.off
		w.write(w.tsCol)
		w.shared.add(w.tsCol, b.TSOff)
		w.info.TSBytes += uint64(b.TSLen)
	}
	b.ValOff, b.ValLen, b.ValCRC = w.off, len(w.valCol), checksum(w.valCol)
	w.write(w.valCol)
	w.info.ValBytes += uint64(b.ValLen)
	w.curBlocks = append(w.curBlocks, b)
	w.info.Blocks++
	w.info.Samples += uint64(n)
	return w.err
}

// endSeries adds the finished series to the index block.
func (w *Writer) endSeries() {
	bs := w.curBlocks
	if len(bs) == 0 {
		return
	}
	if w.ibN == 0 {
		w.ibFirst, w.ibPrev = w.curRef, 0
		w.ibMinT, w.ibMaxT = bs[0].MinT, bs[len(bs)-1].MaxT
	}
	w.ib = appendSeriesEntry(w.ib, w.ibPrev, w.curRef, bs)
	w.ibPrev = w.curRef
	w.ibN++
	w.ibMinT, w.ibMaxT = min(w.ibMinT, bs[0].MinT), max(w.ibMaxT, bs[len(bs)-1].MaxT)
	if w.info.Series == 0 {
		w.info.MinT, w.info.MaxT = bs[0].MinT, bs[len(bs)-1].MaxT
	}
	w.info.MinT, w.info.MaxT = min(w.info.MinT, bs[0].MinT), max(w.info.MaxT, bs[len(bs)-1].MaxT)
	w.info.Series++
	w.curBlocks = w.curBlocks[:0]
	if len(w.ib) >= indexBlockTarget {
		w.endIndexBlock()
	}
}

// endIndexBlock compresses and writes the index block being built.
func (w *Writer) endIndexBlock() {
	if w.ibN == 0 {
		return
	}
	raw := binary.AppendUvarint(w.zbuf[:0], uint64(w.ibN))
	raw = append(raw, w.ib...)
	z := w.codec.zenc.EncodeAll(raw, make([]byte, 0, len(raw)/2))
	w.zbuf = raw
	w.meta = append(w.meta, metaEntry{
		firstRef: w.ibFirst, lastRef: w.ibPrev, minT: w.ibMinT, maxT: w.ibMaxT,
		off: w.off, size: len(z), crc: checksum(z),
	})
	w.write(z)
	w.ib, w.ibN = w.ib[:0], 0
}

// ErrEmpty is returned by Finish for a part without samples.
var ErrEmpty = errors.New("part has no samples")

// Finish writes the index and footer, fsyncs the file, renames it to its
// final name and fsyncs the directory. On error the temporary file is
// removed. The returned Info includes the file size.
func (w *Writer) Finish() (Info, error) {
	if w.started {
		w.endSeries()
	}
	w.endIndexBlock()
	if w.err == nil && w.info.Series == 0 {
		w.err = ErrEmpty
	}
	ft := footer{metaOff: uint64(w.off), info: w.info}
	mb := appendMetaindex(nil, w.meta)
	ft.metaLen, ft.metaCRC = uint32(len(mb)), checksum(mb)
	w.write(mb)
	w.write(ft.append(nil))
	if w.err == nil {
		w.err = w.sync()
	}
	if w.err != nil {
		w.Abort()
		return Info{}, w.err
	}
	w.info.Size = w.off
	return w.info, nil
}

func (w *Writer) sync() error {
	if err := w.bw.Flush(); err != nil {
		return fmt.Errorf("cannot write part %s: %w", w.tmp, err)
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("cannot fsync part %s: %w", w.tmp, err)
	}
	err := w.f.Close()
	w.f = nil
	if err != nil {
		return fmt.Errorf("cannot close part %s: %w", w.tmp, err)
	}
	if err := os.Rename(w.tmp, w.path); err != nil {
		return fmt.Errorf("cannot rename part into place: %w", err)
	}
	return fsutil.SyncDir(filepath.Dir(w.path))
}

// Abort discards the part being written.
func (w *Writer) Abort() {
	if w.f != nil {
		w.f.Close()
		w.f = nil
	}
	os.Remove(w.tmp)
}

// appendMetaindex encodes the metaindex:
//
//	uvarint entry count
//	per entry: uvarint first ref - previous last ref, uvarint last - first ref,
//	           varint min t, uvarint max t - min t,
//	           uvarint offset, uvarint size, u32 CRC-32C of the stored block
func appendMetaindex(dst []byte, meta []metaEntry) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(meta)))
	var prev uint64
	for _, e := range meta {
		dst = binary.AppendUvarint(dst, e.firstRef-prev)
		dst = binary.AppendUvarint(dst, e.lastRef-e.firstRef)
		dst = binary.AppendVarint(dst, e.minT)
		dst = binary.AppendUvarint(dst, uint64(e.maxT-e.minT))
		dst = binary.AppendUvarint(dst, uint64(e.off))
		dst = binary.AppendUvarint(dst, uint64(e.size))
		dst = binary.LittleEndian.AppendUint32(dst, e.crc)
		prev = e.lastRef
	}
	return dst
}

// AppendRawBlock appends a block copied from another part without decoding
// it: b describes it (its offsets are ignored) and tsCol and valCol are its
// columns as ReadRawBlock returned them. The same ordering rules as
// AppendBlock apply.
func (w *Writer) AppendRawBlock(ref uint64, b BlockMeta, tsCol, valCol []byte) error {
	if w.err != nil {
		return w.err
	}
	switch {
	case ref == 0 || w.started && ref < w.curRef:
		return fmt.Errorf("cannot write block of series %d after series %d", ref, w.curRef)
	case w.started && ref == w.curRef && b.MinT <= w.curBlocks[len(w.curBlocks)-1].MaxT:
		return fmt.Errorf("cannot write block of series %d: it overlaps the previous block", ref)
	case w.started && ref != w.curRef:
		w.endSeries()
	}
	w.started, w.curRef = true, ref
	if off, ok := w.shared.lookup(tsCol); ok && !w.opts.NoSharedTimestamps {
		b.TSOff = off
	} else {
		b.TSOff = w.off
		w.write(tsCol)
		w.shared.add(tsCol, b.TSOff)
		w.info.TSBytes += uint64(len(tsCol))
	}
	b.ValOff = w.off
	w.write(valCol)
	w.info.ValBytes += uint64(len(valCol))
	w.curBlocks = append(w.curBlocks, b)
	w.info.Blocks++
	w.info.Samples += uint64(b.Count)
	return w.err
}
