package part

import (
	"fmt"
	"io"
	"os"
	"sort"
)

// Reader is an open part. It keeps the file descriptor and the metaindex
// (a few bytes per thousand series); index blocks and columns are read on
// demand with ReadAt, so a Reader is safe for concurrent use and costs little
// memory however large the part.
type Reader struct {
	path    string
	f       *os.File
	codec   *Codec
	info    Info
	meta    []metaEntry
	dataEnd int64 // offset of the metaindex: columns and index blocks lie before it
}

// Open opens the part at path and checks its header, footer and metaindex.
// Errors about the content wrap ErrCorrupt.
func Open(path string, c *Codec) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot open part: %w", err)
	}
	r, err := newReader(path, f, c)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("cannot open part %s: %w", path, err)
	}
	return r, nil
}

func newReader(path string, f *os.File, c *Codec) (*Reader, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := st.Size()
	if size < headerSize+footerSize {
		return nil, corrupt("file of %d bytes", size)
	}
	var hdr [headerSize]byte
	if _, err := f.ReadAt(hdr[:], 0); err != nil {
		return nil, err
	}
	if string(hdr[:4]) != magic {
		return nil, corrupt("bad magic")
	}
	if hdr[4] != FormatVersion {
		return nil, fmt.Errorf("part format version %d, this build reads %d", hdr[4], FormatVersion)
	}
	var fb [footerSize]byte
	if _, err := f.ReadAt(fb[:], size-footerSize); err != nil {
		return nil, err
	}
	ft, err := parseFooter(fb[:])
	if err != nil {
		return nil, err
	}
	metaEnd := size - footerSize
	if ft.metaOff < headerSize || ft.metaOff > uint64(metaEnd) || uint64(ft.metaLen) != uint64(metaEnd)-ft.metaOff {
		return nil, corrupt("metaindex outside the file")
	}
	mb := make([]byte, ft.metaLen)
	if _, err := f.ReadAt(mb, int64(ft.metaOff)); err != nil {
		return nil, err
	}
	if checksum(mb) != ft.metaCRC {
		return nil, corrupt("metaindex checksum mismatch")
	}
	meta, err := parseMetaindex(mb, int64(ft.metaOff))
	if err != nil {
		return nil, err
	}
	ft.info.Size = size
	return &Reader{path: path, f: f, codec: c, info: ft.info, meta: meta, dataEnd: int64(ft.metaOff)}, nil
}

func parseMetaindex(b []byte, dataEnd int64) ([]metaEntry, error) {
	d := decoder{b: b}
	n := d.uvarint()
	if n == 0 || n > uint64(len(b)) {
		return nil, corrupt("metaindex of %d entries in %d bytes", n, len(b))
	}
	meta := make([]metaEntry, 0, n)
	var prev uint64
	for i := uint64(0); i < n && d.err == nil; i++ {
		var e metaEntry
		delta := d.uvarint()
		e.firstRef = prev + delta
		e.lastRef = e.firstRef + d.uvarint()
		e.minT = d.varint()
		e.maxT = e.minT + int64(d.uvarint())
		off, size := d.uvarint(), d.uvarint()
		e.crc = d.u32()
		if d.err != nil {
			break
		}
		switch {
		case e.firstRef == 0 || (i > 0 && delta == 0) || e.firstRef < prev || e.lastRef < e.firstRef:
			return nil, corrupt("metaindex refs not ascending")
		case e.maxT < e.minT:
			return nil, corrupt("metaindex time range overflows")
		case off < headerSize || size == 0 || size > maxIndexBlock || off > uint64(dataEnd) || size > uint64(dataEnd)-off:
			return nil, corrupt("index block outside the file")
		}
		e.off, e.size = int64(off), int(size)
		meta = append(meta, e)
		prev = e.lastRef
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(d.b) != 0 {
		return nil, corrupt("%d trailing bytes in metaindex", len(d.b))
	}
	return meta, nil
}

// Info returns what the part's footer says, with the file size.
func (r *Reader) Info() Info { return r.info }

// Path returns the part's file name.
func (r *Reader) Path() string { return r.path }

// Close closes the file.
func (r *Reader) Close() error { return r.f.Close() }

// readIndexBlock reads, checks and parses index block i into c's buffers.
func (r *Reader) readIndexBlock(i int, c *Cursor) error {
	e := r.meta[i]
	c.z = grow(c.z, e.size)
	if _, err := r.f.ReadAt(c.z, e.off); err != nil {
		return fmt.Errorf("cannot read index block of part %s: %w", r.path, err)
	}
	if checksum(c.z) != e.crc {
		return fmt.Errorf("part %s: %w", r.path, corrupt("index block checksum mismatch"))
	}
	raw, err := r.codec.zdec.DecodeAll(c.z, c.raw[:0])
	if err != nil {
		return fmt.Errorf("part %s: %w", r.path, corrupt("index block does not decompress: %v", err))
	}
	c.raw = raw
	c.entries, c.blocks, err = decodeIndexBlock(raw, e, r.dataEnd, c.entries, c.blocks)
	if err != nil {
		c.idx = -1
		return fmt.Errorf("part %s: %w", r.path, err)
	}
	c.idx = i
	return nil
}

func grow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}

