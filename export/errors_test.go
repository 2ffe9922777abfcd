package export

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/annotations"
	"github.com/stretchr/testify/require"
)

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{"ok", Options{Format: FormatCSV, Columns: []string{"__name__", "province"}}, ""},
		{"no format", Options{Columns: []string{"province"}}, "unknown format"},
		{"bad format", Options{Format: 99, Columns: []string{"province"}}, "unknown format"},
		{"no columns", Options{Format: FormatParquet}, ErrNoColumns.Error()},
		{"empty label", Options{Format: FormatArrow, Columns: []string{""}}, "empty label name"},
		{"duplicate", Options{Format: FormatArrow, Columns: []string{"a", "a"}}, `label "a" maps to column "a"`},
		{"collision", Options{Format: FormatArrow, Columns: []string{"value", "exported_value"}}, `"exported_value"`},
		{"negative rows", Options{Format: FormatJSONL, Columns: []string{"a"}, RowsPerGroup: -1}, "RowsPerGroup"},
		{"too many rows", Options{Format: FormatJSONL, Columns: []string{"a"}, RowsPerGroup: MaxRowsPerGroup + 1}, "RowsPerGroup"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.opts.Validate()
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
			_, err = Export(context.Background(), io.Discard, newListSet(nil), tt.opts)
			require.ErrorContains(t, err, tt.wantErr, "Export validates its options")
		})
	}
	require.ErrorIs(t, (&Options{Format: FormatCSV}).Validate(), ErrNoColumns)
}

func TestParseFormat(t *testing.T) {
	for _, f := range allFormats {
		got, err := ParseFormat(f.String())
		require.NoError(t, err)
		require.Equal(t, f, got)
		require.NotEmpty(t, f.Extension())
		require.NotEqual(t, "application/octet-stream", f.ContentType())
	}
	_, err := ParseFormat("xlsx")
	require.Error(t, err)
}

func TestColumnName(t *testing.T) {
	for label, want := range map[string]string{
		"__name__": "metric", "metric": "exported_metric", "timestamp": "exported_timestamp",
		"value": "exported_value", "time": "exported_time", "province": "province",
	} {
		require.Equal(t, want, ColumnName(label), label)
	}
}

// failingWriter accepts limit bytes and then fails.
type failingWriter struct {
	limit int
	n     int
}

var errDiskFull = errors.New("disk full")

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.n+len(p) > w.limit {
		k := w.limit - w.n
		w.n = w.limit
		return k, errDiskFull
	}
	w.n += len(p)
	return len(p), nil
}

func TestExportWriterError(t *testing.T) {
	for _, f := range allFormats {
		for _, limit := range []int{0, 100, 10_000} {
			t.Run(f.String()+"/"+itoa(limit), func(t *testing.T) {
				set := &genSet{series: 50, perSeries: 1000}
				_, err := Export(context.Background(), &failingWriter{limit: limit}, set, Options{
					Format: f, Columns: genColumns, RowsPerGroup: 4096,
				})
				require.ErrorIs(t, err, errDiskFull)
				require.Less(t, set.i, set.series, "export stops at the first failed write")
			})
		}
	}
}

func TestExportSetError(t *testing.T) {
	errStore := errors.New("part checksum mismatch")
	for _, f := range allFormats {
		t.Run(f.String(), func(t *testing.T) {
			set := newListSet(fixture())
			set.err = errStore
			_, err := Export(context.Background(), io.Discard, set, Options{Format: f, Columns: fixtureColumns})
			require.ErrorIs(t, err, errStore)
		})
	}
}

func TestExportCancelled(t *testing.T) {
	for _, f := range allFormats {
		t.Run(f.String(), func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			set := &genSet{series: 1000, perSeries: 1000, onNext: func(i int) {
				if i == 10 {
					cancel()
				}
			}}
			var buf bytes.Buffer
			st, err := Export(ctx, &buf, set, Options{Format: f, Columns: genColumns, RowsPerGroup: 1000})
			require.ErrorIs(t, err, context.Canceled)
			require.Less(t, st.Rows, int64(1000*1000))
			require.Less(t, set.i, set.series)
		})
	}
}

// TestExportLabelsNotRetained checks that the exporter copies label values:
// a store's series set may build each series' labels in one reused buffer
// (labels.ScratchBuilder.Overwrite, as Prometheus' index reader does), so a
// label string read from one series changes when the set moves on.
func TestExportLabelsNotRetained(t *testing.T) {
	for _, f := range allFormats {
		t.Run(f.String(), func(t *testing.T) {
			set := &overwritingSet{n: 5}
			var buf bytes.Buffer
			_, err := Export(context.Background(), &buf, set, Options{Format: f, Columns: []string{"province"}})
			require.NoError(t, err)
			got := readers[f](t, buf.Bytes())
			require.Len(t, got.rows, 5)
			for i, r := range got.rows {
				require.Equal(t, "province-"+string(rune('A'+i)), r.labels["province"], "row %d", i)
				require.Equal(t, int64(i), r.ts)
			}
		})
	}
}

// overwritingSet yields n one-sample series whose labels all live in the
// same reused buffer.
type overwritingSet struct {
	n, i int
	b    labels.ScratchBuilder
	cur  testSeries
}

func (s *overwritingSet) Next() bool {
	if s.i >= s.n {
		return false
	}
	s.b.Reset()
	s.b.Add("province", "province-"+string(rune('A'+s.i)))
	s.b.Overwrite(&s.cur.lset)
	s.cur.ts = []int64{int64(s.i)}
	s.cur.vs = []float64{float64(s.i)}
	s.i++
	return true
}

func (s *overwritingSet) At() storage.Series                { return &s.cur }
func (s *overwritingSet) Err() error                        { return nil }
func (s *overwritingSet) Warnings() annotations.Annotations { return nil }
