package sparkplug

import (
	"errors"
)

// formatName names the format in a PayloadError.
const formatName = "Sparkplug payload"

// Default limits.
const (
	DefaultMaxReadings      = 10000
	DefaultMaxMetricNameLen = 256
	DefaultMaxDevices       = 1024
)

// Options bound what one edge node may send. A zero field takes its
// default; a negative one is an error from Validate.
type Options struct {
	// MaxReadings caps the metrics in one message. A message over it is
	// refused as a whole with ReasonTooManyReadings before any Sink call.
	// Default DefaultMaxReadings.
	MaxReadings int

	// MaxMetricNameLen caps a metric's Prometheus name in bytes (after
	// AppendMetricName). A birth metric with a longer name is kept in the
	// session so that its data can be recognised, and its values are
	// skipped with ReasonMetricName. Default DefaultMaxMetricNameLen.
	MaxMetricNameLen int

	// MaxDevices caps the devices one edge node may have born at once; a
	// DBIRTH for one more device is refused as a whole with ReasonSchema.
	// It bounds the session's memory. Default DefaultMaxDevices.
	MaxDevices int
}

// Validate reports whether the options are usable.
func (o Options) Validate() error {
	if o.MaxReadings < 0 || o.MaxMetricNameLen < 0 || o.MaxDevices < 0 {
		return errors.New("cannot use sparkplug options: limits must not be negative")
	}
	return nil
}

func (o Options) withDefaults() Options {
	if o.MaxReadings == 0 {
		o.MaxReadings = DefaultMaxReadings
	}
	if o.MaxMetricNameLen == 0 {
		o.MaxMetricNameLen = DefaultMaxMetricNameLen
	}
	if o.MaxDevices == 0 {
		o.MaxDevices = DefaultMaxDevices
	}
	return o
}
