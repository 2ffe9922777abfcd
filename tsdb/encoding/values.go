package encoding

import (
	"encoding/binary"
	"math"
	"slices"
)

// AppendValues appends the encoded value column for vals to dst and
// returns the extended slice. Every float64 bit pattern round-trips
// exactly, including -0, ±Inf and every NaN payload (the Prometheus stale
// marker among them). len(vals) must not exceed MaxBlockSamples (it panics
// otherwise). vals is only read; dst's contents before len(dst) are kept.
func (c *Codec) AppendValues(dst []byte, vals []float64) []byte {
	n := len(vals)
	dst, at := appendHeader(dst, n)
	if n == 0 {
		dst[at] = makeMarker(kindValConst, false)
		return dst
	}
	s := c.encs.Get().(*encScratch)
	defer c.encs.Put(s)
	kind, plain, huffKind, huff := chooseValues(s, vals, c.entropyMin)
	return c.finish(dst, at, n, kind, plain, huffKind, huff, s)
}

func allSameBits(vals []float64) bool {
	b := math.Float64bits(vals[0])
	for _, v := range vals[1:] {
		if math.Float64bits(v) != b {
			return false
		}
	}
	return true
}

// chooseValues builds the candidate bodies for vals: the smallest plain one
// (constant, decimal with FOR frames or a linear sequence, XOR, raw) in
// s.body, and the smallest decimal body with a Huffman stream in s.body2
// (nil when there is none); finish then weighs zstd against them. The XOR
// form costs about as much to try as to write, so it is tried only when
// there is no decimal form or it takes over one byte a sample.
func chooseValues(s *encScratch, vals []float64, entropyMin int) (kind byte, plain []byte, huffKind byte, huff []byte) {
	n := len(vals)
	kind, size := byte(kindRaw), 8*n
	if allSameBits(vals) {
		kind, size = kindValConst, 8
	}
	dec, isDec := toDecimal(s, vals)
	ch := newStreamChoice(n, entropyMin)
	var step int64
	if isDec {
		head := varintLen(int64(dec.exp)) + exceptionsSize(dec.exc)
		m := dec.m
		var linear bool
		if step, linear = linearStep(m); linear {
			if sz := head + varintLen(m[0]) + varintLen(step); sz < size {
				kind, size = kindDecLinear, sz
			}
		} else {
			s.b, s.c = grow(s.b, n), grow(s.c, n)
			d := deltasInto(s.b, m)
			dd := deltasInto(s.c, d)
			ch.consider(kindDecFOR, head, m)
			ch.consider(kindDecDelta, head+varintLen(m[0]), d)
			ch.consider(kindDecDoD, head+varintLen(m[0])+varintLen(d[0]), dd)
			ch.chooseHuff(s)
			if ch.forSize < size {
				kind, size = ch.forKind, ch.forSize
			}
			if ch.huffSize > 0 && ch.huffSize < size {
				huffKind = ch.huffKind
				huff = appendDecHead(s.body2[:0], huffKind, dec, step)
				huff = ch.appendHuffStream(huff)
				huff = appendExceptions(huff, dec.exc, vals)
				s.body2 = huff[:0]
			}
		}
	}

	best := size
	if huff != nil {
		best = min(best, len(huff))
	}
	body := s.body[:0]
	defer func() { s.body = body[:0] }() // keep the grown array
	if !isDec || best > n {
		body = appendGorilla(body, vals)
		if len(body) < best {
			return kindGorilla, body, 0, nil
		}
		body = body[:0]
	}
	switch kind {
	case kindValConst:
		body = binary.LittleEndian.AppendUint64(body, math.Float64bits(vals[0]))
	case kindRaw:
		for _, v := range vals {
			body = binary.LittleEndian.AppendUint64(body, math.Float64bits(v))
		}
	default:
		body = appendDecHead(body, kind, dec, step)
		if kind != kindDecLinear {
			body = appendFOR(body, ch.forX)
		}
		body = appendExceptions(body, dec.exc, vals)
	}
	return kind, body, huffKind, huff
}

// appendDecHead appends the fields of a decimal body that precede its
// integer stream: the exponent, then the kind's leading values.
func appendDecHead(dst []byte, kind byte, dec decimalForm, step int64) []byte {
	dst = binary.AppendVarint(dst, int64(dec.exp))
	m := dec.m
	switch kind {
	case kindDecLinear:
		dst = binary.AppendVarint(dst, m[0])
		dst = binary.AppendVarint(dst, step)
	case kindDecDelta:
		dst = binary.AppendVarint(dst, m[0])
	case kindDecDoD:
		dst = binary.AppendVarint(dst, m[0])
		dst = binary.AppendVarint(dst, m[1]-m[0])
	}
	return dst
}

// DecodeValues decodes the value column src, appends the values to dst and
// returns the extended slice. It does not allocate when dst has room for
// the column's samples. src is only read and may be reused once it
// returns. On error dst is returned unextended and the error wraps
// ErrCorrupt or ErrUnsupported.
func (c *Codec) DecodeValues(dst []float64, src []byte) ([]float64, error) {
	h, err := parseHeader(src)
	if err != nil {
		return dst, fmtDecodeErr("values", err)
	}
	if h.n == 0 {
		if h.kind != kindValConst || h.zstd || len(h.body) != 0 {
			return dst, fmtDecodeErr("values", corrupt("bad empty column"))
		}
		return dst, nil
	}
	start := len(dst)
	dst = slices.Grow(dst, h.n)[:start+h.n]
	s := c.decs.Get().(*decScratch)
	defer c.decs.Put(s)
	if err := c.unzstd(&h, s); err != nil {
		return dst[:start], fmtDecodeErr("values", err)
	}
	if err := decodeValuesBody(dst[start:], h.kind, h.body, s); err != nil {
		return dst[:start], fmtDecodeErr("values", err)
	}
	return dst, nil
}

func decodeValuesBody(out []float64, kind byte, p []byte, s *decScratch) error {
	var err error
	switch kind {
	case kindValConst:
		if len(p) != 8 {
			return corrupt("constant of %d bytes", len(p))
		}
		v := math.Float64frombits(binary.LittleEndian.Uint64(p))
		for i := range out {
			out[i] = v
		}
		return nil
	case kindRaw:
		if len(p) != 8*len(out) {
			return corrupt("raw body of %d bytes for %d values", len(p), len(out))
		}
		for i := range out {
			out[i] = math.Float64frombits(binary.LittleEndian.Uint64(p[8*i:]))
		}
		return nil
	case kindGorilla:
		return decodeGorilla(out, p)
	case kindDecLinear, kindDecFOR, kindDecDelta, kindDecDoD:
		exp, k := binary.Varint(p)
		if k <= 0 || exp < -400 || exp > 400 {
			return corrupt("bad decimal exponent")
		}
		if p, err = decodeMantissas(out, kind, int(exp), p[k:], s); err != nil {
			return err
		}
		if p, err = patchExceptions(out, p); err != nil {
			return err
		}
		if len(p) != 0 {
			return corrupt("%d trailing bytes", len(p))
		}
		return nil
	}
	return corrupt("kind %d is not a value encoding", kind)
}
