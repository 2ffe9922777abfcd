package export

import (
	"bytes"
	"context"
	"encoding/base64"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/schema"
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
