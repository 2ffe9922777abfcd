package lineproto

import (
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/quantrac/quantrac/ingest"
	"github.com/quantrac/quantrac/ingest/internal/shortdec"
)

// The scanner follows the syntax of InfluxDB line protocol as decoded by
// github.com/influxdata/line-protocol/v2 (the tests hold the two to the same
// samples), but walks a whole payload with no per-message allocation: that
// decoder cannot be reset onto a new buffer, so each message would cost a new
// Decoder and its escape buffer.

const (
	stopMeas = 1 << iota // ends a measurement: ',' ' ' or a control byte
	stopKey              // ends a tag key, tag value or field key: ',' '=' ' ' or a control byte
	stopVal              // ends a number or boolean field value: ',' ' ' '\r' '\n'
	escape               // '\\', so scanToken tests one table entry per byte
)

// lpClass maps a byte to the tokens it ends. It is filled in once and never
// written afterwards.
var lpClass = func() (t [256]uint8) {
	for c := range 32 {
		t[c] = stopMeas | stopKey
	}
	t[0x7f] = stopMeas | stopKey
	t[','] = stopMeas | stopKey | stopVal
	t[' '] = stopMeas | stopKey | stopVal
	t['='] = stopKey
	t['\r'] |= stopVal
	t['\n'] |= stopVal
	t['\\'] = escape
	return t
}()

// valueKind is the type of a field value as written.
type valueKind uint8

const (
	kindFloat valueKind = iota
	kindInt
	kindUint
	kindBool
	kindString
)

// predictions are the tokens of the lines before, by position in the line:
// a gateway writes the same measurement, tags and field keys line after
// line, and comparing a token whole with the one in the same place of an
// earlier line is cheaper than scanning it byte by byte (token). They
// alias the payload, so Decode forgets them when it starts a message.
//
// The measurement and field keys are predicted from the last line with the
// same measurement (a gateway of several kinds of device interleaves
// them), the tags from the line just before (with one line per field, the
// lines of one reading share them).
type predictions struct {
	meas      []byte
	fieldKeys [][]byte
	// fieldOK[k] says that fieldKeys[k] was checked as a metric name tail
	// and that metrics[k] holds meas, "_" and fieldKeys[k].
	fieldOK []bool
	// metrics are the metric names of the fields, kept across messages
	// so that their buffers are reused.
	metrics [][]byte
}

// tagPredictions are the tags of the line before.
type tagPredictions struct {
	keys, vals [][]byte
	// n is the number of tags of the line before; ok says that they
	// passed finishTags' checks, keysOK that their keys did (a line with
	// the same keys and other values, the next device's, then only has
	// its values checked).
	n          int
	ok, keysOK bool
}

// predSets is how many measurements' predictions a decoder keeps: a
// gateway with several kinds of device interleaves their lines, and with one
// line per field each field is its own measurement.
const predSets = 8

func (d *Decoder) resetPredictions() {
	for i := range d.preds {
		d.preds[i].reset()
	}
	clear(d.tagPred.keys)
	clear(d.tagPred.vals)
	d.tagPred.n, d.tagPred.ok, d.tagPred.keysOK = -1, false, false
	d.pred, d.cur, d.victim = &d.preds[0], 0, 0
}

// measurement scans the measurement at p[i] and makes d.pred the
// predictions of the lines with that measurement: it tries the current
// set, then the others, and gives a new measurement the set that had one
// least recently.
func (d *Decoder) measurement(p []byte, i int) (end int, esc bool) {
	for k := range predSets {
		j := (d.cur + k) % predSets
		pr := &d.preds[j]
		if end, ok := predicted(p, i, pr.meas, stopMeas); ok {
			d.pred, d.cur = pr, j
			return end, false
		}
	}
	end, esc = scanToken(p, i, stopMeas)
	d.pred, d.cur = &d.preds[d.victim], d.victim
	d.victim = (d.victim + 1) % predSets
	d.pred.reset()
	if !esc {
		d.pred.meas = p[i:end]
	}
	return end, esc
}

