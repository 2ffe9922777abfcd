package encoding

import (
	"encoding/binary"
	"math"
	"slices"
)

// AppendTimestamps appends the encoded timestamp column for ts to dst and
// returns the extended slice. ts are Unix milliseconds and must be strictly
// ascending: every encoding is exact for any int64 sequence, so the encoder
// does not spend a pass checking, but DecodeTimestamps refuses a column
// whose timestamps do not ascend. len(ts) must not exceed MaxBlockSamples
// (it panics otherwise). ts is only read; dst's contents before len(dst)
// are kept.
func (c *Codec) AppendTimestamps(dst []byte, ts []int64) []byte {
	n := len(ts)
	dst, at := appendHeader(dst, n)
	if n == 0 {
		dst[at] = makeMarker(kindTSLinear, false)
		return dst
	}
	if step, ok := linearStep(ts); ok {
		// The step is written unsigned: two timestamps can be up to
		// 2^64-1 apart.
		dst[at] = makeMarker(kindTSLinear, false)
		dst = binary.AppendVarint(dst, ts[0])
		return binary.AppendUvarint(dst, uint64(step))
	}

	s := c.encs.Get().(*encScratch)
	defer c.encs.Put(s)
	s.a, s.b, s.c = grow(s.a, n), grow(s.b, n), grow(s.c, n)
	d := deltasInto(s.a, ts)
	dd := deltasInto(s.b, d)
	ch := newStreamChoice(n, c.entropyMin)
	head := varintLen(ts[0])
	ch.consider(kindTSDelta, head, d)
	ch.consider(kindTSDoD, head+varintLen(d[0]), dd)
	stepQ, res, ok := gridResiduals(s.c, ts)
	if ok {
		ch.consider(kindTSGrid, head+varintLen(stepQ), res)
	}
	ch.chooseHuff(s)

	plain := appendTSHead(s.body[:0], ch.forKind, ts[0], d[0], stepQ)
	plain = appendFOR(plain, ch.forX)
	s.body = plain[:0]
	var huff []byte
	if ch.huffSize > 0 {
		huff = appendTSHead(s.body2[:0], ch.huffKind, ts[0], d[0], stepQ)
		huff = ch.appendHuffStream(huff)
		s.body2 = huff[:0]
	}
	return c.finish(dst, at, n, ch.forKind, plain, ch.huffKind, huff, s)
}

// appendTSHead appends the fields that precede the integer stream of a
// timestamp body of the given kind.
func appendTSHead(dst []byte, kind byte, t0, d0, stepQ int64) []byte {
	dst = binary.AppendVarint(dst, t0)
	switch kind {
	case kindTSDoD:
		dst = binary.AppendVarint(dst, d0)
	case kindTSGrid:
		dst = binary.AppendVarint(dst, stepQ)
	}
	return dst
}

// linearStep reports whether x[i] = x[0] + i*step for all i, and step.
func linearStep(x []int64) (int64, bool) {
	if len(x) < 2 {
		return 0, true
	}
	step := x[1] - x[0]
	for i := 2; i < len(x); i++ {
		if x[i]-x[i-1] != step {
			return 0, false
		}
	}
	return step, true
}

// deltasInto writes x[i]-x[i-1] for i >= 1 into buf and returns it
// (len(x)-1 values).
func deltasInto(buf, x []int64) []int64 {
	d := buf[:len(x)-1]
	for i := range d {
		d[i] = x[i+1] - x[i]
	}
	return d
}

// gridQ is the number of fraction bits in a grid step: the grid absorbs a
// clock that runs 1/65536 ms per sample fast or slow without a residual.
const gridQ = 16

// gridResiduals fits t[i] ~ t0 + i*step by least squares, with step in
// 1/2^gridQ ms, and writes t[i] - (t0 + (i*step)>>gridQ) for i >= 1 into
// buf. A fixed grid plus residuals suits devices that sample on a timer
// with independent per-sample latency: the residual is the latency alone,
// where a delta would carry the difference of two latencies. ok is false
// when the block is too short or spans too much for a fit.
func gridResiduals(buf, t []int64) (stepQ int64, res []int64, ok bool) {
	n := len(t)
	if n < 3 || t[n-1]-t[0] <= 0 || t[n-1]-t[0] > 1<<46 {
		return 0, nil, false
	}
	// Sums over i of i, and of y=t[i]-t[0]; i and y are exact in float64.
	var sy, sxy float64
	for i, v := range t {
		y := float64(v - t[0])
		sy += y
		sxy += float64(i) * y
	}
	fn := float64(n)
	sx := fn * (fn - 1) / 2
	sxx := (fn - 1) * fn * (2*fn - 1) / 6
	slope := (fn*sxy - sx*sy) / (fn*sxx - sx*sx)
	if !(slope > 0 && slope < 1<<46) {
		return 0, nil, false
	}
	stepQ = int64(math.Round(slope * (1 << gridQ)))
	res = buf[:n-1]
	var acc int64
	for i := range res {
		acc += stepQ
		res[i] = t[i+1] - (t[0] + acc>>gridQ)
	}
	return stepQ, res, true
}

