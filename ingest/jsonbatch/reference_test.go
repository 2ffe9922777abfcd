package jsonbatch

import (
	"fmt"
	"math"

	"github.com/valyala/fastjson"

	"github.com/quantrac/quantrac/ingest"
)

// refDecoder is the fastjson-based decoder the scanner replaced, kept as the
// reference the scanner must agree with on every input
// (TestScannerMatchesFastjson, FuzzJSONReference).
type refDecoder struct {
	opts      Options
	parser    fastjson.Parser
	tags      []ingest.Tag
	deviceKey []byte

	// Per-reading state shared with the object visitors; valid only while
	// Decode runs.
	tagErr error
	tagWhy ingest.Reason
}

func newRef(opts Options) (*refDecoder, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	return &refDecoder{
		opts:      opts,
		tags:      make([]ingest.Tag, 0, 8),
		deviceKey: []byte("device"),
	}, nil
}

// Decode walks payload and calls sink.Sample once per valid field and
// sink.Invalid once per skipped reading or field, in payload order.
//
// It returns a *ingest.PayloadError, having made no Sink call, when the message is
// refused as a whole. The byte slices given to the Sink alias the
// decoder's copy of payload and are valid only during the call; payload
// itself is not modified or retained.
func (d *refDecoder) Decode(payload []byte, sink ingest.Sink) (Result, error) {
	res := Result{Seq: -1}
	v, err := d.parser.ParseBytes(payload)
	if err != nil {
		return res, &ingest.PayloadError{Format: formatName, Reason: ingest.ReasonSyntax, Err: err}
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
	if n := refCountValues(readings); n > d.opts.MaxReadings {
		return res, &ingest.PayloadError{
			Format: formatName,
			Reason: ingest.ReasonTooManyReadings,
			Err:    fmt.Errorf("%d values, limit %d", n, d.opts.MaxReadings),
		}
	}
	for i, r := range readings {
		d.reading(i, r, sink, &res)
	}
	return res, nil
}

// countValues counts the fields of all readings, so that a message over the
// limit is refused before anything is emitted.
func refCountValues(readings []*fastjson.Value) int {
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
func (d *refDecoder) reading(i int, r *fastjson.Value, sink ingest.Sink, res *Result) {
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
	sink.Tags(d.tags)
	fields.Visit(func(key []byte, v *fastjson.Value) {
		if len(key) > d.opts.MaxMetricNameLen || !ingest.ValidMetricName(key) {
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
		sink.Sample(key, ts, x)
	})
}

// extraTags appends the reading's "tags" to d.tags, or says why the reading
// must be skipped.
func (d *refDecoder) extraTags(xv *fastjson.Value) (ingest.Reason, error) {
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

func (d *refDecoder) checkTag(key []byte, v *fastjson.Value) (ingest.Reason, error) {
	switch {
	case len(key) > d.opts.MaxTagKeyLen || !ingest.ValidTagKey(key):
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