func (pr *predictions) reset() {
	pr.meas = nil
	clear(pr.fieldKeys)
	clear(pr.fieldOK)
}

// slot returns (*s)[k], growing *s to hold it.
func slot[T any](s *[]T, k int) *T {
	for len(*s) <= k {
		var zero T
		*s = append(*s, zero)
	}
	return &(*s)[k]
}

// predicted reports whether the token at p[i] is pred, followed by a byte
// that ends it, and returns its end.
func predicted(p []byte, i int, pred []byte, stop uint8) (int, bool) {
	n := len(pred)
	if n > 0 && i+n < len(p) && lpClass[p[i+n]]&stop != 0 && string(p[i:i+n]) == string(pred) {
		return i + n, true
	}
	return i, false
}

// token scans the token at p[i] as scanToken does, trying *pred first: when
// the payload holds the predicted token there, followed by a byte that ends
// it, that is the token (a prediction never holds a backslash). Otherwise
// the scanned token becomes the prediction for the next line. same reports
// a confirmed prediction.
func token(p []byte, i int, pred *[]byte, stop uint8) (end int, esc, same bool) {
	if end, ok := predicted(p, i, *pred, stop); ok {
		return end, false, true
	}
	end, esc = scanToken(p, i, stop)
	*pred = nil
	if !esc {
		*pred = p[i:end]
	}
	return end, esc, false
}

// field is one field of the current line. why is non-zero when the field is
// well-formed but its value cannot become a sample.
type field struct {
	key    []byte
	keyEsc bool // the key holds a backslash, so it cannot be a metric name
	pos    int  // its place in the line, for predictions.fieldOK
	kind   valueKind
	val    float64
	why    ingest.Reason
}

// escRef records a tag value that was unescaped into Decoder.esc; the tag's
// Value is set once the line's tags are complete and esc no longer grows.
type escRef struct{ tag, start, end int }

// line holds what scanLine found besides tags and fields.
type line struct {
	measurement []byte
	measEsc     bool   // the measurement holds a backslash
	tagsSame    bool   // the tags are those of the line before, byte for byte
	keysSame    bool   // the tag keys are those of the line before
	ts          []byte // timestamp digits, nil when the line has none
	tagWhy      ingest.Reason
	tagErr      string
}

// scanLine parses the entry that starts at p[i], a line that is neither
// blank nor a comment, into d.ln, d.tags and d.fields. It returns the offset
// of the byte after the entry's end of line. On a syntax error it returns
// the offset after the broken line's end and the error.
func (d *Decoder) scanLine(p []byte, i int) (int, error) {
	d.tags, d.fields, d.esc, d.escRefs = d.tags[:0], d.fields[:0], d.esc[:0], d.escRefs[:0]
	d.ln = line{}

	start := i
	i, d.ln.measEsc = d.measurement(p, i)
	if i == start {
		return d.syntaxError(p, i, "no measurement name")
	}
	d.ln.measurement = p[start:i]

	d.ln.tagsSame, d.ln.keysSame = true, true
	for i < len(p) && p[i] == ',' {
		var err error
		if i, err = d.scanTag(p, i+1); err != nil {
			return d.skipLine(p, i), err
		}
	}
	if len(d.tags) != d.tagPred.n {
		d.ln.tagsSame, d.tagPred.ok = false, false
		d.ln.keysSame, d.tagPred.keysOK = false, false
		d.tagPred.n = len(d.tags)
	}
	if i >= len(p) || p[i] != ' ' {
		return d.syntaxError(p, i, "want a space and fields after the measurement and tags")
	}
	for i < len(p) && p[i] == ' ' {
		i++
	}
	for {
		var err error
		if i, err = d.scanField(p, i); err != nil {
			return d.skipLine(p, i), err
		}
		if i >= len(p) {
			return i, nil
		}
		if p[i] != ',' {
			break
		}
		i++
	}
	// After the fields: end of line, or spaces and an optional timestamp.
	switch p[i] {
	case '\n':
		return i + 1, nil
	case ' ', '\r':
	default:
		return d.syntaxError(p, i, "unexpected %q after a field", p[i])
	}
	for i < len(p) && p[i] == ' ' {
		i++
	}
	if next, ok := endOfLine(p, i); ok {
		return next, nil
	}
	ts := i
	for i < len(p) && (p[i] >= '0' && p[i] <= '9' || p[i] == '-') {
		i++
	}
	if i == ts {
		return d.syntaxError(p, i, "invalid timestamp")
	}
	d.ln.ts = p[ts:i]
	if i < len(p) && p[i] != ' ' && p[i] != '\r' && p[i] != '\n' {
		return d.syntaxError(p, i, "invalid timestamp")
	}
	for i < len(p) && p[i] == ' ' {
		i++
	}
	if next, ok := endOfLine(p, i); ok {
		return next, nil
	}
	return d.syntaxError(p, i, "unexpected text after the timestamp")
}

