// Package export streams a selection of series out of the store as files that
// analysts' tools read directly: Apache Parquet, Arrow IPC (stream format),
// CSV and JSON lines.
//
// Export walks a Prometheus storage.SeriesSet once and writes rows of
// (timestamp, value, label columns...) to an io.Writer in batches of a
// bounded number of rows, so its memory does not depend on the size of the
// export: one batch of samples, the distinct label values of that batch, and
// for Parquet the footer's per-row-group metadata (a few hundred bytes per
// row group and column).
//
// The label columns must be known before the first row (Parquet and Arrow
// need a schema, CSV a header), and a series set cannot be rewound, so the
// caller passes them in Options.Columns; docs/export.md describes the files.
//
// The folder is a Go module of its own for now: arrow-go's Arrow and Parquet
// packages need three modules the repository's go.mod does not list
// (github.com/zeebo/xxh3, github.com/klauspost/cpuid/v2, github.com/google/uuid),
// and that file is not this package's to change. Folding it in is deleting
// export/go.mod and export/go.sum and running go mod tidy at the root.
package export

import (
	"context"
	"fmt"
	"io"

	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// encoder writes batches in one format. writeBatch may keep nothing of the
// batch after it returns; close finishes the file (footer, end of stream).
type encoder interface {
	writeBatch(b *batch) error
	close() error
}

// Export writes every float sample of set to w in the format and with the
// columns opts names, and returns what it wrote. It reads each series'
// labels only while the series is current and keeps no reference to them.
//
// The output is complete only when the returned error is nil: on an error
// (from the set, from w, or ctx being cancelled, checked between batches) w
// has received a truncated file. Native histogram samples are skipped and
// counted in Stats.SkippedSamples.
func Export(ctx context.Context, w io.Writer, set storage.SeriesSet, opts Options) (Stats, error) {
	var st Stats
	if err := opts.Validate(); err != nil {
		return st, err
	}
	opts = opts.withDefaults()
	cw := &countingWriter{w: w, progress: opts.Progress}
	enc, err := newEncoder(cw, opts)
	if err != nil {
		return st, err
	}
	err = pump(ctx, set, enc, opts, &st)
	if err == nil {
		err = enc.close()
	}
	st.Bytes = cw.n
	st.Warnings = set.Warnings()
	return st, err
}

func newEncoder(w io.Writer, opts Options) (encoder, error) {
	switch opts.Format {
	case FormatParquet:
		return newParquetEncoder(w, opts.Columns, opts.RowsPerGroup)
	case FormatArrow:
		return newArrowEncoder(w, opts.Columns), nil
	case FormatCSV:
		return newCSVEncoder(w, opts.Columns), nil
	case FormatJSONL:
		return newJSONLEncoder(w, opts.Columns), nil
	}
	panic(fmt.Sprintf("BUG: export format %d passed Validate", opts.Format))
}

// pump is the loop shared by all formats: fill a batch, hand it to the
// encoder when full, go on with the same series in the next batch.
func pump(ctx context.Context, set storage.SeriesSet, enc encoder, opts Options, st *Stats) error {
	b := newBatch(opts.Columns, opts.RowsPerGroup)
	flush := func() error {
		if b.len() == 0 {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("cannot finish export: %w", err)
		}
		if err := enc.writeBatch(b); err != nil {
			return err
		}
		st.Rows += int64(b.len())
		st.Batches++
		if p := opts.Progress; p != nil {
			p.Rows.Add(int64(b.len()))
			p.Series.Store(st.Series)
		}
		b.reset()
		return nil
	}
	var it chunkenc.Iterator
	for set.Next() {
		s := set.At()
		lset := s.Labels()
		open := false    // whether the series has a run in the current batch
		counted := false // whether the series is in st.Series yet
		it = s.Iterator(it)
		for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
			if vt != chunkenc.ValFloat {
				st.SkippedSamples++
				continue
			}
			if !open {
				open = true
				unlisted := b.startSeries(lset)
				if !counted {
					counted = true
					st.Series++
					if unlisted {
						st.UnlistedLabelSeries++
					}
				}
			}
			t, v := it.At()
			b.append(t, v)
			if b.full() {
				if err := flush(); err != nil {
					return err
				}
				open = false
			}
		}
		if err := it.Err(); err != nil {
			return fmt.Errorf("cannot read samples of %s: %w", lset, err)
		}
	}
	if err := set.Err(); err != nil {
		return fmt.Errorf("cannot read series: %w", err)
	}
	return flush()
}

// countingWriter counts the bytes that reach the destination.
type countingWriter struct {
	w        io.Writer
	n        int64
	progress *Progress
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	if c.progress != nil {
		c.progress.Bytes.Add(int64(n))
	}
	return n, err
}
