package queue

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
)

// Cursor file layout: two 32-byte slots at offsets 0 and 32, each
//
//	"gwsc" | version u8 | 3 zero bytes | generation u64 | head u64 | crc32c u32 | 4 zero bytes
//
// with the CRC over the first 24 bytes. Checkpoint writes generation g to
// slot g%2, so the slot it may tear is never the newest valid one. Open takes
// the valid slot with the higher generation; with none, the head is 0.
const (
	cursorName     = "cursor"
	cursorMagic    = "gwsc"
	cursorVersion  = 1
	cursorSlotSize = 32
)

func (q *Queue) openCursor() error {
	f, err := os.OpenFile(filepath.Join(q.opts.Dir, cursorName), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("cannot open queue cursor: %w", err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return fmt.Errorf("cannot lock queue %s: %w", q.opts.Dir, err)
	}
	var buf [2 * cursorSlotSize]byte
	n, _ := f.ReadAt(buf[:], 0)
	for slot := 0; slot+cursorSlotSize <= n; slot += cursorSlotSize {
		gen, head, ok := parseCursorSlot(buf[slot : slot+cursorSlotSize])
		if ok && gen >= q.cursorGen {
			q.cursorGen, q.cursorHead = gen, head
		}
	}
	q.cursor = f
	return nil
}

func parseCursorSlot(b []byte) (gen, head uint64, ok bool) {
	if string(b[:4]) != cursorMagic || b[4] != cursorVersion ||
		crc32.Checksum(b[:24], castagnoli) != binary.LittleEndian.Uint32(b[24:]) {
		return 0, 0, false
	}
	return binary.LittleEndian.Uint64(b[8:]), binary.LittleEndian.Uint64(b[16:]), true
}

// Checkpoint makes the head durable if it moved since the last checkpoint:
// acknowledged and dropped records are then not replayed after a restart.
// Until a checkpoint, a crash replays them (at-least-once). It writes one
// 32-byte slot and fsyncs; call it on a timer, not after every Ack.
func (q *Queue) Checkpoint() error {
	if q.head == q.cursorHead {
		return nil
	}
	gen := q.cursorGen + 1
	var b [cursorSlotSize]byte
	copy(b[:], cursorMagic)
	b[4] = cursorVersion
	binary.LittleEndian.PutUint64(b[8:], gen)
	binary.LittleEndian.PutUint64(b[16:], q.head)
	binary.LittleEndian.PutUint32(b[24:], crc32.Checksum(b[:24], castagnoli))
	if _, err := q.cursor.WriteAt(b[:], int64(gen%2)*cursorSlotSize); err != nil {
		return fmt.Errorf("cannot write queue cursor: %w", err)
	}
	if err := q.sync(q.cursor); err != nil {
		return fmt.Errorf("cannot sync queue cursor: %w", err)
	}
	q.cursorGen, q.cursorHead = gen, q.head
	return nil
}
