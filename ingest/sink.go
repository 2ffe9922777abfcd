// Package ingest turns the payloads that gateways publish into samples for the
// store: it decodes each wire format, resolves every reading to a series from
// the authenticated identity, and counts and reports what it refuses.
//
// Decoders live in sub-packages (jsonbatch, lineproto, sparkplug). Each one
// walks a payload in place and hands what it finds to a Sink; none of them
// allocates per reading or keeps a reference to the payload after it returns.
package ingest

// Tag is one label a payload carries for a reading (a line-protocol tag, the
// device id of a JSON reading). Key and Value alias the payload or the
// decoder's scratch space; see Sink.Tags for how long they stay valid.
type Tag struct {
	Key, Value []byte
}

// Sink receives what a decoder finds in one payload, in payload order.
//
// A reading's fields share its labels, so a decoder gives them once per
// reading (Tags) and then each field's value (Sample): a sink resolves the
// labels once, not once per field. Byte slices passed to a Sink alias the
// payload or decoder scratch space; a Sink that needs them after Decode
// returns must copy them.
type Sink interface {
	// Tags sets the labels that come from the payload for the Sample calls
	// that follow, up to the next Tags call: a JSON reading's device and
	// tags, a line's tags, a Sparkplug device. Never province or gateway,
	// which come from the topic. The decoder leaves the slice and the bytes
	// it points at unchanged until its next Tags call or the end of Decode.
	// Every Sample call comes after a Tags call.
	Tags(tags []Tag)

	// Sample receives one value of the current tags: metric is the series'
	// metric name, never empty and never holding a NUL byte (the decoder
	// checks it), ts is Unix milliseconds.
	Sample(metric []byte, ts int64, value float64)

	// Invalid receives one reading that the decoder skipped. The decoder goes
	// on with the rest of the payload. The error says what was wrong and where
	// (the line or reading index); it is not on the hot path.
	Invalid(reason Reason, err error)
}

// Reason classifies why a reading or a message was refused. Reasons are
// stable: they appear as the reason label of counters and in error reports.
type Reason uint8

// Reasons for refusing a reading or a whole message.
const (
	ReasonNone            Reason = iota
	ReasonSyntax                 // the payload or a line does not parse
	ReasonSchema                 // parses, but a required field is missing or of the wrong type
	ReasonValue                  // a value is not a finite number or boolean
	ReasonTimestamp              // a timestamp is missing, malformed, or outside the accepted window
	ReasonMetricName             // the metric name is empty, too long, or has characters outside [a-zA-Z0-9_:]
	ReasonLabel                  // a label name or value breaks the limits or charset
	ReasonTooManyLabels          // more labels than the limit
	ReasonTooManyReadings        // more readings in one message than the limit
	ReasonTooLarge               // the payload is over its byte limit
	ReasonUnknownAlias           // a Sparkplug metric alias that no birth certificate defined
	ReasonSequence               // a Sparkplug sequence number out of order
	ReasonTopic                  // the topic does not follow the scheme
	numReasons
)

var reasonNames = [numReasons]string{
	ReasonNone:            "none",
	ReasonSyntax:          "syntax",
	ReasonSchema:          "schema",
	ReasonValue:           "value",
	ReasonTimestamp:       "timestamp",
	ReasonMetricName:      "metric_name",
	ReasonLabel:           "label",
	ReasonTooManyLabels:   "too_many_labels",
	ReasonTooManyReadings: "too_many_readings",
	ReasonTooLarge:        "too_large",
	ReasonUnknownAlias:    "unknown_alias",
	ReasonSequence:        "sequence",
	ReasonTopic:           "topic",
}

// String returns the reason's stable name.
func (r Reason) String() string {
	if r < numReasons {
		return reasonNames[r]
	}
	return "unknown"
}

// NumReasons is the number of defined reasons, for sizing counter arrays.
const NumReasons = int(numReasons)

// TagHolder keeps the tags of the last Tags call, for a Sink that wants
// them beside each sample (tests, tools): embed it and read Current.
type TagHolder struct {
	Current []Tag
}

// Tags implements Sink.
func (h *TagHolder) Tags(tags []Tag) { h.Current = tags }
