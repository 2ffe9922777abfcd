// Package jsonbatch decodes Quantrac's JSON batch format, the payload of
// telemetry/<province>/<gateway>/json: one message carries many readings,
// each a device, a Unix-millisecond timestamp, optional tags and a set of
// fields that become one sample each.
//
//	{"seq": 42, "readings": [{"device": "aws-0193", "ts": 1764748800123,
//	  "tags": {"kind": "hydromet"},
//	  "fields": {"air_temperature_celsius": 27.4, "door_open": false}}]}
//
// The schema, the outcome of every malformed case and the limits are
// specified in docs/payload-formats.md. Parsing uses a reused
// github.com/valyala/fastjson parser, so a Decoder allocates nothing per
// message once its scratch space has grown to the largest message seen.
package jsonbatch

import (
	"errors"
	"fmt"
	"math"

	"github.com/valyala/fastjson"

	"github.com/quantrac/quantrac/ingest"
)

// Result is what Decode learned about a message besides its samples.
type Result struct {
	// Seq is the gateway's batch counter from the "seq" member, or -1 when
	// the message has none. It is not stored as a sample; the caller may use
	// it to spot lost or replayed batches.
	Seq int64
	// Readings is the number of elements of the "readings" array.
	Readings int
	// Samples and Invalid count the Sink calls made for this message.
	Samples, Invalid int
}

// Decoder decodes JSON batches. It holds the parser and scratch space that
// make decoding allocation-free, so keep one per goroutine (for example one
// per publisher connection, or in a sync.Pool) and reuse it. A Decoder is
// not safe for concurrent use.
type Decoder struct {
	opts      Options
	parser    fastjson.Parser
	tags      []ingest.Tag
	deviceKey []byte

	// Per-reading state shared with the object visitors; valid only while
	// Decode runs.
	tagErr error
	tagWhy ingest.Reason
}

// New returns a Decoder with the given limits (zero fields take defaults).
func New(opts Options) (*Decoder, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	return &Decoder{
		opts:      opts,
		tags:      make([]ingest.Tag, 0, 8),
		deviceKey: []byte("device"),
	}, nil
}

// Decode walks payload and calls sink.Sample once per valid field and
// sink.Invalid once per skipped reading or field, in payload order.
//
// It returns a *PayloadError, having made no Sink call, when the message is
// refused as a whole. The byte slices given to the Sink alias the
// decoder's copy of payload and are valid only during the call; payload
// itself is not modified or retained.
func (d *Decoder) Decode(payload []byte, sink ingest.Sink) (Result, error) {
	res := Result{Seq: -1}
	v, err := d.parser.ParseBytes(payload)
	if err != nil {
		return res, &PayloadError{Reason: ingest.ReasonSyntax, Err: err}
	}
	top := v.GetObject()
	if top == nil {
		return res, schemaError("the message is %s, not an object", v.Type())
	}
	if s := top.Get("seq"); s != nil {
		n, err := s.Int64()
		if err != nil || n < 0 {
			return res, schemaError(`"seq" is %s, not a non-negative integer`, s)
		}
		res.Seq = n
	}
	rv := top.Get("readings")
	if rv == nil {
		return res, schemaError(`"readings" is missing`)
	}
	if rv.Type() != fastjson.TypeArray {
		return res, schemaError(`"readings" is %s, not an array`, rv.Type())
	}
	readings := rv.GetArray()
	res.Readings = len(readings)
	if n := countValues(readings); n > d.opts.MaxReadings {
		return res, &PayloadError{
			Reason: ingest.ReasonTooManyReadings,
			Err:    fmt.Errorf("%d values, limit %d", n, d.opts.MaxReadings),
		}
	}
	for i, r := range readings {
		d.reading(i, r, sink, &res)
	}
	return res, nil
}

func schemaError(format string, args ...any) error {
	return &PayloadError{Reason: ingest.ReasonSchema, Err: fmt.Errorf(format, args...)}
}

// countValues counts the fields of all readings, so that a message over the
// limit is refused before anything is emitted.
func countValues(readings []*fastjson.Value) int {
	n := 0
	for _, r := range readings {
		if o := r.GetObject(); o != nil {
			if f := o.Get("fields"); f != nil {
				if fo := f.GetObject(); fo != nil {
					n += fo.Len()
				}
			}
		}
	}
	return n
}

