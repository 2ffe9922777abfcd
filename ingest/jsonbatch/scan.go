package jsonbatch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"

	"github.com/quantrac/quantrac/ingest/internal/shortdec"
)

// The scanner reads a JSON batch in place, in one pass that checks the
// syntax of the whole message and indexes what the schema needs: the first
// "seq" and "readings" members of the top-level object and, for each
// element of "readings", where its first "device", "ts", "tags" and
// "fields" members are and how many fields and tags it has. Nothing is
// emitted until the pass has succeeded, so a message refused for its syntax
// or its size makes no Sink call. The emitting pass (decoder.go) then walks
// only the indexed values and each reading's "tags" and "fields" objects.
//
// Gateways repeat themselves, and two shortcuts use it: a key of "fields"
// or "tags" is first compared whole with the key in the same place of the
// previous reading (or, when a gateway interleaves kinds of device, of a
// recent reading whose first field name matches), which spares scanning it
// byte by byte and, in the emitting pass, validating the name again
// (member.from); and a number that
// is a short decimal is parsed while it is scanned (shortNumber). Both
// fall back to the general path and give the same outcome.
//
// The grammar is the one github.com/valyala/fastjson (the decoder this
// scanner replaced) accepts, so no message changes its outcome: JSON, plus
// NaN and Inf spellings as numbers (refused later as values), and strings
// whose escapes are decoded on a best-effort basis (an unknown escape is
// kept as written). TestScannerMatchesFastjson and FuzzJSONReference hold
// the two to the same outcome on every input.

// maxDepth bounds nesting, as fastjson does.
const maxDepth = 300

// Value kinds, named as in error messages.
const (
	kNone byte = iota
	kObject
	kArray
	kString
	kNumber
	kTrue
	kFalse
	kNull
)

var kindNames = [...]string{kNone: "missing", kObject: "object", kArray: "array", kString: "string",
	kNumber: "number", kTrue: "true", kFalse: "false", kNull: "null"}

// ref locates one value in the payload. For a string, start and end bound
// the raw bytes between the quotes; for other values, the value's text.
type ref struct {
	start, end int32
	kind       byte
	flags      byte // refEscaped, refValid
}

// Flags of a ref. They share one byte so that a ref stays four fields: a
// member (two refs) is then passed and copied in registers.
const (
	// refEscaped marks a string with a backslash: decode it before use.
	refEscaped byte = 1 << iota
	// refValid marks a field name the emitting pass found a valid metric
	// name (member.from lets a later equal name skip the check).
	refValid
	// refShort marks a number the scan parsed already (member.num).
	refShort
)

func (r ref) escaped() bool { return r.flags&refEscaped != 0 }

// readingRef indexes one element of "readings".
type readingRef struct {
	self                     ref // kind and, for messages, text
	device, ts, tags, fields ref
	nFields, nTags           int32
	fieldsAt, tagsAt         int32 // where the members of fields and tags start in index.members
}

// index is what the scanning pass learned about a message.
type index struct {
	top           byte // the kind of the top-level value
	seq, readings ref
	items         []readingRef
	members       []member // of every reading's "fields" and "tags" objects
	values        int      // fields of all readings, for MaxReadings
}

type scanner struct {
	b       []byte
	idx     *index
	scratch []byte // decoded keys, for comparing escaped member names
	count   int32  // members of the object scanned by members
	// expAt and expN locate, in index.members, the members of an earlier
	// reading's object of the same name, whose keys the object scanned by
	// members most likely repeats; from is the index of the member
	// whose key the last key scanned equals, or -1.
	expAt, expN int32
	from        int32
	lookBack    bool // on a first key not expected, look for another reading
	// The keys of a reading's first members, by position, and which of
	// device, ts, tags and fields each one is: the next reading most
	// likely repeats them (readingKey).
	rKeys  [readingKeys]ref
	rNames [readingKeys]byte
	rPos   int  // the member of the reading being scanned
	rName  byte // what readingKey found the key to be, or nameUnknown
}

// readingKeys is how many of a reading's members readingKey predicts.
const readingKeys = 4

// The members of a reading the scanner indexes, as found by their key.
const (
	nameUnknown byte = iota
	nameDevice
	nameTS
	nameTags
	nameFields
	nameOther
)

// Object scanning modes: what to do with each member besides checking it.
const (
	modePlain   = iota
	modeTop     // index "seq" and "readings"
	modeReading // index "device", "ts", "tags" and "fields"
)

var errEmpty = errors.New("cannot parse empty string")

