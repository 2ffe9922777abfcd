package access

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Audit outcomes, the values of AuditRecord.Status.
const (
	AuditOK     = "ok"     // the request was answered
	AuditDenied = "denied" // authentication failed or the scope forbade it
	AuditError  = "error"  // the request failed after it was allowed
)

// AuditRecord is one line of the audit log: who read what, when, and how
// much came back. Times are written in UTC with millisecond precision.
type AuditRecord struct {
	Time     time.Time `json:"time"`
	Token    string    `json:"token"`              // token name; "" if authentication failed
	Remote   string    `json:"remote,omitempty"`   // client address
	Endpoint string    `json:"endpoint"`           // e.g. "/api/v1/query_range", "/api/v1/export"
	Query    string    `json:"query,omitempty"`    // PromQL expression or series selector(s)
	Start    time.Time `json:"start,omitzero"`     // range start; for an instant query, its time
	End      time.Time `json:"end,omitzero"`       // range end; for an instant query, its time
	Step     float64   `json:"step_s,omitempty"`   // range query step, in seconds
	Format   string    `json:"format,omitempty"`   // export format
	Series   int64     `json:"series"`             // series returned
	Samples  int64     `json:"samples"`            // samples (or export rows) returned
	Bytes    int64     `json:"bytes,omitempty"`    // response bytes, for exports
	Duration float64   `json:"duration_s"`         // time taken to answer
	Status   string    `json:"status"`             // AuditOK, AuditDenied or AuditError
	Error    string    `json:"error,omitempty"`    // why it was denied or failed
	Warnings int       `json:"warnings,omitempty"` // warnings returned with the answer
}

// AuditLog writes AuditRecords as JSON lines. Each record is encoded
// whole and handed to the writer in a single Write under a mutex, so lines
// from concurrent requests never interleave; with a file opened by
// OpenAuditFile the kernel appends each write at the end of the file even if
// another process (log rotation, a second server) writes to it too.
type AuditLog struct {
	now func() time.Time

	mu struct {
		sync.Mutex
		w io.Writer
	}
}

// NewAuditLog returns an audit log writing to w. The caller keeps ownership
// of w (and closes it after the last Log).
func NewAuditLog(w io.Writer) *AuditLog {
	a := &AuditLog{now: time.Now}
	a.mu.w = w
	return a
}

// OpenAuditFile opens path for appending, creating it with mode 0600.
// Records are not fsynced one by one: after a power loss the last records
// written may be missing, as with any log.
func OpenAuditFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cannot open audit log: %w", err)
	}
	return f, nil
}

// Log writes r as one line. A zero r.Time is set to now. Times are
// converted to UTC and cut to milliseconds.
func (a *AuditLog) Log(r AuditRecord) error {
	if r.Time.IsZero() {
		r.Time = a.now()
	}
	r.Time = auditTime(r.Time)
	r.Start = auditTime(r.Start)
	r.End = auditTime(r.End)
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("cannot encode audit record: %w", err)
	}
	b = append(b, '\n')
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, err := a.mu.w.Write(b); err != nil {
		return fmt.Errorf("cannot write audit record: %w", err)
	}
	return nil
}

func auditTime(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Millisecond)
}
