// Package lineproto decodes InfluxDB line protocol, the payload of
// telemetry/<province>/<gateway>/lp and what Telegraf and many gateways
// emit:
//
//	weather,device=aws-0193,kind=hydromet air_temperature_celsius=27.4,door_open=false 1764748800123000000
//
// Each field becomes one sample. Its metric name is the measurement, "_" and
// the field key, except that a field named "value" gives the measurement
// alone. Tags become labels; integer, unsigned, float and boolean values
// become float64; string fields are skipped. docs/payload-formats.md gives
// the full mapping, the outcome of every malformed case and the limits.
//
// The scanner is this package's own: it accepts the syntax of
// github.com/influxdata/line-protocol/v2 (a differential test holds them to
// the same samples) but allocates nothing per message, which that decoder
// cannot do because it cannot be reset onto a new buffer.
package lineproto

import (
	"bytes"
	"errors"
	"fmt"
	"math"

	"github.com/quantrac/quantrac/ingest"
)

// Result is what Decode learned about a message besides its samples.
type Result struct {
	// Lines counts entries, that is lines that are neither blank nor
	// comments, whether they parse or not.
	Lines int
	// Samples and Invalid count the Sink calls made for this message.
	Samples, Invalid int
}

// Decoder decodes line protocol. It holds scratch space that makes decoding
// allocation-free once grown, so keep one per goroutine and reuse it. A
// Decoder is not safe for concurrent use.
type Decoder struct {
	opts Options

	// Scratch for the current line, reused across lines and messages.
	ln      line
	tags    []ingest.Tag
	fields  []field
	esc     []byte
	escRefs []escRef
	// preds are predictions for the lines of up to predSets measurements;
	// pred is the current line's (preds[cur]), victim the next set a new
	// measurement takes.
	preds       [predSets]predictions
	tagPred     tagPredictions
	pred        *predictions
	cur, victim int

	// lineAt's cursor; reset at the start of each message.
	lineOff, lineNo int
}

// New returns a Decoder with the given options (zero fields take defaults).
func New(opts Options) (*Decoder, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	d := &Decoder{
		opts:   opts.withDefaults(),
		tags:   make([]ingest.Tag, 0, 16),
		fields: make([]field, 0, 16),
	}
	d.pred = &d.preds[0]
	return d, nil
}

// Decode walks payload and calls sink.Sample once per usable field and
// sink.Invalid once per skipped line or field, in payload order. A line
// without a timestamp takes now (Unix milliseconds).
//
// A line that does not parse is reported with ReasonSyntax and skipped; the
// next line is decoded as usual. Decode returns a *ingest.PayloadError when the
// message is refused as a whole: over MaxReadings (no Sink call made), or no
// entry at all, or not one entry that parses (each already reported through
// Invalid). The byte slices given to the Sink alias payload or the
// Decoder's scratch space and are valid only during the call; payload is
// neither modified nor retained.
func (d *Decoder) Decode(payload []byte, now int64, sink ingest.Sink) (Result, error) {
	var res Result
	d.resetPredictions()
	if bytes.Count(payload, []byte{'='}) > d.opts.MaxReadings {
		// Every field has an '=', so this is an upper bound; count exactly
		// only when it could be over.
		if n := d.countFields(payload); n > d.opts.MaxReadings {
			return res, &ingest.PayloadError{
				Format: formatName,
				Reason: ingest.ReasonTooManyReadings,
				Err:    fmt.Errorf("%d values, limit %d", n, d.opts.MaxReadings),
			}
		}
	}
	d.lineOff, d.lineNo = 0, 1
	d.resetPredictions()
	parsed := 0
	var firstErr error
	for i := skipBlank(payload, 0); i < len(payload); i = skipBlank(payload, i) {
		res.Lines++
		start := i
		next, err := d.scanLine(payload, i)
		i = next
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			res.Invalid++
			sink.Invalid(ingest.ReasonSyntax, err)
			continue
		}
		parsed++
		d.emitLine(payload, start, now, sink, &res)
	}
	switch {
	case res.Lines == 0:
		return res, &ingest.PayloadError{Format: formatName, Reason: ingest.ReasonSyntax, Err: errors.New("no lines")}
	case parsed == 0:
		return res, &ingest.PayloadError{Format: formatName, Reason: ingest.ReasonSyntax, Err: fmt.Errorf("no line parses; first: %w", firstErr)}
	}
	return res, nil
}

