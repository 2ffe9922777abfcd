package sparkplug

import (
	"errors"
	"fmt"

	"github.com/quantrac/quantrac/ingest"
)

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

// PayloadError reports a message refused as a whole: the protobuf framing
// is broken, the topic does not belong to the session or lacks a device,
// or a limit is exceeded. Decode made no Sink call and did not change the
// session. The caller answers the publisher (MQTT 5 reason 0x99, payload
// format invalid) and counts the message under Reason.
type PayloadError struct {
	Reason ingest.Reason
	Err    error
}

// Error describes the refusal.
func (e *PayloadError) Error() string {
	return fmt.Sprintf("cannot decode Sparkplug payload (%s): %v", e.Reason, e.Err)
}

// Unwrap returns the cause.
func (e *PayloadError) Unwrap() error { return e.Err }

// PayloadReason returns Reason. Every decoder under ingest has a payload
// error with this method, so a caller can classify all of them with one
// errors.As against interface{ PayloadReason() ingest.Reason }.
func (e *PayloadError) PayloadReason() ingest.Reason { return e.Reason }
