package part

// Sequential reads one part's blocks through a read-ahead window, for a
// reader that takes them in file order, as a merge does: one system call
// per window instead of one or two per block. A head flush writes blocks of
// a few dozen samples, a few hundred bytes each, and merging them block by
// block spent a third of the merge in pread. A block whose timestamp column
// is shared with an earlier series points back a little way; the window
// then starts at that column, so the value column after it is inside too.
//
// A Sequential belongs to one goroutine; the Reader may serve others at
// the same time.
type Sequential struct {
	r     *Reader
	size  int    // of a full window
	win   []byte // the file's bytes [off, off+len(win))
	off   int64
	fills int // windows read, for tests
}

// Sequential returns a read-ahead reader of r with a window of size bytes.
func (r *Reader) Sequential(size int) *Sequential {
	return &Sequential{r: r, size: size}
}

// ReadBlock is Reader.ReadBlock through the window.
func (s *Sequential) ReadBlock(b BlockMeta, buf *BlockBuffer) error {
	return s.r.readBlock(b, buf, s)
}

// ReadRawBlock is Reader.ReadRawBlock through the window.
func (s *Sequential) ReadRawBlock(b BlockMeta, buf *BlockBuffer) (tsCol, valCol []byte, err error) {
	return s.r.readRawBlock(b, buf, s)
}

func (s *Sequential) readAt(b []byte, off int64) error {
	end := off + int64(len(b))
	if off >= s.off && end <= s.off+int64(len(s.win)) {
		copy(b, s.win[off-s.off:])
		return nil
	}
	if len(b) >= s.size {
		return s.r.readAt(b, off)
	}
	n := min(int64(s.size), s.r.info.Size-off)
	if n < int64(len(b)) {
		n = int64(len(b)) // past the end: readAt reports it
	}
	if cap(s.win) < int(n) {
		s.win = make([]byte, s.size)
	}
	s.win = s.win[:n]
	if err := s.r.readAt(s.win, off); err != nil {
		s.win = s.win[:0]
		return err
	}
	s.off = off
	s.fills++
	copy(b, s.win)
	return nil
}