// syntaxErr says what is wrong where.
func (s *scanner) syntaxErr(i int, what string) error {
	end := min(i+16, len(s.b))
	if i > len(s.b) {
		i = len(s.b)
	}
	return fmt.Errorf("cannot parse JSON at byte %d: %s (near %q)", i, what, s.b[i:end])
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\t' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// scan checks the syntax of the whole message and fills idx.
func (s *scanner) scan(b []byte, idx *index) error {
	s.b, s.idx = b, idx
	s.rKeys = [readingKeys]ref{} // they point into the last payload
	*idx = index{items: idx.items[:0], members: idx.members[:0]}
	i := skipSpace(b, 0)
	if i == len(b) {
		return errEmpty
	}
	var err error
	if b[i] == '{' {
		idx.top = kObject
		i, err = s.object(i+1, 1, modeTop)
	} else {
		var r ref
		r, i, err = s.valueRef(i, 0)
		idx.top = r.kind
	}
	if err != nil {
		return err
	}
	if i = skipSpace(b, i); i != len(b) {
		return s.syntaxErr(i, "unexpected data after the top-level value")
	}
	return nil
}

// object scans the members of an object whose '{' precedes i, nested
// depth deep, and returns the index after its '}'.
func (s *scanner) object(i, depth, mode int) (int, error) {
	b := s.b
	i = skipSpace(b, i)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		i = skipSpace(b, i)
		if i >= len(b) || b[i] != '"' {
			return i, s.syntaxErr(i, "want '\"' to open an object key")
		}
		key, j, err := s.key(i+1, mode)
		if err != nil {
			return j, err
		}
		if i = skipSpace(b, j); i >= len(b) || b[i] != ':' {
			return i, s.syntaxErr(i, "want ':' after an object key")
		}
		i = skipSpace(b, i+1)
		switch mode {
		case modeTop:
			i, err = s.topMember(key, i, depth)
		case modeReading:
			i, err = s.readingMember(key, i, depth)
		default:
			i, err = s.value(i, depth)
		}
		if err != nil {
			return i, err
		}
		if i = skipSpace(b, i); i >= len(b) {
			return i, s.syntaxErr(i, "unexpected end of object")
		}
		switch b[i] {
		case ',':
			i++
		case '}':
			return i + 1, nil
		default:
			return i, s.syntaxErr(i, "want ',' or '}' after an object value")
		}
	}
}

// array scans the elements of an array whose '[' precedes i, nested depth
// deep; with readings set, each element is indexed as a reading.
func (s *scanner) array(i, depth int, readings bool) (int, error) {
	b := s.b
	i = skipSpace(b, i)
	if i < len(b) && b[i] == ']' {
		return i + 1, nil
	}
	for {
		var err error
		i = skipSpace(b, i)
		if readings {
			i, err = s.readingElem(i, depth)
		} else {
			i, err = s.value(i, depth)
		}
		if err != nil {
			return i, err
		}
		if i = skipSpace(b, i); i >= len(b) {
			return i, s.syntaxErr(i, "unexpected end of array")
		}
		switch b[i] {
		case ',':
			i++
		case ']':
			return i + 1, nil
		default:
			return i, s.syntaxErr(i, "want ',' or ']' after an array value")
		}
	}
}

// value checks the value at i, nested in depth containers, and returns the
// index after it.
func (s *scanner) value(i, depth int) (int, error) {
	_, end, err := s.valueRef(i, depth)
	return end, err
}

// valueRef checks the value at i, inside depth containers, and locates
// it. As in fastjson, a value of any kind more than maxDepth deep is an
// error.
func (s *scanner) valueRef(i, depth int) (ref, int, error) {
	b := s.b
	if i >= len(b) {
		return ref{}, i, s.syntaxErr(i, "missing value")
	}
	if depth >= maxDepth {
		return ref{}, i, s.syntaxErr(i, fmt.Sprintf("nesting deeper than %d", maxDepth))
	}
	r := ref{start: int32(i)}
	var err error
	end := i
	switch c := b[i]; {
	case c == '{':
		r.kind = kObject
		end, err = s.object(i+1, depth+1, modePlain)
	case c == '[':
		r.kind = kArray
		end, err = s.array(i+1, depth+1, false)
	case c == '"':
		r, end, err = s.str(i + 1)
		return r, end, err
	case c == 't' || c == 'f':
		word := "true"
		r.kind = kTrue
		if c == 'f' {
			word, r.kind = "false", kFalse
		}
		if !bytes.HasPrefix(b[i:], []byte(word)) {
			return r, i, s.syntaxErr(i, "unexpected value")
		}
		end = i + len(word)
	case c == 'n' && bytes.HasPrefix(b[i:], []byte("null")):
		r.kind, end = kNull, i+4
	default:
		r.kind = kNumber
		end, err = s.number(i)
	}
	r.end = int32(end)
	return r, end, err
}

