package part

import (
	"encoding/binary"
	"math"
)

// An index block, before zstd, lists consecutive series in ref order:
//
//	uvarint series count
//	per series:
//	  uvarint ref - previous ref (the first from 0)
//	  uvarint block count (at least 1)
//	  per block:
//	    varint  min t - previous block's max t (the first from 0)
//	    uvarint max t - min t
//	    uvarint sample count
//	    uvarint timestamp column offset, uvarint length, u32 CRC-32C
//	    uvarint value column offset, uvarint length, u32 CRC-32C

// SeriesBlocks is one series' entry in an index block.
type SeriesBlocks struct {
	Ref    uint64
	Blocks []BlockMeta
}

// appendSeriesEntry appends the entry of one series to an index block
// being built. prevRef is the ref of the previous entry in the block, or 0.
func appendSeriesEntry(dst []byte, prevRef, ref uint64, blocks []BlockMeta) []byte {
	dst = binary.AppendUvarint(dst, ref-prevRef)
	dst = binary.AppendUvarint(dst, uint64(len(blocks)))
	var prevMax int64
	for _, b := range blocks {
		dst = binary.AppendVarint(dst, b.MinT-prevMax)
		dst = binary.AppendUvarint(dst, uint64(b.MaxT-b.MinT))
		dst = binary.AppendUvarint(dst, uint64(b.Count))
		dst = binary.AppendUvarint(dst, uint64(b.TSOff))
		dst = binary.AppendUvarint(dst, uint64(b.TSLen))
		dst = binary.LittleEndian.AppendUint32(dst, b.TSCRC)
		dst = binary.AppendUvarint(dst, uint64(b.ValOff))
		dst = binary.AppendUvarint(dst, uint64(b.ValLen))
		dst = binary.LittleEndian.AppendUint32(dst, b.ValCRC)
		prevMax = b.MaxT
	}
	return dst
}

// decodeIndexBlock parses a decompressed index block into dst, reusing its
// memory, and checks it against what the metaindex and footer say: refs
// ascending within [e.firstRef, e.lastRef], blocks ordered and inside the
// data section. It returns the entries and the backing block slice.
func decodeIndexBlock(raw []byte, e metaEntry, dataEnd int64, dst []SeriesBlocks, blocks []BlockMeta) ([]SeriesBlocks, []BlockMeta, error) {
	d := decoder{b: raw}
	n := d.uvarint()
	if n == 0 || n > uint64(len(raw)) {
		return nil, nil, corrupt("index block with %d series in %d bytes", n, len(raw))
	}
	dst, blocks = dst[:0], blocks[:0]
	var ref uint64
	for i := uint64(0); i < n && d.err == nil; i++ {
		delta := d.uvarint()
		if i > 0 && delta == 0 || ref+delta < ref {
			return nil, nil, corrupt("series refs not ascending in index block")
		}
		ref += delta
		nb := d.uvarint()
		if nb == 0 || nb > uint64(len(d.b)) {
			return nil, nil, corrupt("series %d with %d blocks", ref, nb)
		}
		start := len(blocks)
		var prevMax int64
		for j := uint64(0); j < nb && d.err == nil; j++ {
			var b BlockMeta
			b.MinT = prevMax + d.varint()
			span := d.uvarint()
			b.Count = int(min(d.uvarint(), math.MaxInt32))
			b.TSOff, b.TSLen, b.TSCRC = int64(min(d.uvarint(), math.MaxInt64)), int(min(d.uvarint(), maxColumn+1)), d.u32()
			b.ValOff, b.ValLen, b.ValCRC = int64(min(d.uvarint(), math.MaxInt64)), int(min(d.uvarint(), maxColumn+1)), d.u32()
			if d.err != nil {
				break
			}
			if span > math.MaxInt64 || b.MinT > math.MaxInt64-int64(span) {
				return nil, nil, corrupt("block time span overflows")
			}
			b.MaxT = b.MinT + int64(span)
			if err := b.check(j > 0, prevMax, dataEnd); err != nil {
				return nil, nil, err
			}
			prevMax = b.MaxT
			blocks = append(blocks, b)
		}
		dst = append(dst, SeriesBlocks{Ref: ref, Blocks: blocks[start:len(blocks):len(blocks)]})
	}
	if d.err != nil {
		return nil, nil, d.err
	}
	if len(d.b) != 0 {
		return nil, nil, corrupt("%d trailing bytes in index block", len(d.b))
	}
	if dst[0].Ref != e.firstRef || dst[len(dst)-1].Ref != e.lastRef {
		return nil, nil, corrupt("index block refs [%d, %d], metaindex says [%d, %d]",
			dst[0].Ref, dst[len(dst)-1].Ref, e.firstRef, e.lastRef)
	}
	return dst, blocks, nil
}

// check validates a decoded block meta.
func (b *BlockMeta) check(notFirst bool, prevMax, dataEnd int64) error {
	switch {
	case b.Count < 1 || b.Count > maxBlockSamples:
		return corrupt("block of %d samples", b.Count)
	case notFirst && b.MinT <= prevMax:
		return corrupt("blocks of a series overlap")
	case b.Count == 1 && b.MinT != b.MaxT, b.Count > 1 && b.MaxT-b.MinT < int64(b.Count-1):
		return corrupt("block time range does not fit its sample count")
	case b.TSLen < 2 || b.TSLen > maxColumn || b.ValLen < 2 || b.ValLen > maxColumn:
		return corrupt("column length out of range")
	case b.TSOff < headerSize || b.TSOff > dataEnd-int64(b.TSLen),
		b.ValOff < headerSize || b.ValOff > dataEnd-int64(b.ValLen):
		return corrupt("column outside the file")
	}
	return nil
}

// decoder reads varints from a byte slice, remembering the first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = corrupt("truncated")
	}
	d.b = nil
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) u32() uint32 {
	if len(d.b) < 4 {
		d.fail()
		return 0
	}
	v := binary.LittleEndian.Uint32(d.b)
	d.b = d.b[4:]
	return v
}