// scanToken returns the end of the token starting at p[i] and whether it
// holds a backslash. A backslash escapes the next byte when that byte would
// otherwise end the token (or is '='); any other backslash is kept as is.
func scanToken(p []byte, i int, stop uint8) (int, bool) {
	esc := false
	for i < len(p) {
		cl := lpClass[p[i]]
		if cl&(stop|escape) == 0 {
			i++
			continue
		}
		if cl&escape == 0 {
			break
		}
		esc = true
		if i+1 < len(p) && (p[i+1] == ',' || p[i+1] == ' ' || p[i+1] == '=' && stop == stopKey) {
			i += 2
			continue
		}
		i++
	}
	return i, esc
}

// endOfLine reports whether p[i] ends a line ("\n", "\r\n", or the end of
// the payload, a lone '\r' there included) and returns the next line's start.
func endOfLine(p []byte, i int) (int, bool) {
	switch {
	case i >= len(p):
		return i, true
	case p[i] == '\n':
		return i + 1, true
	case p[i] == '\r' && (i+1 == len(p) || p[i+1] == '\n'):
		return min(i+2, len(p)), true
	}
	return i, false
}

// scanTag parses key=value starting at p[i], just after a comma.
func (d *Decoder) scanTag(p []byte, i int) (int, error) {
	if i >= len(p) || p[i] == ' ' || p[i] == '\r' || p[i] == '\n' {
		return i, d.syntaxErr(p, i, "want a tag key after ','")
	}
	ks, k := i, len(d.tags)
	i, _, sameKey := token(p, i, slot(&d.tagPred.keys, k), stopKey)
	if i == ks || i >= len(p) || p[i] != '=' {
		return i, d.syntaxErr(p, i, "want key=value in a tag")
	}
	key := p[ks:i]
	i++
	vs := i
	i, esc, sameVal := token(p, i, slot(&d.tagPred.vals, k), stopKey)
	if !sameKey || !sameVal {
		// Also when the line turns out broken: the predictions changed.
		d.ln.tagsSame, d.tagPred.ok = false, false
	}
	if !sameKey {
		d.ln.keysSame, d.tagPred.keysOK = false, false
	}
	if i == vs {
		return i, d.syntaxErr(p, i, "empty value for tag %q", key)
	}
	val := p[vs:i]
	if esc {
		start := len(d.esc)
		for j := 0; j < len(val); j++ {
			if val[j] == '\\' && j+1 < len(val) && (val[j+1] == ',' || val[j+1] == ' ' || val[j+1] == '=') {
				j++
			}
			d.esc = append(d.esc, val[j])
		}
		d.escRefs = append(d.escRefs, escRef{tag: len(d.tags), start: start, end: len(d.esc)})
		val = nil
	}
	d.tags = append(d.tags, ingest.Tag{Key: key, Value: val})
	return i, nil
}

