package forward

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"

	"github.com/quantrac/quantrac/internal/fsutil"
)

// A cursor file holds the position up to which a destination has
// acknowledged everything:
//
//	"QFCR", version byte, 3 zero bytes,
//	u64 LE segment, u64 LE offset, u64 LE sequence number,
//	u32 LE CRC-32C of the preceding 32 bytes
const (
	cursorMagic   = "QFCR"
	cursorVersion = 1
	cursorSize    = 36
)

// errNoCursor means the destination has never persisted a position.
var errNoCursor = errors.New("no cursor")

func appendCursor(dst []byte, p Position) []byte {
	start := len(dst)
	dst = append(dst, cursorMagic...)
	dst = append(dst, cursorVersion, 0, 0, 0)
	dst = binary.LittleEndian.AppendUint64(dst, p.Segment)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(p.Offset))
	dst = binary.LittleEndian.AppendUint64(dst, p.Seq)
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli))
}

// decodeCursor parses a cursor file's content.
func decodeCursor(b []byte) (Position, error) {
	if len(b) != cursorSize || string(b[:4]) != cursorMagic {
		return Position{}, errors.New("not a forward cursor file")
	}
	if b[4] != cursorVersion {
		return Position{}, fmt.Errorf("cursor format version %d, this build reads %d", b[4], cursorVersion)
	}
	if crc32.Checksum(b[:32], castagnoli) != binary.LittleEndian.Uint32(b[32:]) {
		return Position{}, errors.New("cursor checksum mismatch")
	}
	off := binary.LittleEndian.Uint64(b[16:])
	if off > maxRecordBytes*64 {
		return Position{}, errors.New("cursor offset out of range")
	}
	return Position{Segment: binary.LittleEndian.Uint64(b[8:]), Offset: int64(off),
		Seq: binary.LittleEndian.Uint64(b[24:])}, nil
}

// cursorFile persists one destination's position: written to a temporary
// file, fsynced, renamed over the previous one.
type cursorFile struct {
	path string
	buf  []byte
}

func newCursorFile(dir, name string) *cursorFile {
	return &cursorFile{path: filepath.Join(dir, name)}
}

func (c *cursorFile) load() (Position, error) {
	b, err := os.ReadFile(c.path)
	if errors.Is(err, os.ErrNotExist) {
		return Position{}, errNoCursor
	}
	if err != nil {
		return Position{}, fmt.Errorf("cannot read forward cursor: %w", err)
	}
	p, err := decodeCursor(b)
	if err != nil {
		return Position{}, fmt.Errorf("cannot read forward cursor %s: %w", c.path, err)
	}
	return p, nil
}

func (c *cursorFile) store(p Position) error {
	c.buf = appendCursor(c.buf[:0], p)
	tmp := c.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("cannot write forward cursor: %w", err)
	}
	_, werr := f.Write(c.buf)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return fmt.Errorf("cannot write forward cursor %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, c.path); err != nil {
		return fmt.Errorf("cannot replace forward cursor: %w", err)
	}
	return fsutil.SyncDir(filepath.Dir(c.path))
}
