package tsdb

import (
	"math"
	"slices"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/quantrac/quantrac/tsdb/part"
)

// Iterator returns an iterator over the series' samples in the selected
// range, in time order, one per timestamp.
//
// The samples are cut into segments that do not overlap in time: a part
// block that overlaps nothing else stays a lazy segment, decoded only when
// the iterator reaches it; blocks that overlap each other or the in-memory
// samples (late data not merged yet) are merged into one segment in memory,
// the newest write winning; in-memory samples between blocks form their own
// segments. A block that reaches outside the range is trimmed in memory
// too, so the iterator never returns samples outside the range. Prometheus'
// chain iterator walks the segments: its Seek skips a
// block whose first timestamp is already past the target without decoding
// it, because a lazy segment answers its first and last timestamp from the
// block index. At most two decoded blocks are held per series.
//
// (Our own types never declare a Seek method: go vet's stdmethods check
// wants every Seek to be io.Seeker's. Seek comes from Prometheus' list and
// chain iterators.)
func (s *qseries) Iterator(it chunkenc.Iterator) chunkenc.Iterator {
	segs := s.segments()
	switch len(segs) {
	case 0:
		return chunkenc.NewNopIterator()
	case 1:
		return segs[0].Iterator(it)
	}
	return storage.ChainSampleIteratorFromIterables(it, segs)
}

// inMemory merges the head and frozen samples, the head winning a tie.
func (s *qseries) inMemory() fsamples {
	if len(s.frozenTS) == 0 {
		return s.head
	}
	out := make(fsamples, 0, len(s.head)+len(s.frozenTS))
	h := s.head
	for i, t := range s.frozenTS {
		for len(h) > 0 && h[0].t < t {
			out, h = append(out, h[0]), h[1:]
		}
		if len(h) > 0 && h[0].t == t {
			continue // the head's sample is newer and comes next
		}
		out = append(out, fsample{t: t, f: s.frozenVals[i]})
	}
	return append(out, h...)
}

// segments cuts the series into non-overlapping segments in time order.
func (s *qseries) segments() []chunkenc.Iterable {
	mem := s.inMemory()
	blocks := s.blocks
	slices.SortStableFunc(blocks, func(a, b qblock) int {
		switch {
		case a.meta.MinT < b.meta.MinT:
			return -1
		case a.meta.MinT > b.meta.MinT:
			return 1
		}
		return 0
	})
	cache := &decodeCache{}
	var segs []chunkenc.Iterable
	for len(blocks) > 0 {
		// A cluster: blocks whose time ranges chain into one interval.
		lo, hi := blocks[0].meta.MinT, blocks[0].meta.MaxT
		n := 1
		for n < len(blocks) && blocks[n].meta.MinT <= hi {
			hi = max(hi, blocks[n].meta.MaxT)
			n++
		}
		cluster := blocks[:n]
		blocks = blocks[n:]
		// In-memory samples before the cluster form their own segment.
		before := 0
		for before < len(mem) && mem[before].t < lo {
			before++
		}
		if before > 0 {
			segs = append(segs, mem[:before])
			mem = mem[before:]
		}
		inside := 0
		for inside < len(mem) && mem[inside].t <= hi {
			inside++
		}
		if b := cluster[0].meta; n == 1 && inside == 0 {
			if b.MinT >= s.mint && b.MaxT <= s.maxt {
				segs = append(segs, newBlockSeg(cluster[0], cache))
				continue
			}
			// A block at an edge of the range: decoded now and cut.
			trimmed, err := trimBlock(cluster[0], s.mint, s.maxt, cache.scratch())
			if err != nil {
				segs = append(segs, &errSeg{err: err})
				return segs
			}
			if len(trimmed) > 0 {
				segs = append(segs, trimmed)
			}
			continue
		}
		merged, err := mergeCluster(cluster, mem[:inside], s.mint, s.maxt)
		if err != nil {
			segs = append(segs, &errSeg{err: err})
			return segs
		}
		mem = mem[inside:]
		if len(merged) > 0 {
			segs = append(segs, merged)
		}
	}
	if len(mem) > 0 {
		segs = append(segs, mem)
	}
	return segs
}

// trimBlock decodes a block that overlaps nothing else and returns its
// samples in [mint, maxt], using buf to decode.
func trimBlock(b qblock, mint, maxt int64, buf *part.BlockBuffer) (fsamples, error) {
	if err := b.r.ReadBlock(b.meta, buf); err != nil {
		return nil, err
	}
	lo, _ := slices.BinarySearch(buf.TS, mint)
	hi, found := slices.BinarySearch(buf.TS, maxt)
	if found {
		hi++
	}
	if lo >= hi {
		return nil, nil
	}
	out := make(fsamples, hi-lo)
	for i := range out {
		out[i] = fsample{t: buf.TS[lo+i], f: buf.Vals[lo+i]}
	}
	return out, nil
}

