package export

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/schema"
)

// parquetEncoder writes one row group per batch with arrow-go's Parquet
// column writers.
//
// Column choices, all standard Parquet that DuckDB, pyarrow and Spark read:
//   - timestamp: INT64 TIMESTAMP(MILLIS, isAdjustedToUTC=true), REQUIRED,
//     DELTA_BINARY_PACKED. Series-major rows make the deltas the sampling
//     interval, which packs into a few bits per row.
//   - value: DOUBLE, REQUIRED, PLAIN. BYTE_STREAM_SPLIT came out larger on
//     quantised decimal readings, and DuckDB cannot read ALP pages.
//   - labels: BYTE_ARRAY STRING, OPTIONAL, RLE_DICTIONARY (the dictionary is
//     per row group; a label value appears once per row group in it).
//
// Every column is compressed with zstd and carries min/max statistics, so
// readers skip row groups outside a time range. The equivalent Arrow schema
// is stored in the footer under ARROW:schema, so Arrow-based readers
// (pyarrow, pandas) give the label columns back as dictionaries
// (categoricals).
//
// arrow-go's pqarrow layer is not used because it links the Arrow Flight
// (gRPC) packages only to serialise that schema.
type parquetEncoder struct {
	bw        *bufio.Writer
	w         *file.Writer
	rb        *recordBuilder // for the dictionary indices of label columns
	dictLimit int

	values [][]parquet.ByteArray // per label column: non-null values, reused
	levels [][]int16             // per label column: definition levels, reused
}

func newParquetEncoder(dst io.Writer, columns []string, rowsPerGroup int) (*parquetEncoder, error) {
	sc, err := parquetSchema(columns)
	if err != nil {
		return nil, err
	}
	props := []parquet.WriterProperty{
		parquet.WithCompression(compress.Codecs.Zstd),
		parquet.WithDictionaryDefault(false),
		parquet.WithEncodingFor("timestamp", parquet.Encodings.DeltaBinaryPacked),
		parquet.WithEncodingFor("value", parquet.Encodings.Plain),
		parquet.WithMaxRowGroupLength(int64(rowsPerGroup)),
		parquet.WithStats(true),
	}
	for _, label := range columns {
		props = append(props, parquet.WithDictionaryFor(ColumnName(label), true))
	}
	meta := metadata.NewKeyValueMetadata()
	if err := meta.Append("ARROW:schema", serializedArrowSchema(columns)); err != nil {
		return nil, fmt.Errorf("cannot start parquet file: %w", err)
	}
	// The file writer issues small writes (page headers, the magic); the
	// buffer turns them into few large ones and is flushed per row group.
	bw := bufio.NewWriterSize(dst, 256*1024)
	w, err := file.NewParquetWriterWithError(bw, sc,
		file.WithWriterProps(parquet.NewWriterProperties(props...)),
		file.WithWriteMetadata(meta))
	if err != nil {
		return nil, fmt.Errorf("cannot start parquet file: %w", err)
	}
	return &parquetEncoder{
		bw:        bw,
		w:         w,
		rb:        newRecordBuilder(columns),
		dictLimit: int(parquet.DefaultDictionaryPageSizeLimit),
		values:    make([][]parquet.ByteArray, len(columns)),
		levels:    make([][]int16, len(columns)),
	}, nil
}

// parquetSchema builds the file schema described on parquetEncoder.
func parquetSchema(columns []string) (*schema.GroupNode, error) {
	fields := make(schema.FieldList, 0, 2+len(columns))
	ts, err := schema.NewPrimitiveNodeLogical("timestamp", parquet.Repetitions.Required,
		schema.NewTimestampLogicalTypeForce(true, schema.TimeUnitMillis), parquet.Types.Int64, 0, -1)
	if err != nil {
		return nil, fmt.Errorf("cannot build parquet schema: %w", err)
	}
	val, err := schema.NewPrimitiveNode("value", parquet.Repetitions.Required, parquet.Types.Double, -1, -1)
	if err != nil {
		return nil, fmt.Errorf("cannot build parquet schema: %w", err)
	}
	fields = append(fields, ts, val)
	for _, label := range columns {
		n, err := schema.NewPrimitiveNodeLogical(ColumnName(label), parquet.Repetitions.Optional,
			schema.StringLogicalType{}, parquet.Types.ByteArray, 0, -1)
		if err != nil {
			return nil, fmt.Errorf("cannot build parquet schema for label %q: %w", label, err)
		}
		fields = append(fields, n)
	}
	root, err := schema.NewGroupNode("schema", parquet.Repetitions.Required, fields, -1)
	if err != nil {
		return nil, fmt.Errorf("cannot build parquet schema: %w", err)
	}
	return root, nil
}