// number scans a number as fastjson does: a run of digits, signs, points
// and exponent letters, or NaN or Inf (any case, Inf with a sign).
func (s *scanner) number(i int) (int, error) {
	b := s.b
	for j := i; j < len(b); j++ {
		c := b[j]
		if isNumberByte(c) {
			continue
		}
		if j == i || j == i+1 && (b[i] == '-' || b[i] == '+') {
			if len(b)-j >= 3 && (bytes.EqualFold(b[j:j+3], []byte("inf")) || bytes.EqualFold(b[j:j+3], []byte("nan"))) {
				return j + 3, nil
			}
			return j, s.syntaxErr(j, "unexpected character")
		}
		return j, nil
	}
	return len(b), nil
}

// shortNumber scans the number at i, parsing it on the way when it is a
// short decimal (package shortdec), the common case of a field value. It
// ends the number where number does: anything else goes through number.
func (s *scanner) shortNumber(i int) (ref, float64, int, error) {
	f, n, ok := shortdec.Prefix(s.b[i:])
	if j := i + n; ok && (j == len(s.b) || !isNumberByte(s.b[j])) {
		return ref{start: int32(i), end: int32(j), kind: kNumber, flags: refShort}, f, j, nil
	}
	end, err := s.number(i)
	return ref{start: int32(i), end: int32(end), kind: kNumber}, 0, end, err
}

func isNumberByte(c byte) bool {
	return '0' <= c && c <= '9' || c == '.' || c == '-' || c == 'e' || c == 'E' || c == '+'
}

// str scans a string whose opening quote precedes i; it returns its raw
// bytes and the index after the closing quote. A backslash escapes the
// byte after it, so a quote preceded by an odd number of backslashes is
// escaped, as fastjson reads it. It tests eight bytes at a time for a
// quote or a backslash: metric names are 10 to 30 bytes long.
func (s *scanner) str(i int) (ref, int, error) {
	b := s.b
	r := ref{start: int32(i), kind: kString}
	for j := i; j < len(b); {
		if j+8 <= len(b) {
			m := quoteOrBackslash(binary.LittleEndian.Uint64(b[j:]))
			if m == 0 {
				j += 8
				continue
			}
			j += bits.TrailingZeros64(m) >> 3
		}
		switch b[j] {
		case '"':
			r.end = int32(j)
			return r, j + 1, nil
		case '\\':
			r.flags |= refEscaped
			j += 2
		default:
			j++
		}
	}
	return r, len(b), s.syntaxErr(i-1, "missing closing '\"'")
}

// quoteOrBackslash marks, in the high bit of each byte, the bytes of w
// that are a quote or a backslash. A marked byte above the lowest one may
// be a false mark (a borrow from the byte below), so only the lowest is
// read.
func quoteOrBackslash(w uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	q := w ^ (ones * '"')
	e := w ^ (ones * '\\')
	return ((q-ones)&^q | (e-ones)&^e) & highs
}

// key scans an object key whose opening quote precedes i; a reading's
// keys are first compared with the previous reading's (readingKey).
func (s *scanner) key(i, mode int) (ref, int, error) {
	s.from = -1
	if mode == modeReading {
		return s.readingKey(i)
	}
	return s.str(i)
}

// keyIs reports whether the raw key k names want.
func (s *scanner) keyIs(k ref, want string) bool {
	raw := s.b[k.start:k.end]
	if !k.escaped() {
		return string(raw) == want
	}
	s.scratch = appendUnescaped(s.scratch[:0], raw)
	return string(s.scratch) == want
}

// topMember indexes the first "seq" and "readings" of the top object.
func (s *scanner) topMember(key ref, i, depth int) (int, error) {
	switch {
	case s.idx.readings.kind == kNone && s.keyIs(key, "readings"):
		if i < len(s.b) && s.b[i] == '[' {
			s.idx.readings = ref{start: int32(i), kind: kArray}
			return s.array(i+1, depth+1, true)
		}
		r, end, err := s.valueRef(i, depth)
		s.idx.readings = r
		return end, err
	case s.idx.seq.kind == kNone && s.keyIs(key, "seq"):
		r, end, err := s.valueRef(i, depth)
		s.idx.seq = r
		return end, err
	}
	return s.value(i, depth)
}

// member is one member of an indexed object, for the emitting pass.
type member struct {
	key ref
	val ref
	num float64 // the value, when val has refShort
	// from is the index in index.members of an earlier member with the
	// same key, or -1.
	from int32
}
