package part

import (
	"bytes"
	"hash/maphash"
)

// shareWindow is how many recent timestamp columns the writer remembers for
// sharing. A device's fields get consecutive series refs (the ingest path
// creates them together), so their blocks are written close together; a
// window of a few hundred columns covers a device with many fields over a
// long partition while bounding the writer's memory to a few MiB.
const shareWindow = 256

// tsShare remembers the last shareWindow distinct timestamp columns written
// to a part and where they are. A match is confirmed byte for byte, so a
// hash collision can never point a block at the wrong column.
type tsShare struct {
	seed   maphash.Seed
	byHash map[uint64]int // hash -> ring slot
	ring   [shareWindow]sharedCol
	next   int
}

type sharedCol struct {
	hash uint64
	off  int64
	data []byte // a copy of the column, reused when the slot is recycled
	used bool
}

func (s *tsShare) init() {
	s.seed = maphash.MakeSeed()
	s.byHash = make(map[uint64]int, shareWindow)
}

// lookup returns the offset of a column equal to col, if one is remembered.
func (s *tsShare) lookup(col []byte) (int64, bool) {
	i, ok := s.byHash[maphash.Bytes(s.seed, col)]
	if !ok || !bytes.Equal(s.ring[i].data, col) {
		return 0, false
	}
	return s.ring[i].off, true
}

// add remembers col, written at off, evicting the oldest column.
func (s *tsShare) add(col []byte, off int64) {
	slot := &s.ring[s.next]
	if slot.used && s.byHash[slot.hash] == s.next {
		delete(s.byHash, slot.hash)
	}
	h := maphash.Bytes(s.seed, col)
	*slot = sharedCol{hash: h, off: off, data: append(slot.data[:0], col...), used: true}
	s.byHash[h] = s.next
	s.next = (s.next + 1) % shareWindow
}
