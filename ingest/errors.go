package ingest

import "fmt"

// PayloadError is a message refused as a whole: it cannot be decoded, its
// envelope breaks the format's schema, or it is over a limit. The decoder
// made no Sink call for it. The caller answers the publisher (MQTT 5 reason
// 0x99, payload format invalid; HTTP 400) and counts the message under
// Reason. Every decoder under ingest refuses with this one type.
type PayloadError struct {
	Format string // the payload format, for the message: "JSON batch", "line protocol", ...
	Reason Reason
	Err    error
}

// Error describes the refusal.
func (e *PayloadError) Error() string {
	if e.Format == "" {
		return fmt.Sprintf("payload refused (%s): %v", e.Reason, e.Err)
	}
	return fmt.Sprintf("cannot decode %s (%s): %v", e.Format, e.Reason, e.Err)
}

// Unwrap returns the cause.
func (e *PayloadError) Unwrap() error { return e.Err }