// reading decodes readings[i]; a problem with the reading as a whole skips
// it, a problem with one field skips only that field.
func (d *Decoder) reading(i int, r *fastjson.Value, sink ingest.Sink, res *Result) {
	invalid := func(why ingest.Reason, format string, args ...any) {
		res.Invalid++
		sink.Invalid(why, fmt.Errorf("reading %d: "+format, append([]any{i}, args...)...))
	}
	o := r.GetObject()
	if o == nil {
		invalid(ingest.ReasonSchema, "is %s, not an object", r.Type())
		return
	}
	dv := o.Get("device")
	if dv == nil || dv.Type() != fastjson.TypeString {
		invalid(ingest.ReasonSchema, `"device" is missing or not a string`)
		return
	}
	device := dv.GetStringBytes()
	if len(device) == 0 || len(device) > d.opts.MaxTagValueLen {
		invalid(ingest.ReasonLabel, `"device" is empty or longer than %d bytes`, d.opts.MaxTagValueLen)
		return
	}
	tv := o.Get("ts")
	if tv == nil {
		invalid(ingest.ReasonTimestamp, `"ts" is missing`)
		return
	}
	ts, err := tv.Int64()
	if err != nil {
		invalid(ingest.ReasonTimestamp, `"ts" is not an integer of Unix milliseconds: %w`, err)
		return
	}
	fv := o.Get("fields")
	fields := fv.GetObject() // nil when fv is nil or not an object
	if fields == nil || fields.Len() == 0 {
		invalid(ingest.ReasonSchema, `"fields" is missing, not an object, or empty`)
		return
	}
	d.tags = append(d.tags[:0], ingest.Tag{Key: d.deviceKey, Value: device})
	if xv := o.Get("tags"); xv != nil {
		if why, err := d.extraTags(xv); err != nil {
			invalid(why, "%w", err)
			return
		}
	}
	fields.Visit(func(key []byte, v *fastjson.Value) {
		if len(key) > d.opts.MaxMetricNameLen || !validMetricName(key) {
			invalid(ingest.ReasonMetricName, "field %q is not a valid metric name", key)
			return
		}
		var x float64
		switch v.Type() {
		case fastjson.TypeNumber:
			f, err := v.Float64()
			if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
				invalid(ingest.ReasonValue, "field %q: %s is not a finite number", key, v)
				return
			}
			x = f
		case fastjson.TypeTrue:
			x = 1
		case fastjson.TypeFalse:
			x = 0
		default:
			invalid(ingest.ReasonValue, "field %q is %s, not a number or boolean", key, v.Type())
			return
		}
		res.Samples++
		sink.Sample(key, d.tags, ts, x)
	})
}

var errTagsNotObject = errors.New(`"tags" is not an object`)

// extraTags appends the reading's "tags" to d.tags, or says why the reading
// must be skipped.
func (d *Decoder) extraTags(xv *fastjson.Value) (ingest.Reason, error) {
	xo := xv.GetObject()
	if xo == nil {
		return ingest.ReasonSchema, errTagsNotObject
	}
	if 1+xo.Len() > d.opts.MaxTags {
		return ingest.ReasonTooManyLabels, fmt.Errorf("%d tags, limit %d", 1+xo.Len(), d.opts.MaxTags)
	}
	d.tagErr, d.tagWhy = nil, ingest.ReasonNone
	xo.Visit(func(key []byte, v *fastjson.Value) {
		if d.tagErr != nil {
			return
		}
		d.tagWhy, d.tagErr = d.checkTag(key, v)
		if d.tagErr == nil {
			d.tags = append(d.tags, ingest.Tag{Key: key, Value: v.GetStringBytes()})
		}
	})
	return d.tagWhy, d.tagErr
}

func (d *Decoder) checkTag(key []byte, v *fastjson.Value) (ingest.Reason, error) {
	switch {
	case len(key) > d.opts.MaxTagKeyLen || !validTagKey(key):
		return ingest.ReasonLabel, fmt.Errorf("tag key %q is not a valid label name", key)
	case reservedTagKey(key):
		return ingest.ReasonLabel, fmt.Errorf("tag key %q is reserved", key)
	case v.Type() != fastjson.TypeString:
		return ingest.ReasonSchema, fmt.Errorf("tag %q is %s, not a string", key, v.Type())
	case len(v.GetStringBytes()) > d.opts.MaxTagValueLen:
		return ingest.ReasonLabel, fmt.Errorf("tag %q value longer than %d bytes", key, d.opts.MaxTagValueLen)
	}
	for _, t := range d.tags {
		if string(t.Key) == string(key) {
			return ingest.ReasonLabel, fmt.Errorf("tag key %q repeated", key)
		}
	}
	return ingest.ReasonNone, nil
}