// Cursor finds series in a part. It holds one decoded index block at a
// time, so looking series up in ascending ref order reads each index block
// once. A Cursor is used by one goroutine; the slices it returns are valid
// until its next call.
type Cursor struct {
	r       *Reader
	idx     int // metaindex entry of the decoded block, -1 if none
	pos     int // next entry for Next
	entries []SeriesBlocks
	blocks  []BlockMeta
	raw, z  []byte
	err     error
}

// NewCursor returns a cursor positioned before the part's first series.
func (r *Reader) NewCursor() *Cursor { return &Cursor{r: r, idx: -1} }

// Find returns the blocks of series ref, or nil if the part does not hold
// it.
func (c *Cursor) Find(ref uint64) ([]BlockMeta, error) {
	m := c.r.meta
	i := c.idx
	if i < 0 || ref < m[i].firstRef || ref > m[i].lastRef {
		i = sort.Search(len(m), func(j int) bool { return m[j].lastRef >= ref })
		if i == len(m) || ref < m[i].firstRef {
			return nil, nil
		}
		if err := c.r.readIndexBlock(i, c); err != nil {
			return nil, err
		}
	}
	j := sort.Search(len(c.entries), func(j int) bool { return c.entries[j].Ref >= ref })
	if j == len(c.entries) || c.entries[j].Ref != ref {
		return nil, nil
	}
	return c.entries[j].Blocks, nil
}

// Next advances to the next series of the part, in ref order. It returns
// false at the end or on error (see Err).
func (c *Cursor) Next() bool {
	if c.err != nil {
		return false
	}
	if c.idx >= 0 && c.pos < len(c.entries)-1 {
		c.pos++
		return true
	}
	next := c.idx + 1
	if next >= len(c.r.meta) {
		return false
	}
	if err := c.r.readIndexBlock(next, c); err != nil {
		c.err = err
		return false
	}
	c.pos = 0
	return true
}

// At returns the series Next moved to.
func (c *Cursor) At() SeriesBlocks { return c.entries[c.pos] }

// Err returns the error that stopped Next.
func (c *Cursor) Err() error { return c.err }

// BlockBuffer holds the memory ReadBlock reuses. The zero value is ready.
type BlockBuffer struct {
	raw  []byte
	TS   []int64
	Vals []float64
}

// ReadBlock reads, checks and decodes block b into buf.TS and buf.Vals,
// replacing their contents. It allocates only to grow buf.
func (r *Reader) ReadBlock(b BlockMeta, buf *BlockBuffer) error {
	return r.readBlock(b, buf, nil)
}

func (r *Reader) readBlock(b BlockMeta, buf *BlockBuffer, s *Sequential) error {
	tsb, valb, err := r.readRawBlock(b, buf, s)
	if err != nil {
		return err
	}
	if buf.TS, err = r.codec.cols.DecodeTimestamps(buf.TS[:0], tsb); err != nil {
		return fmt.Errorf("part %s: %w: %w", r.path, ErrCorrupt, err)
	}
	if buf.Vals, err = r.codec.cols.DecodeValues(buf.Vals[:0], valb); err != nil {
		return fmt.Errorf("part %s: %w: %w", r.path, ErrCorrupt, err)
	}
	n := len(buf.TS)
	if n != b.Count || len(buf.Vals) != n || buf.TS[0] != b.MinT || buf.TS[n-1] != b.MaxT {
		return fmt.Errorf("part %s: %w", r.path, corrupt("block does not match its index entry"))
	}
	return nil
}

// ReadRawBlock reads block b's two columns into buf and checks their CRCs,
// without decoding them. The returned slices alias buf and are valid until
// its next use.
func (r *Reader) ReadRawBlock(b BlockMeta, buf *BlockBuffer) (tsCol, valCol []byte, err error) {
	return r.readRawBlock(b, buf, nil)
}

// readRawBlock is ReadRawBlock, reading through s when it is not nil.
func (r *Reader) readRawBlock(b BlockMeta, buf *BlockBuffer, s *Sequential) (tsCol, valCol []byte, err error) {
	var tsb, valb []byte
	if b.ValOff == b.TSOff+int64(b.TSLen) {
		buf.raw = grow(buf.raw, b.TSLen+b.ValLen)
		if err := r.read(buf.raw, b.TSOff, s); err != nil {
			return nil, nil, err
		}
		tsb, valb = buf.raw[:b.TSLen], buf.raw[b.TSLen:]
	} else {
		buf.raw = grow(buf.raw, b.TSLen+b.ValLen)
		tsb, valb = buf.raw[:b.TSLen], buf.raw[b.TSLen:]
		if err := r.read(tsb, b.TSOff, s); err != nil {
			return nil, nil, err
		}
		if err := r.read(valb, b.ValOff, s); err != nil {
			return nil, nil, err
		}
	}
	if checksum(tsb) != b.TSCRC || checksum(valb) != b.ValCRC {
		return nil, nil, fmt.Errorf("part %s: %w", r.path, corrupt("block checksum mismatch at offset %d", b.ValOff))
	}
	return tsb, valb, nil
}

func (r *Reader) read(b []byte, off int64, s *Sequential) error {
	if s != nil {
		return s.readAt(b, off)
	}
	return r.readAt(b, off)
}

func (r *Reader) readAt(b []byte, off int64) error {
	if _, err := r.f.ReadAt(b, off); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("cannot read part %s: %w", r.path, err)
	}
	return nil
}
