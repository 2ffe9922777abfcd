package tsdb

import "github.com/quantrac/quantrac/tsdb/part"

// mergeInput is one part's blocks of the series being merged, read one
// block at a time.
type mergeInput struct {
	r      *part.Sequential
	blocks []part.BlockMeta
	next   int // next block to load
	buf    part.BlockBuffer
	pos    int // current sample in buf
	done   bool
}

// load reads the next block, or marks the input done.
func (in *mergeInput) load() error {
	if in.next == len(in.blocks) {
		in.done = true
		return nil
	}
	if err := in.r.ReadBlock(in.blocks[in.next], &in.buf); err != nil {
		return err
	}
	in.next++
	in.pos = 0
	return nil
}

func (in *mergeInput) t() int64 { return in.buf.TS[in.pos] }

func (in *mergeInput) advance() error {
	in.pos++
	if in.pos < len(in.buf.TS) {
		return nil
	}
	return in.load()
}

// sampleMerger merges the sample streams of one series from several parts
// into one stream in time order, one sample per timestamp. Inputs are added
// oldest part first; for a timestamp present in several, the value of the
// latest input wins ("last write wins", docs/storage.md). It decodes one
// block per input at a time.
type sampleMerger struct {
	inputs []*mergeInput
	spare  []*mergeInput // inputs of earlier series, reused with their buffers
	t      int64
	v      float64
	err    error
}

func newSampleMerger(n int) *sampleMerger {
	m := &sampleMerger{}
	for range n {
		m.spare = append(m.spare, &mergeInput{})
	}
	return m
}

func (m *sampleMerger) reset() {
	m.spare = append(m.spare, m.inputs...)
	m.inputs = m.inputs[:0]
	m.err = nil
}

// add appends an input. Its first block is read at the first next.
func (m *sampleMerger) add(r *part.Sequential, blocks []part.BlockMeta) {
	var in *mergeInput
	if n := len(m.spare); n > 0 {
		in, m.spare = m.spare[n-1], m.spare[:n-1]
	} else {
		in = &mergeInput{}
	}
	in.r, in.blocks, in.next, in.pos, in.done = r, blocks, 0, 0, false
	in.buf.TS = in.buf.TS[:0]
	m.inputs = append(m.inputs, in)
}

// next moves to the next sample, reporting false at the end or on error
// (m.err).
func (m *sampleMerger) next() bool {
	if m.err != nil {
		return false
	}
	found := false
	for _, in := range m.inputs {
		if !in.done && len(in.buf.TS) == 0 {
			if m.err = in.load(); m.err != nil {
				return false
			}
		}
		if in.done {
			continue
		}
		// Later inputs win ties, so take a later one at an equal timestamp.
		if t := in.t(); !found || t <= m.t {
			m.t, m.v, found = t, in.buf.Vals[in.pos], true
		}
	}
	if !found {
		return false
	}
	for _, in := range m.inputs {
		if !in.done && in.t() == m.t {
			if m.err = in.advance(); m.err != nil {
				return false
			}
		}
	}
	return true
}
