package export

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/util/annotations"
)

// Format is an export file format.
type Format uint8

// Formats that Export writes. The zero value is invalid so that a forgotten
// Options.Format is caught by Validate instead of silently picking one.
const (
	FormatParquet Format = iota + 1 // Apache Parquet, zstd, one row group per batch
	FormatArrow                     // Arrow IPC streaming format, one record batch per batch
	FormatCSV                       // RFC 4180 CSV with a header line
	FormatJSONL                     // JSON lines, one object per sample
)

var formatNames = map[Format]string{
	FormatParquet: "parquet",
	FormatArrow:   "arrow",
	FormatCSV:     "csv",
	FormatJSONL:   "jsonl",
}

// ParseFormat returns the format named s: "parquet", "arrow", "csv" or
// "jsonl". It is what the CLI flag and the HTTP format parameter accept.
func ParseFormat(s string) (Format, error) {
	for f, name := range formatNames {
		if name == s {
			return f, nil
		}
	}
	return 0, fmt.Errorf("cannot parse export format %q: want parquet, arrow, csv or jsonl", s)
}

// String returns the name ParseFormat accepts.
func (f Format) String() string {
	if name, ok := formatNames[f]; ok {
		return name
	}
	return fmt.Sprintf("format(%d)", uint8(f))
}

// ContentType returns the media type to send with the format over HTTP.
func (f Format) ContentType() string {
	switch f {
	case FormatParquet:
		return "application/vnd.apache.parquet"
	case FormatArrow:
		return "application/vnd.apache.arrow.stream"
	case FormatCSV:
		return "text/csv; charset=utf-8"
	case FormatJSONL:
		return "application/jsonl"
	}
	return "application/octet-stream"
}

// Extension returns the usual file name extension, with its dot.
func (f Format) Extension() string {
	switch f {
	case FormatParquet:
		return ".parquet"
	case FormatArrow:
		return ".arrows"
	case FormatCSV:
		return ".csv"
	case FormatJSONL:
		return ".jsonl"
	}
	return ""
}

// Batch size limits. RowsPerGroup bounds the memory of an export: the
// columnar formats hold one batch (about 30 bytes per row plus the distinct
// label values of the batch) before it is encoded and written.
const (
	DefaultRowsPerGroup = 64 * 1024
	MaxRowsPerGroup     = 16 * 1024 * 1024
)

// ErrNoColumns is returned by Options.Validate when no label names are given.
var ErrNoColumns = errors.New("no label columns given: pass the label names of the selection")

// Options configure one export.
type Options struct {
	// Format is required.
	Format Format

	// Columns are the label names to write as columns, in order, after the
	// timestamp and value columns. Every format needs the full list before
	// the first row, and a series set can only be walked once, so the
	// caller supplies it; the store answers LabelNames for the same matchers
	// and time range without reading samples. "__name__" becomes the column
	// "metric". A label named metric, timestamp, value or time becomes
	// "exported_<name>" so that it cannot shadow a fixed column. Labels of a
	// series that are not listed are not written; Stats.UnlistedLabelSeries
	// counts such series. A listed label that a series lacks is null
	// (Parquet, Arrow), an empty field (CSV) or an absent key (JSON lines).
	Columns []string

	// RowsPerGroup is the number of rows per Parquet row group or Arrow
	// record batch, and the unit after which CSV and JSON lines output and
	// Progress are updated. Default DefaultRowsPerGroup; at most
	// MaxRowsPerGroup.
	RowsPerGroup int

	// Progress, when not nil, is updated as the export goes; another
	// goroutine may read it at any time (for a progress bar).
	Progress *Progress
}

// Validate reports whether the options can be used.
func (o *Options) Validate() error {
	if _, ok := formatNames[o.Format]; !ok {
		return fmt.Errorf("cannot use export options: unknown format %d", o.Format)
	}
	if o.RowsPerGroup < 0 || o.RowsPerGroup > MaxRowsPerGroup {
		return fmt.Errorf("cannot use export options: RowsPerGroup %d is outside [1, %d]", o.RowsPerGroup, MaxRowsPerGroup)
	}
	if len(o.Columns) == 0 {
		return fmt.Errorf("cannot use export options: %w", ErrNoColumns)
	}
	seen := make(map[string]string, len(o.Columns)+len(fixedColumns))
	for _, c := range fixedColumns {
		seen[c] = "a fixed column"
	}
	for _, label := range o.Columns {
		if label == "" {
			return errors.New("cannot use export options: empty label name in Columns")
		}
		col := ColumnName(label)
		if prev, dup := seen[col]; dup {
			return fmt.Errorf("cannot use export options: label %q maps to column %q, already used by %s", label, col, prev)
		}
		seen[col] = fmt.Sprintf("label %q", label)
	}
	return nil
}

func (o Options) withDefaults() Options {
	if o.RowsPerGroup == 0 {
		o.RowsPerGroup = DefaultRowsPerGroup
	}
	return o
}

// fixedColumns are the names no label column may take. "time" is used only
// by CSV but is reserved in every format so that one Columns list gives the
// same column names everywhere.
var fixedColumns = []string{"timestamp", "value", "time"}

// ColumnName returns the column name under which label is exported.
func ColumnName(label string) string {
	switch label {
	case model.MetricNameLabel:
		return "metric"
	case "metric", "timestamp", "value", "time":
		return "exported_" + label
	}
	return label
}

// Progress is a live view of a running export, safe for concurrent reads.
// Rows and Series advance after each batch has been handed to the writer;
// Bytes advances on every write to the destination.
type Progress struct {
	Rows   atomic.Int64
	Series atomic.Int64
	Bytes  atomic.Int64
}

// Stats summarise a finished (or failed) export.
type Stats struct {
	Series  int64 // series that contributed at least one row
	Rows    int64 // samples written
	Batches int64 // row groups or record batches (flushes for text formats)
	Bytes   int64 // bytes written to the destination

	// SkippedSamples counts native histogram samples, which these flat
	// formats cannot carry; they are left out.
	SkippedSamples int64

	// UnlistedLabelSeries counts series that had a label not named in
	// Options.Columns; that label was not written.
	UnlistedLabelSeries int64

	// Warnings are the series set's warnings (for example a partial result).
	Warnings annotations.Annotations
}