// DecodeTimestamps decodes the timestamp column src, appends the
// timestamps to dst and returns the extended slice. It does not allocate
// when dst has room for the column's samples. src is only read and may be
// reused once it returns. On error dst is returned unextended and the error
// wraps ErrCorrupt or ErrUnsupported.
func (c *Codec) DecodeTimestamps(dst []int64, src []byte) ([]int64, error) {
	h, err := parseHeader(src)
	if err != nil {
		return dst, fmtDecodeErr("timestamps", err)
	}
	if h.n == 0 {
		if h.kind != kindTSLinear || h.zstd || len(h.body) != 0 {
			return dst, fmtDecodeErr("timestamps", corrupt("bad empty column"))
		}
		return dst, nil
	}
	start := len(dst)
	dst = slices.Grow(dst, h.n)[:start+h.n]
	s := c.decs.Get().(*decScratch)
	defer c.decs.Put(s)
	if err := c.unzstd(&h, s); err != nil {
		return dst[:start], fmtDecodeErr("timestamps", err)
	}
	if err := decodeTSBody(dst[start:], h.kind, h.body, s); err != nil {
		return dst[:start], fmtDecodeErr("timestamps", err)
	}
	return dst, nil
}

// decodeTSBody decodes a timestamp body into out (one value or more). The
// integer stream is read a frame at a time straight into out, and each
// frame is turned into timestamps and checked for ascending order while it
// is still in cache.
func decodeTSBody(out []int64, kind byte, p []byte, s *decScratch) error {
	t0, k := binary.Varint(p)
	if k <= 0 {
		return corrupt("bad first timestamp")
	}
	p = p[k:]
	out[0] = t0
	if kind == kindTSLinear {
		step, k := binary.Uvarint(p)
		if k <= 0 || k != len(p) {
			return corrupt("bad step")
		}
		for i := range out {
			out[i] = t0
			t0 += int64(step) // wraps like the encoder's subtraction
		}
		return checkAscending(out) // refuses a zero or overflowing step
	}

	var v int64 // second header field: first delta or grid step
	switch kind {
	case kindTSDoD, kindTSGrid:
		if v, k = binary.Varint(p); k <= 0 {
			return corrupt("bad timestamp header")
		}
		p = p[k:]
	case kindTSDelta:
	default:
		return corrupt("kind %d is not a timestamp encoding", kind)
	}

	rest := out[1:]
	if kind == kindTSDoD {
		if len(out) == 1 {
			return corrupt("second differences in a one-sample column")
		}
		out[1] = t0 + v
		if out[1] <= t0 {
			return corrupt("timestamps not strictly ascending at 1")
		}
		rest = out[2:]
	}
	r, err := newIntReader(p, len(rest), s)
	if err != nil {
		return err
	}
	tr := tsTransform{kind: kind, prev: out[len(out)-len(rest)-1], d: v, t0: t0, stepQ: v}
	for len(rest) > 0 {
		chunk := rest[:min(miniBlock, len(rest))]
		if err := r.next(chunk); err != nil {
			return err
		}
		if !tr.apply(chunk) {
			return corrupt("timestamps not strictly ascending")
		}
		rest = rest[len(chunk):]
	}
	if len(r.p) != 0 {
		return corrupt("%d trailing bytes", len(r.p))
	}
	return nil
}

// tsTransform turns stream values into timestamps frame by frame, carrying
// its state across frames.
type tsTransform struct {
	kind      byte
	prev      int64 // last timestamp produced
	d         int64 // last difference (DoD)
	t0, stepQ int64 // grid origin and step (Grid)
	acc       int64 // i*stepQ for the last grid index produced
}

// apply rewrites x in place and reports whether the timestamps ascend
// strictly. The check is folded into the same loop: one compare a value,
// and no early exit to mispredict.
func (tr *tsTransform) apply(x []int64) bool {
	prev, bad := tr.prev, false
	switch tr.kind {
	case kindTSDelta:
		for i, d := range x {
			t := prev + d
			bad = bad || t <= prev
			x[i], prev = t, t
		}
	case kindTSDoD:
		d := tr.d
		for i, dd := range x {
			d += dd
			t := prev + d
			bad = bad || t <= prev
			x[i], prev = t, t
		}
		tr.d = d
	case kindTSGrid:
		acc, t0, stepQ := tr.acc, tr.t0, tr.stepQ
		for i, res := range x {
			acc += stepQ
			t := t0 + acc>>gridQ + res
			bad = bad || t <= prev
			x[i], prev = t, t
		}
		tr.acc = acc
	}
	tr.prev = prev
	return !bad
}

// checkAscending returns an error unless t is strictly ascending.
func checkAscending(t []int64) error {
	for i := 1; i < len(t); i++ {
		if t[i] <= t[i-1] {
			return corrupt("timestamps not strictly ascending at %d", i)
		}
	}
	return nil
}