// mergeCluster decodes overlapping blocks and merges them with in-memory
// samples: for a timestamp present more than once, the block of the newest
// part wins, and an in-memory sample wins over every block. Only samples in
// [mint, maxt] are kept.
func mergeCluster(blocks []qblock, mem fsamples, mint, maxt int64) (fsamples, error) {
	type ranked struct {
		fsample
		prio uint64
	}
	var all []ranked
	var buf part.BlockBuffer
	for _, b := range blocks {
		if err := b.r.ReadBlock(b.meta, &buf); err != nil {
			return nil, err
		}
		for i, t := range buf.TS {
			all = append(all, ranked{fsample{t, buf.Vals[i]}, b.prio})
		}
	}
	for _, m := range mem {
		all = append(all, ranked{m, math.MaxUint64})
	}
	slices.SortStableFunc(all, func(a, b ranked) int {
		switch {
		case a.t != b.t:
			if a.t < b.t {
				return -1
			}
			return 1
		case a.prio < b.prio:
			return -1
		case a.prio > b.prio:
			return 1
		}
		return 0
	})
	out := make(fsamples, 0, len(all))
	for i, r := range all {
		if i+1 < len(all) && all[i+1].t == r.t {
			continue // a later entry for this timestamp ranks higher
		}
		if r.t >= mint && r.t <= maxt {
			out = append(out, r.fsample)
		}
	}
	return out, nil
}

// errSeg is a segment that could not be read: its iterator is empty and
// reports the error.
type errSeg struct{ err error }

func (e *errSeg) Iterator(chunkenc.Iterator) chunkenc.Iterator {
	return storage.ErrSeriesSet(e.err).At().Iterator(nil)
}

// decodeCache holds the decoded blocks of one series iterator: two buffers,
// so that the block being read and the one a Seek just probed can both
// stay, and every other block is decoded again only if it is revisited.
type decodeCache struct {
	bufs  [2]part.BlockBuffer
	owner [2]*blockSeg
	last  int
}

// scratch returns a buffer for decoding a block that is copied out at
// once. Only segments uses it, before any lazy block is decoded.
func (c *decodeCache) scratch() *part.BlockBuffer {
	if c.owner[0] != nil {
		panic("BUG: tsdb: scratch buffer asked for after a lazy block was decoded")
	}
	return &c.bufs[0]
}

// blockSeg is a part block read lazily. It implements storage.Samples for
// Prometheus' list iterator: its first and last timestamps come from the
// block index, every other access decodes the block.
type blockSeg struct {
	r     *part.Reader
	meta  part.BlockMeta
	cache *decodeCache
	slot  int // buffer in cache holding the decoded block, -1 if none
	edges [2]edgeSample
	cur   fsample // the sample Get returned last
	err   error
}

func newBlockSeg(b qblock, cache *decodeCache) *blockSeg {
	s := &blockSeg{r: b.r, meta: b.meta, cache: cache, slot: -1}
	s.edges[0] = edgeSample{seg: s, i: 0, t: b.meta.MinT}
	s.edges[1] = edgeSample{seg: s, i: b.meta.Count - 1, t: b.meta.MaxT}
	return s
}

// Iterator returns a list iterator over the block.
func (s *blockSeg) Iterator(chunkenc.Iterator) chunkenc.Iterator {
	return &blockIter{Iterator: storage.NewListSeriesIterator(s), seg: s}
}

// Len returns the block's sample count, or 0 once reading it failed.
func (s *blockSeg) Len() int {
	if s.err != nil {
		return 0
	}
	return s.meta.Count
}

// Get returns sample i. The returned sample is valid until the next Get.
func (s *blockSeg) Get(i int) chunks.Sample {
	if !s.decoded() {
		switch i {
		case 0:
			return &s.edges[0]
		case s.meta.Count - 1:
			return &s.edges[1]
		}
		if !s.decode() {
			return &s.edges[0]
		}
	}
	b := &s.cache.bufs[s.slot]
	s.cur = fsample{t: b.TS[i], f: b.Vals[i]}
	return &s.cur
}

func (s *blockSeg) decoded() bool { return s.slot >= 0 && s.cache.owner[s.slot] == s }

// decode reads the block into the least recently used buffer, evicting the
// block that held it. It reports false, and sets s.err, on failure.
func (s *blockSeg) decode() bool {
	if s.err != nil {
		return false
	}
	c := s.cache
	slot := 1 - c.last
	if c.owner[slot] == nil {
		slot = 0
		if c.owner[0] != nil {
			slot = 1
		}
	}
	if o := c.owner[slot]; o != nil {
		o.slot = -1
	}
	c.owner[slot] = nil
	if err := s.r.ReadBlock(s.meta, &c.bufs[slot]); err != nil {
		s.err = err
		return false
	}
	c.owner[slot], s.slot, c.last = s, slot, slot
	return true
}

// value returns sample i's value, decoding the block if needed.
func (s *blockSeg) value(i int) float64 {
	if !s.decoded() && !s.decode() {
		return math.NaN()
	}
	return s.cache.bufs[s.slot].Vals[i]
}

// edgeSample is a block's first or last sample before the block is
// decoded: its timestamp is known from the index, its value is not.
type edgeSample struct {
	seg *blockSeg
	i   int
	t   int64
}

func (e *edgeSample) T() int64                      { return e.t }
func (e *edgeSample) ST() int64                     { return 0 }
func (e *edgeSample) F() float64                    { return e.seg.value(e.i) }
func (e *edgeSample) H() *histogram.Histogram       { return nil }
func (e *edgeSample) FH() *histogram.FloatHistogram { return nil }
func (e *edgeSample) Type() chunkenc.ValueType      { return chunkenc.ValFloat }
func (e *edgeSample) Copy() chunks.Sample           { return &fsample{t: e.t, f: e.F()} }

// blockIter is Prometheus' list iterator over a lazy block, with the
// block's read error reported by Err.
type blockIter struct {
	chunkenc.Iterator
	seg *blockSeg
}

// Err returns the error reading the block, if any.
func (it *blockIter) Err() error {
	if it.seg.err != nil {
		return it.seg.err
	}
	return it.Iterator.Err()
}
