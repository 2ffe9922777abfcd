package export

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/schema"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/stretchr/testify/require"
)

// TestParquetLayout checks the promises of docs/export.md against the file
// footer: logical types, encodings, compression, statistics, row groups and
// the stored Arrow schema.
func TestParquetLayout(t *testing.T) {
	var buf bytes.Buffer
	set := &genSet{series: 40, perSeries: 500}
	st, err := Export(context.Background(), &buf, set, Options{Format: FormatParquet, Columns: genColumns, RowsPerGroup: 4096})
	require.NoError(t, err)

	r, err := file.NewParquetReader(bytes.NewReader(buf.Bytes()))
	require.NoError(t, err)
	defer r.Close()
	md := r.MetaData()
	require.Equal(t, int64(20_000), md.NumRows)
	require.Equal(t, 5, md.NumRowGroups(), "20000 rows in groups of 4096")
	require.Equal(t, st.Batches, int64(md.NumRowGroups()))

	sc := md.Schema
	ts := sc.Column(0)
	require.Equal(t, parquet.Types.Int64, ts.PhysicalType())
	tsType, ok := ts.LogicalType().(schema.TimestampLogicalType)
	require.True(t, ok, "timestamp logical type, got %s", ts.LogicalType())
	require.True(t, tsType.IsAdjustedToUTC())
	require.Equal(t, schema.TimeUnitMillis, tsType.TimeUnit())
	require.Equal(t, schema.ConvertedTypes.TimestampMillis, ts.ConvertedType(), "legacy readers see TIMESTAMP_MILLIS")
	require.Equal(t, int16(0), ts.MaxDefinitionLevel(), "timestamp is required")
	require.Equal(t, parquet.Types.Double, sc.Column(1).PhysicalType())
	for c := 2; c < sc.NumColumns(); c++ {
		require.Equal(t, parquet.Types.ByteArray, sc.Column(c).PhysicalType())
		require.Equal(t, schema.ConvertedTypes.UTF8, sc.Column(c).ConvertedType())
		require.Equal(t, int16(1), sc.Column(c).MaxDefinitionLevel(), "labels are optional")
	}

	for g := 0; g < md.NumRowGroups(); g++ {
		rg := md.RowGroup(g)
		for c := 0; c < sc.NumColumns(); c++ {
			cc, err := rg.ColumnChunk(c)
			require.NoError(t, err)
			require.Equal(t, compress.Codecs.Zstd, cc.Compression(), "column %d", c)
			set, err := cc.StatsSet()
			require.NoError(t, err)
			require.True(t, set, "column %d has statistics", c)
			switch c {
			case 0:
				require.Contains(t, cc.Encodings(), parquet.Encodings.DeltaBinaryPacked)
				require.NotContains(t, cc.Encodings(), parquet.Encodings.RLEDict)
			case 1:
				require.Contains(t, cc.Encodings(), parquet.Encodings.Plain)
				require.NotContains(t, cc.Encodings(), parquet.Encodings.RLEDict)
			default:
				require.Contains(t, cc.Encodings(), parquet.Encodings.RLEDict, "label column %d", c)
				require.False(t, plainDataPages(cc), "label column %d has only dictionary-coded data pages", c)
			}
		}
	}

	stored := md.KeyValueMetadata().FindValue("ARROW:schema")
	require.NotNil(t, stored)
	raw, err := base64.StdEncoding.DecodeString(*stored)
	require.NoError(t, err)
	sr, err := ipc.NewReader(bytes.NewReader(raw))
	require.NoError(t, err)
	require.True(t, arrowSchema(genColumns).Equal(sr.Schema()), "stored %s", sr.Schema())
	sr.Release()
}

