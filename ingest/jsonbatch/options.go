package jsonbatch

import (
	"errors"
)

// formatName names the format in a PayloadError.
const formatName = "JSON batch"

// Default limits. A message or reading over a limit is refused with the
// reason named in the Options field's comment.
const (
	DefaultMaxReadings      = 10000
	DefaultMaxTags          = 32
	DefaultMaxMetricNameLen = 256
	DefaultMaxTagKeyLen     = 128
	DefaultMaxTagValueLen   = 1024
)

// Options bound what one JSON batch may carry. A zero field takes its
// default; a negative one is an error from Validate.
type Options struct {
	// MaxReadings caps the number of values (fields, over all readings) in
	// one message. A message over it is refused as a whole with
	// ReasonTooManyReadings before any Sample is emitted, because a batch
	// that large is a broken or hostile sender and a partial accept would
	// hide that. Default DefaultMaxReadings.
	MaxReadings int

	// MaxTags caps the tags of one reading, the device tag included. A
	// reading over it is skipped with ReasonTooManyLabels. Default
	// DefaultMaxTags.
	MaxTags int

	// MaxMetricNameLen caps a field name in bytes; a longer one is skipped
	// with ReasonMetricName. Default DefaultMaxMetricNameLen.
	MaxMetricNameLen int

	// MaxTagKeyLen and MaxTagValueLen cap a tag key and value in bytes
	// (the device id is a tag value); a reading with a longer one is
	// skipped with ReasonLabel. Defaults DefaultMaxTagKeyLen and
	// DefaultMaxTagValueLen.
	MaxTagKeyLen   int
	MaxTagValueLen int
}

// Validate reports whether the options are usable.
func (o Options) Validate() error {
	if o.MaxReadings < 0 || o.MaxTags < 0 || o.MaxMetricNameLen < 0 ||
		o.MaxTagKeyLen < 0 || o.MaxTagValueLen < 0 {
		return errors.New("cannot use jsonbatch options: limits must not be negative")
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