// scanField parses key=value starting at p[i] and appends it to d.fields.
func (d *Decoder) scanField(p []byte, i int) (int, error) {
	ks, k := i, len(d.fields)
	i, keyEsc, same := token(p, i, slot(&d.pred.fieldKeys, k), stopKey)
	if ok := slot(&d.pred.fieldOK, k); !same {
		*ok = false
	}
	if i == ks || i >= len(p) || p[i] != '=' {
		return i, d.syntaxErr(p, i, "want key=value in a field")
	}
	f := field{key: p[ks:i], keyEsc: keyEsc, pos: k}
	i++
	if i >= len(p) {
		return i, d.syntaxErr(p, i, "missing value for field %q", f.key)
	}
	switch c := p[i]; {
	case c == '"':
		i++
		for i < len(p) && p[i] != '"' {
			if p[i] == '\\' && i+1 < len(p) {
				switch p[i+1] {
				case '\\', '"', 'n', 'r', 't':
					i++
				}
			}
			i++
		}
		if i >= len(p) {
			return i, d.syntaxErr(p, i, "unterminated string value for field %q", f.key)
		}
		i++
		f.kind, f.why = kindString, ingest.ReasonValue
	case c == 't' || c == 'T' || c == 'f' || c == 'F':
		vs := i
		for i < len(p) && lpClass[p[i]]&stopVal == 0 {
			i++
		}
		switch string(p[vs:i]) {
		case "t", "T", "true", "True", "TRUE":
			f.val = 1
		case "f", "F", "false", "False", "FALSE":
		default:
			return i, d.syntaxErr(p, i, "invalid boolean %q for field %q", p[vs:i], f.key)
		}
		f.kind = kindBool
	case c == '-' || c == '.' || c >= '0' && c <= '9':
		// The common case, a short decimal, is parsed as it is scanned.
		if v, n, ok := shortdec.Prefix(p[i:]); ok && (i+n == len(p) || lpClass[p[i+n]]&stopVal != 0) {
			f.kind, f.val = kindFloat, v
			i += n
			break
		}
		vs := i
		for i < len(p) && lpClass[p[i]]&stopVal == 0 {
			i++
		}
		if err := d.parseNumber(p[vs:i], &f); err != nil {
			return i, d.syntaxErr(p, i, "field %q: %w", f.key, err)
		}
	default:
		return i, d.syntaxErr(p, i, "field %q has a value of unknown type", f.key)
	}
	d.fields = append(d.fields, f)
	return i, nil
}

// parseNumber parses a float, integer (suffix i) or unsigned (suffix u)
// value into f. A syntax error breaks the line; a value out of range or not
// finite only marks the field with ReasonValue.
func (d *Decoder) parseNumber(raw []byte, f *field) error {
	var err error
	switch raw[len(raw)-1] {
	case 'i':
		var n int64
		f.kind = kindInt
		n, err = strconv.ParseInt(bytesToString(raw[:len(raw)-1]), 10, 64)
		f.val = float64(n)
	case 'u':
		var n uint64
		f.kind = kindUint
		n, err = strconv.ParseUint(bytesToString(raw[:len(raw)-1]), 10, 64)
		f.val = float64(n)
	default:
		f.kind = kindFloat
		if v, ok := shortdec.Parse(raw); ok {
			f.val = v
			return nil
		}
		f.val, err = strconv.ParseFloat(bytesToString(raw), 64)
		if err == nil && (math.IsInf(f.val, 0) || math.IsNaN(f.val)) {
			f.why = ingest.ReasonValue
		}
	}
	if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
		f.why = ingest.ReasonValue
		return nil
	}
	return err
}