// serializedArrowSchema returns the ARROW:schema footer value: the schema
// as an IPC stream with no batches, base64 encoded, as Arrow writers store it.
func serializedArrowSchema(columns []string) string {
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(arrowSchema(columns)))
	if err := w.Close(); err != nil {
		panic(fmt.Sprintf("BUG: cannot serialise arrow schema into memory: %v", err))
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

func (e *parquetEncoder) writeBatch(b *batch) error {
	rg, err := e.w.AppendRowGroupChecked()
	if err != nil {
		return fmt.Errorf("cannot start parquet row group: %w", err)
	}
	if err := e.writeColumns(rg, b); err != nil {
		return err
	}
	if err := rg.Close(); err != nil {
		return fmt.Errorf("cannot finish parquet row group: %w", err)
	}
	if err := e.bw.Flush(); err != nil {
		return fmt.Errorf("cannot write parquet row group: %w", err)
	}
	return nil
}

func (e *parquetEncoder) writeColumns(rg file.SerialRowGroupWriter, b *batch) error {
	cw, err := rg.NextColumn()
	if err != nil {
		return fmt.Errorf("cannot write parquet timestamp column: %w", err)
	}
	if _, err := cw.(*file.Int64ColumnChunkWriter).WriteBatch(b.ts, nil, nil); err != nil {
		return fmt.Errorf("cannot write parquet timestamp column: %w", err)
	}
	if cw, err = rg.NextColumn(); err != nil {
		return fmt.Errorf("cannot write parquet value column: %w", err)
	}
	if _, err := cw.(*file.Float64ColumnChunkWriter).WriteBatch(b.vals, nil, nil); err != nil {
		return fmt.Errorf("cannot write parquet value column: %w", err)
	}
	for c := range b.cols {
		if cw, err = rg.NextColumn(); err != nil {
			return fmt.Errorf("cannot write parquet column %q: %w", b.cols[c].label, err)
		}
		if err := e.writeLabels(cw.(*file.ByteArrayColumnChunkWriter), b, c); err != nil {
			return fmt.Errorf("cannot write parquet column %q: %w", b.cols[c].label, err)
		}
	}
	return nil
}

// dictSeeder is the part of arrow-go's dictionary encoder (an internal
// type) that lets a writer hand over a whole dictionary and then only the
// indices, as arrow-go's own pqarrow does for Arrow dictionary arrays.
type dictSeeder interface {
	PutDictionary(arrow.Array) error
	NumEntries() int
}

// writeLabels writes label column c. The batch already holds each value
// once per series, so the fast path seeds the column's dictionary with the
// batch's dictionary and writes one index per row, instead of hashing every
// row's string again. It is taken only while the dictionary fits the
// dictionary page limit: beyond it the writer falls back to plain encoding
// part-way, which only the per-value path handles.
func (e *parquetEncoder) writeLabels(cw *file.ByteArrayColumnChunkWriter, b *batch, c int) error {
	col := &b.cols[c]
	seeder, ok := cw.CurrentEncoder().(dictSeeder)
	if !ok || seeder.NumEntries() != 0 || col.size+4*len(col.dict) >= e.dictLimit {
		values, levels := e.labelColumn(b, c)
		_, err := cw.WriteBatch(values, levels, nil)
		return err
	}
	dict := dictionaryArray(col)
	defer dict.Release()
	if err := seeder.PutDictionary(dict); err != nil {
		return err
	}
	indices := e.rb.indicesArray(b, c)
	defer indices.Release()
	levels := grow(e.levels[c], b.len())
	e.levels[c] = levels
	for i := range levels {
		levels[i] = 1
		if indices.IsNull(i) {
			levels[i] = 0
		}
	}
	// The column's statistics are not updated by index writes: feed them the
	// dictionary, every entry of which some row of the batch uses.
	if st := cw.PageStatistics(); st != nil {
		st.IncNulls(int64(indices.NullN()))
		st.IncNumValues(int64(indices.Len() - indices.NullN()))
		if err := st.UpdateFromArrow(dict, false); err != nil {
			return err
		}
	}
	return cw.WriteDictIndices(indices, levels, nil)
}

// labelColumn expands column c of the batch into the present values and one
// definition level per row (1 present, 0 absent). The values alias the
// batch's dictionary strings, which are immutable, so it does not matter
// that the writer's statistics may hold on to them.
func (e *parquetEncoder) labelColumn(b *batch, c int) ([]parquet.ByteArray, []int16) {
	values := e.values[c][:0]
	levels := grow(e.levels[c], b.len())
	row := 0
	for _, rn := range b.runs {
		v, ok := b.value(rn.series, c)
		var lvl int16
		if ok {
			lvl = 1
			ba := parquet.ByteArray(unsafe.Slice(unsafe.StringData(v), len(v)))
			for range rn.rows {
				values = append(values, ba)
			}
		}
		for i := row; i < row+int(rn.rows); i++ {
			levels[i] = lvl
		}
		row += int(rn.rows)
	}
	e.values[c], e.levels[c] = values, levels
	return values, levels
}

func (e *parquetEncoder) close() error {
	if err := e.w.Close(); err != nil {
		return fmt.Errorf("cannot finish parquet file: %w", err)
	}
	if err := e.bw.Flush(); err != nil {
		return fmt.Errorf("cannot finish parquet file: %w", err)
	}
	return nil
}
