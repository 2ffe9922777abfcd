package export

import (
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/util/annotations"
)

// chunkSet is a series set over Gorilla chunks encoded in advance, so that a
// benchmark measures decoding plus export, as a real query would, and not
// the generation of data.
type chunkSet struct {
	series []chunkSeries
	i      int
}

type chunkSeries struct {
	lset  labels.Labels
	chunk *chunkenc.XORChunk
}

func (s *chunkSeries) Labels() labels.Labels                           { return s.lset }
func (s *chunkSeries) Iterator(it chunkenc.Iterator) chunkenc.Iterator { return s.chunk.Iterator(it) }

func (s *chunkSet) Next() bool {
	s.i++
	return s.i < len(s.series)
}
func (s *chunkSet) At() storage.Series                { return &s.series[s.i] }
func (s *chunkSet) Err() error                        { return nil }
func (s *chunkSet) Warnings() annotations.Annotations { return nil }

// newChunkSet encodes series x perSeries samples from genSet.
func newChunkSet(tb testing.TB, series, perSeries int) *chunkSet {
	tb.Helper()
	g := &genSet{series: series, perSeries: perSeries}
	cs := &chunkSet{i: -1}
	for g.Next() {
		c := chunkenc.NewXORChunk()
		app, err := c.Appender()
		if err != nil {
			tb.Fatal(err)
		}
		for i := range perSeries {
			t, v := genSample(g.cur.id, i)
			app.Append(0, t, v)
		}
		cs.series = append(cs.series, chunkSeries{lset: g.cur.lset, chunk: c})
	}
	return cs
}

// countWriter discards what it is given and counts it.
type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}

// BenchmarkExport exports 1,000 series x 1,000 samples (1 M rows) per
// operation and reports rows/s and the output size per row.
func BenchmarkExport(b *testing.B) {
	const series, perSeries = 1000, 1000
	cs := newChunkSet(b, series, perSeries)
	for _, f := range allFormats {
		b.Run(f.String(), func(b *testing.B) {
			b.ReportAllocs()
			var out countWriter
			for b.Loop() {
				cs.i = -1
				if _, err := Export(context.Background(), &out, cs, Options{Format: f, Columns: genColumns}); err != nil {
					b.Fatal(err)
				}
			}
			rows := float64(series * perSeries * b.N)
			b.SetBytes(out.n / int64(b.N))
			b.ReportMetric(rows/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(out.n)/rows, "B/row")
		})
	}
}

// BenchmarkDecodeOnly is the floor under BenchmarkExport: walking the same
// chunks without writing anything.
func BenchmarkDecodeOnly(b *testing.B) {
	const series, perSeries = 1000, 1000
	cs := newChunkSet(b, series, perSeries)
	b.ReportAllocs()
	var it chunkenc.Iterator
	var sum float64
	for b.Loop() {
		cs.i = -1
		for cs.Next() {
			it = cs.At().Iterator(it)
			for it.Next() != chunkenc.ValNone {
				_, v := it.At()
				sum += v
			}
		}
	}
	b.ReportMetric(float64(series*perSeries*b.N)/b.Elapsed().Seconds(), "rows/s")
	fmt.Fprint(io.Discard, sum)
}

// TestExportAllocsPerRow holds the per-row path free of allocations: what
// an export allocates grows with its batches and pages, never with its rows.
// One allocation per row would be 200,000 here.
func TestExportAllocsPerRow(t *testing.T) {
	const series, perSeries = 200, 1000
	cs := newChunkSet(t, series, perSeries)
	budget := map[Format]float64{ // allocations per row
		FormatParquet: 0.1, // arrow-go's page and encoder buffers, per page
		FormatArrow:   0.01,
		FormatCSV:     0.01,
		FormatJSONL:   0.01,
	}
	for _, f := range allFormats {
		t.Run(f.String(), func(t *testing.T) {
			allocs := testing.AllocsPerRun(3, func() {
				cs.i = -1
				if _, err := Export(context.Background(), io.Discard, cs, Options{Format: f, Columns: genColumns}); err != nil {
					t.Fatal(err)
				}
			})
			perRow := allocs / (series * perSeries)
			t.Logf("%s: %.0f allocations per export, %.4f per row", f, allocs, perRow)
			if perRow > budget[f] {
				t.Fatalf("%s: %.4f allocations per row, budget %.2f", f, perRow, budget[f])
			}
		})
	}
}