// finishTags points escaped tag values into d.esc, now that it is complete,
// and checks them.
func (d *Decoder) finishTags() {
	if d.ln.tagsSame && d.tagPred.ok {
		return // checked on the line before, and none is escaped
	}
	keysChecked := d.ln.keysSame && d.tagPred.keysOK
	defer func() {
		d.tagPred.ok = d.ln.tagWhy == ingest.ReasonNone
		d.tagPred.keysOK = d.tagPred.ok
	}()
	for _, r := range d.escRefs {
		d.tags[r.tag].Value = d.esc[r.start:r.end]
	}
	for i, t := range d.tags {
		var why ingest.Reason
		var msg string
		if keysChecked {
			why, msg = d.checkTagValue(t)
		} else {
			why, msg = d.checkTag(i, t)
		}
		if why != ingest.ReasonNone {
			d.ln.tagWhy, d.ln.tagErr = why, msg
			return
		}
	}
	if len(d.tags) > d.opts.MaxTags {
		d.ln.tagWhy, d.ln.tagErr = ingest.ReasonTooManyLabels, fmt.Sprintf("%d tags, limit %d", len(d.tags), d.opts.MaxTags)
	}
}

// checkTag checks the i-th tag of the line: its key, alone and beside the
// keys before it, and its value.
func (d *Decoder) checkTag(i int, t ingest.Tag) (ingest.Reason, string) {
	switch {
	case len(t.Key) > d.opts.MaxTagKeyLen || !ingest.ValidTagKey(t.Key):
		return ingest.ReasonLabel, fmt.Sprintf("tag key %q is not a valid label name", t.Key)
	case reservedTagKey(t.Key):
		return ingest.ReasonLabel, fmt.Sprintf("tag key %q is reserved", t.Key)
	}
	if why, msg := d.checkTagValue(t); why != ingest.ReasonNone {
		return why, msg
	}
	for _, u := range d.tags[:i] {
		if string(u.Key) == string(t.Key) {
			return ingest.ReasonLabel, fmt.Sprintf("tag key %q repeated", t.Key)
		}
	}
	return ingest.ReasonNone, ""
}

// checkTagValue checks a tag's value, all that needs checking when the
// line's keys are those of the line before, which passed.
func (d *Decoder) checkTagValue(t ingest.Tag) (ingest.Reason, string) {
	switch {
	case len(t.Value) > d.opts.MaxTagValueLen:
		return ingest.ReasonLabel, fmt.Sprintf("tag %q value longer than %d bytes", t.Key, d.opts.MaxTagValueLen)
	case !utf8.Valid(t.Value):
		return ingest.ReasonLabel, fmt.Sprintf("tag %q value is not UTF-8", t.Key)
	}
	return ingest.ReasonNone, ""
}

// syntaxError reports a syntax error at p[i] and returns where the next line
// starts.
func (d *Decoder) syntaxError(p []byte, i int, format string, args ...any) (int, error) {
	err := d.syntaxErr(p, i, format, args...)
	return d.skipLine(p, i), err
}

func (d *Decoder) syntaxErr(p []byte, i int, format string, args ...any) error {
	return fmt.Errorf("line %d: "+format, append([]any{d.lineAt(p, i)}, args...)...)
}

// skipLine returns the start of the line after the one holding p[i].
func (d *Decoder) skipLine(p []byte, i int) int {
	for i < len(p) && p[i] != '\n' {
		i++
	}
	return min(i+1, len(p))
}

// lineAt returns the 1-based line number of p[i]. Errors ask for
// increasing offsets, so it counts newlines from where it last stopped.
func (d *Decoder) lineAt(p []byte, i int) int {
	i = min(i, len(p))
	if i < d.lineOff {
		d.lineOff, d.lineNo = 0, 1
	}
	for _, c := range p[d.lineOff:i] {
		if c == '\n' {
			d.lineNo++
		}
	}
	d.lineOff = i
	return d.lineNo
}

// bytesToString views b as a string without copying, for parse functions
// that neither keep nor return it (strconv copies the text into its errors).
func bytesToString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// parseInt parses a decimal int64 without copying raw. The timestamps of
// this century, in any precision, are runs of up to 19 digits that
// shortdec.Digits parses; anything else, or out of range, goes to strconv.
func parseInt(raw []byte) (int64, error) {
	if v, ok := shortdec.Digits(raw); ok && v <= math.MaxInt64 {
		return int64(v), nil
	}
	return strconv.ParseInt(bytesToString(raw), 10, 64)
}