// TestParquetLargeDictionary exports a batch whose label dictionary is over
// the 1 MiB dictionary page limit, which takes the per-value path and makes
// arrow-go fall back to plain encoding part-way through the column chunk.
func TestParquetLargeDictionary(t *testing.T) {
	var series []*testSeries
	pad := strings.Repeat("x", 300)
	for i := range 5000 {
		series = append(series, &testSeries{
			lset: labels.FromStrings("__name__", "m", "device", fmt.Sprintf("%05d-%s", i, pad)),
			ts:   []int64{int64(i)},
			vs:   []float64{float64(i)},
		})
	}
	for i := range 3 {
		// and a few series without the label, so nulls are in the mix
		series = append(series, &testSeries{lset: labels.FromStrings("__name__", "m"), ts: []int64{int64(9000 + i)}, vs: []float64{1}})
	}
	cols := []string{"__name__", "device"}
	var buf bytes.Buffer
	_, err := Export(context.Background(), &buf, newListSet(series), Options{Format: FormatParquet, Columns: cols})
	require.NoError(t, err)
	requireSameRows(t, FormatParquet, expectedRows(series, cols), readParquet(t, buf.Bytes()).rows)

	r, err := file.NewParquetReader(bytes.NewReader(buf.Bytes()))
	require.NoError(t, err)
	defer r.Close()
	cc, err := r.MetaData().RowGroup(0).ColumnChunk(3)
	require.NoError(t, err)
	require.True(t, plainDataPages(cc), "the device column fell back to plain")
}

// plainDataPages reports whether a column chunk has data pages in PLAIN
// encoding (a dictionary page is listed as PLAIN too, so Encodings() does
// not tell).
func plainDataPages(cc *metadata.ColumnChunkMetaData) bool {
	for _, st := range cc.EncodingStats() {
		if st.Encoding == parquet.Encodings.Plain && st.PageType.String() == "DATA_PAGE" {
			return true
		}
	}
	return false
}

// TestParquetStatistics checks each row group's label and timestamp
// statistics against the rows read back, for both label paths: readers prune
// row groups with them, so a wrong minimum would silently drop rows.
func TestParquetStatistics(t *testing.T) {
	series := fixture()
	var buf bytes.Buffer
	const per = 7
	_, err := Export(context.Background(), &buf, newListSet(series), Options{Format: FormatParquet, Columns: fixtureColumns, RowsPerGroup: per})
	require.NoError(t, err)
	tb := readParquet(t, buf.Bytes())
	r, err := file.NewParquetReader(bytes.NewReader(buf.Bytes()))
	require.NoError(t, err)
	defer r.Close()
	for g := 0; g < r.NumRowGroups(); g++ {
		rows := tb.rows[g*per : min(len(tb.rows), (g+1)*per)]
		rg := r.MetaData().RowGroup(g)
		cc, err := rg.ColumnChunk(0)
		require.NoError(t, err)
		st, err := cc.Statistics()
		require.NoError(t, err)
		ts := st.(*metadata.Int64Statistics)
		minTS, maxTS := rows[0].ts, rows[0].ts
		for _, rw := range rows {
			minTS, maxTS = min(minTS, rw.ts), max(maxTS, rw.ts)
		}
		require.Equal(t, minTS, ts.Min(), "row group %d", g)
		require.Equal(t, maxTS, ts.Max(), "row group %d", g)
		for c := 2; c < len(tb.columns); c++ {
			var vals []string
			nulls := 0
			for _, rw := range rows {
				if v, ok := rw.labels[tb.columns[c]]; ok {
					vals = append(vals, v)
				} else {
					nulls++
				}
			}
			cc, err := rg.ColumnChunk(c)
			require.NoError(t, err)
			st, err := cc.Statistics()
			require.NoError(t, err)
			require.Equal(t, int64(nulls), st.NullCount(), "row group %d column %s", g, tb.columns[c])
			require.Equal(t, len(vals) > 0, st.HasMinMax(), "row group %d column %s", g, tb.columns[c])
			if len(vals) > 0 {
				bs := st.(*metadata.ByteArrayStatistics)
				require.Equal(t, slices.Min(vals), string(bs.Min()), "row group %d column %s", g, tb.columns[c])
				require.Equal(t, slices.Max(vals), string(bs.Max()), "row group %d column %s", g, tb.columns[c])
			}
		}
	}
}