// countFields counts the fields of the lines that parse.
func (d *Decoder) countFields(p []byte) int {
	d.lineOff, d.lineNo = 0, 1
	n := 0
	for i := skipBlank(p, 0); i < len(p); i = skipBlank(p, i) {
		next, err := d.scanLine(p, i)
		i = next
		if err == nil {
			n += len(d.fields)
		}
	}
	return n
}

// skipBlank returns the start of the next entry at or after p[i], passing
// over blank lines, leading spaces and comment lines.
func skipBlank(p []byte, i int) int {
	for i < len(p) {
		switch p[i] {
		case ' ', '\n':
			i++
		case '\r':
			if i+1 < len(p) && p[i+1] != '\n' {
				return i // a lone CR: let the scanner report it
			}
			i++
		case '#':
			for i < len(p) && p[i] != '\n' {
				i++
			}
		default:
			return i
		}
	}
	return i
}

// emitLine turns the line just scanned, which starts at p[start], into Sink
// calls.
func (d *Decoder) emitLine(p []byte, start int, now int64, sink ingest.Sink, res *Result) {
	invalid := func(why ingest.Reason, format string, args ...any) {
		res.Invalid++
		line := d.lineAt(p, start)
		sink.Invalid(why, fmt.Errorf("line %d: "+format, append([]any{line}, args...)...))
	}
	m := d.ln.measurement
	if d.ln.measEsc || len(m) > d.opts.MaxMetricNameLen || !ingest.ValidMetricName(m) {
		invalid(ingest.ReasonMetricName, "measurement %q is not a valid metric name", m)
		return
	}
	d.finishTags()
	if d.ln.tagWhy != ingest.ReasonNone {
		invalid(d.ln.tagWhy, "%s", d.ln.tagErr)
		return
	}
	ts := now
	if d.ln.ts != nil {
		var ok bool
		if ts, ok = d.millis(d.ln.ts); !ok {
			invalid(ingest.ReasonTimestamp, "timestamp %q is not an integer in range", d.ln.ts)
			return
		}
	}
	sink.Tags(d.tags)
	for k := range d.fields {
		f := &d.fields[k]
		metric, ok := d.metricName(m, f)
		switch {
		case !ok:
			invalid(ingest.ReasonMetricName, "field %q does not make a valid metric name", f.key)
		case f.why != ingest.ReasonNone:
			invalid(f.why, "field %q: %s value cannot be a sample", f.key, kindNames[f.kind])
		default:
			res.Samples++
			sink.Sample(metric, ts, f.val)
		}
	}
}

var kindNames = [...]string{
	kindFloat: "float", kindInt: "integer", kindUint: "unsigned", kindBool: "boolean", kindString: "string",
}

// metricName builds measurement_key in d.pred.metrics, or returns the
// measurement for a field named "value".
func (d *Decoder) metricName(m []byte, f *field) ([]byte, bool) {
	// A key checked in this place of an earlier line of the measurement,
	// and unchanged since, need not be checked again, and its metric name
	// is already built (never for "value", which names no metric of its
	// own).
	if d.pred.fieldOK[f.pos] {
		return d.pred.metrics[f.pos], true
	}
	if string(f.key) == "value" {
		return m, true
	}
	if f.keyEsc || len(m)+1+len(f.key) > d.opts.MaxMetricNameLen {
		return nil, false
	}
	if !ingest.ValidMetricNameTail(f.key) {
		return nil, false
	}
	mn := slot(&d.pred.metrics, f.pos)
	*mn = append(append(append((*mn)[:0], m...), '_'), f.key...)
	d.pred.fieldOK[f.pos] = true
	return *mn, true
}

// millis converts a timestamp in d.opts.Precision to Unix milliseconds,
// rounding toward the earlier millisecond.
func (d *Decoder) millis(raw []byte) (int64, bool) {
	n, err := parseInt(raw)
	if err != nil {
		return 0, false
	}
	switch d.opts.Precision {
	case Nanosecond:
		return floorDiv(n, 1e6), true
	case Microsecond:
		return floorDiv(n, 1e3), true
	case Second:
		if n > math.MaxInt64/1000 || n < math.MinInt64/1000 {
			return 0, false
		}
		return n * 1000, true
	}
	return n, true
}

func floorDiv(n, d int64) int64 {
	q := n / d
	if n%d < 0 {
		q--
	}
	return q
}
