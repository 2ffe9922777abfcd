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
// specified in docs/payload-formats.md. A schema-aware scanner (scan.go)
// reads the payload in place, so a Decoder allocates nothing per message
// once its index has grown to the largest message seen.
package jsonbatch

import (
	"errors"
	"fmt"
	"math"
	"unsafe"

	"github.com/valyala/fastjson/fastfloat"

	"github.com/quantrac/quantrac/ingest"
	"github.com/quantrac/quantrac/ingest/internal/shortdec"
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

// Decoder decodes JSON batches. It holds the index and scratch space that
// make decoding allocation-free, so keep one per goroutine (for example one
// per publisher connection, or in a sync.Pool) and reuse it. A Decoder is
// not safe for concurrent use.
type Decoder struct {
	opts      Options
	sc        scanner
	idx       index
	tags      []ingest.Tag
	deviceKey []byte
	// strs holds the decoded form of the current reading's escaped strings
	// (rare); the Sink's slices into it stay valid during its calls.
	strs []byte
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
// It returns a *ingest.PayloadError, having made no Sink call, when the message is
// refused as a whole. The byte slices given to the Sink alias payload (or,
// for a string with escapes, the decoder's scratch space) and are valid
// only during the call; payload is not modified or retained.
func (d *Decoder) Decode(payload []byte, sink ingest.Sink) (Result, error) {
	res := Result{Seq: -1}
	if err := d.sc.scan(payload, &d.idx); err != nil {
		return res, &ingest.PayloadError{Format: formatName, Reason: ingest.ReasonSyntax, Err: err}
	}
	idx := &d.idx
	if idx.top != kObject {
		return res, schemaError("the message is %s, not an object", kindNames[idx.top])
	}
	if s := idx.seq; s.kind != kNone {
		n, err := d.int64(s)
		if err != nil || n < 0 {
			return res, schemaError(`"seq" is %s, not a non-negative integer`, d.text(s))
		}
		res.Seq = n
	}
	switch idx.readings.kind {
	case kNone:
		return res, schemaError(`"readings" is missing`)
	case kArray:
	default:
		return res, schemaError(`"readings" is %s, not an array`, kindNames[idx.readings.kind])
	}
	res.Readings = len(idx.items)
	if n := idx.values; n > d.opts.MaxReadings {
		return res, &ingest.PayloadError{
			Format: formatName,
			Reason: ingest.ReasonTooManyReadings,
			Err:    fmt.Errorf("%d values, limit %d", n, d.opts.MaxReadings),
		}
	}
	for i := range idx.items {
		d.reading(i, &idx.items[i], sink, &res)
	}
	return res, nil
}

func schemaError(format string, args ...any) error {
	return &ingest.PayloadError{Format: formatName, Reason: ingest.ReasonSchema, Err: fmt.Errorf(format, args...)}
}

// raw returns the bytes of r: a string's raw contents, another value's text.
func (d *Decoder) raw(r ref) []byte { return d.sc.b[r.start:r.end] }

// text returns r as it was written, for messages.
func (d *Decoder) text(r ref) string {
	if r.kind == kString {
		return `"` + string(d.raw(r)) + `"`
	}
	return string(d.raw(r))
}

// str returns the decoded contents of the string r.
func (d *Decoder) str(r ref) []byte {
	if !r.escaped() {
		return d.raw(r)
	}
	n := len(d.strs)
	d.strs = appendUnescaped(d.strs, d.raw(r))
	return d.strs[n:len(d.strs):len(d.strs)]
}

// number parses the number r; its text is only read during the call. The
// short decimals sensors send take a faster path with the same result.
func (d *Decoder) number(r ref) (float64, error) {
	raw := d.raw(r)
	if f, ok := shortdec.Parse(raw); ok {
		return f, nil
	}
	return fastfloat.Parse(unsafeString(raw))
}

func (d *Decoder) int64(r ref) (int64, error) {
	if r.kind != kNumber {
		return 0, fmt.Errorf("%s is not a number", kindNames[r.kind])
	}
	// A timestamp is a plain run of digits: parse it eight at a time.
	if v, ok := shortdec.Digits(d.raw(r)); ok && v <= math.MaxInt64 {
		return int64(v), nil
	}
	return fastfloat.ParseInt64(unsafeString(d.raw(r)))
}

// unsafeString views b as a string for a parse that does not keep it.
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// reading decodes one indexed element of "readings"; a problem with the
// reading as a whole skips it, a problem with one field skips only that
// field.
func (d *Decoder) reading(i int, r *readingRef, sink ingest.Sink, res *Result) {
	invalid := func(why ingest.Reason, format string, args ...any) {
		res.Invalid++
		sink.Invalid(why, fmt.Errorf("reading %d: "+format, append([]any{i}, args...)...))
	}
	d.strs = d.strs[:0]
	if r.self.kind != kObject {
		invalid(ingest.ReasonSchema, "is %s, not an object", kindNames[r.self.kind])
		return
	}
	if r.device.kind != kString {
		invalid(ingest.ReasonSchema, `"device" is missing or not a string`)
		return
	}
	device := d.str(r.device)
	if len(device) == 0 || len(device) > d.opts.MaxTagValueLen {
		invalid(ingest.ReasonLabel, `"device" is empty or longer than %d bytes`, d.opts.MaxTagValueLen)
		return
	}
	if r.ts.kind == kNone {
		invalid(ingest.ReasonTimestamp, `"ts" is missing`)
		return
	}
	ts, err := d.int64(r.ts)
	if err != nil {
		invalid(ingest.ReasonTimestamp, `"ts" is not an integer of Unix milliseconds: %w`, err)
		return
	}
	if r.fields.kind != kObject || r.nFields == 0 {
		invalid(ingest.ReasonSchema, `"fields" is missing, not an object, or empty`)
		return
	}
	// The tags are set in place: a Tag built whole and copied in costs a
	// stall (its narrow stores forwarded to wide loads), per reading.
	d.tags = append(d.tags[:0], ingest.Tag{})
	d.tags[0].Key, d.tags[0].Value = d.deviceKey, device
	if r.tags.kind != kNone {
		if why, err := d.extraTags(r); err != nil {
			invalid(why, "%w", err)
			return
		}
	}
	sink.Tags(d.tags)
	members := d.idx.members
	fields := members[r.fieldsAt : r.fieldsAt+r.nFields]
	samples := 0
	for k := range fields {
		m := &fields[k]
		key := d.str(m.key)
		// A name equal to an earlier one found valid need not be checked.
		if m.from < 0 || members[m.from].key.flags&refValid == 0 {
			if len(key) > d.opts.MaxMetricNameLen || !ingest.ValidMetricName(key) {
				invalid(ingest.ReasonMetricName, "field %q is not a valid metric name", key)
				continue
			}
		}
		m.key.flags |= refValid
		// The common case first: a short decimal the scan parsed.
		x := m.num
		if m.val.flags&refShort == 0 {
			switch m.val.kind {
			case kNumber:
				f, err := d.number(m.val)
				if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
					invalid(ingest.ReasonValue, "field %q: %s is not a finite number", key, d.raw(m.val))
					continue
				}
				x = f
			case kTrue:
				x = 1
			case kFalse:
				x = 0
			default:
				invalid(ingest.ReasonValue, "field %q is %s, not a number or boolean", key, kindNames[m.val.kind])
				continue
			}
		}
		samples++
		sink.Sample(key, ts, x)
	}
	res.Samples += samples
}

var errTagsNotObject = errors.New(`"tags" is not an object`)

// extraTags appends the reading's "tags" to d.tags, or says why the reading
// must be skipped.
func (d *Decoder) extraTags(r *readingRef) (ingest.Reason, error) {
	if r.tags.kind != kObject {
		return ingest.ReasonSchema, errTagsNotObject
	}
	if n := 1 + int(r.nTags); n > d.opts.MaxTags {
		return ingest.ReasonTooManyLabels, fmt.Errorf("%d tags, limit %d", n, d.opts.MaxTags)
	}
	tags := d.idx.members[r.tagsAt : r.tagsAt+r.nTags]
	for i := range tags {
		m := &tags[i]
		key := d.str(m.key)
		if why, err := d.checkTag(key, m.val); err != nil {
			return why, err
		}
		d.tags = append(d.tags, ingest.Tag{})
		t := &d.tags[len(d.tags)-1]
		t.Key, t.Value = key, d.str(m.val)
	}
	return ingest.ReasonNone, nil
}

func (d *Decoder) checkTag(key []byte, v ref) (ingest.Reason, error) {
	switch {
	case len(key) > d.opts.MaxTagKeyLen || !ingest.ValidTagKey(key):
		return ingest.ReasonLabel, fmt.Errorf("tag key %q is not a valid label name", key)
	case reservedTagKey(key):
		return ingest.ReasonLabel, fmt.Errorf("tag key %q is reserved", key)
	case v.kind != kString:
		return ingest.ReasonSchema, fmt.Errorf("tag %q is %s, not a string", key, kindNames[v.kind])
	case len(d.str(v)) > d.opts.MaxTagValueLen:
		return ingest.ReasonLabel, fmt.Errorf("tag %q value longer than %d bytes", key, d.opts.MaxTagValueLen)
	}
	for _, t := range d.tags {
		if string(t.Key) == string(key) {
			return ingest.ReasonLabel, fmt.Errorf("tag key %q repeated", key)
		}
	}
	return ingest.ReasonNone, nil
}
