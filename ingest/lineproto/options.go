package lineproto

import (
	"errors"
	"fmt"
)

// formatName names the format in a PayloadError.
const formatName = "line protocol"

// Precision is the unit of the timestamps in a payload. Telegraf and the
// InfluxDB clients send nanoseconds unless told otherwise.
type Precision uint8

// Precisions. The zero value is Nanosecond.
const (
	Nanosecond Precision = iota
	Microsecond
	Millisecond
	Second
)

// String returns the unit's usual abbreviation (ns, us, ms, s).
func (p Precision) String() string {
	switch p {
	case Nanosecond:
		return "ns"
	case Microsecond:
		return "us"
	case Millisecond:
		return "ms"
	case Second:
		return "s"
	}
	return fmt.Sprintf("Precision(%d)", uint8(p))
}

// Default limits. A line or message over a limit is refused with the reason
// named in the Options field's comment.
const (
	DefaultMaxReadings      = 10000
	DefaultMaxTags          = 32
	DefaultMaxMetricNameLen = 256
	DefaultMaxTagKeyLen     = 128
	DefaultMaxTagValueLen   = 1024
)

// Options configure a Decoder. A zero limit takes its default; a negative
// one is an error from Validate.
type Options struct {
	// Precision of the payload's timestamps; they are converted to Unix
	// milliseconds (rounding toward the earlier millisecond). Default
	// Nanosecond.
	Precision Precision

	// MaxReadings caps the number of field values in one message, over all
	// lines that parse. A message over it is refused as a whole with
	// ReasonTooManyReadings before any Sample is emitted. Default
	// DefaultMaxReadings.
	MaxReadings int

	// MaxTags caps the tags of one line; a line over it is skipped with
	// ReasonTooManyLabels. Default DefaultMaxTags.
	MaxTags int

	// MaxMetricNameLen caps the metric name (measurement, "_", field key) in
	// bytes; a longer one is skipped with ReasonMetricName. Default
	// DefaultMaxMetricNameLen.
	MaxMetricNameLen int

	// MaxTagKeyLen and MaxTagValueLen cap a tag key and value in bytes; a
	// line with a longer one is skipped with ReasonLabel. Defaults
	// DefaultMaxTagKeyLen and DefaultMaxTagValueLen.
	MaxTagKeyLen   int
	MaxTagValueLen int
}

// Validate reports whether the options are usable.
func (o Options) Validate() error {
	if o.Precision > Second {
		return fmt.Errorf("cannot use lineproto options: unknown precision %d", o.Precision)
	}
	if o.MaxReadings < 0 || o.MaxTags < 0 || o.MaxMetricNameLen < 0 ||
		o.MaxTagKeyLen < 0 || o.MaxTagValueLen < 0 {
		return errors.New("cannot use lineproto options: limits must not be negative")
	}
	return nil
}

func (o Options) withDefaults() Options {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.MaxReadings, DefaultMaxReadings)
	def(&o.MaxTags, DefaultMaxTags)
	def(&o.MaxMetricNameLen, DefaultMaxMetricNameLen)
	def(&o.MaxTagKeyLen, DefaultMaxTagKeyLen)
	def(&o.MaxTagValueLen, DefaultMaxTagValueLen)
	return o
}
