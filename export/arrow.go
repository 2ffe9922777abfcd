package export

import (
	"bufio"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// timestampType is timestamp[ms, tz=UTC]: samples are instants, so readers
// get a zoned timestamp (Parquet isAdjustedToUTC=true, DuckDB TIMESTAMPTZ,
// pandas datetime64[ms, UTC]).
var timestampType = &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}

// labelType is dictionary<int32, utf8>: a batch holds few distinct label
// values repeated over many rows.
var labelType = &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}

// arrowSchema returns the schema both columnar formats write: timestamp,
// value, then one nullable dictionary column per label.
func arrowSchema(columns []string) *arrow.Schema {
	fields := make([]arrow.Field, 0, 2+len(columns))
	fields = append(fields,
		arrow.Field{Name: "timestamp", Type: timestampType},
		arrow.Field{Name: "value", Type: arrow.PrimitiveTypes.Float64},
	)
	for _, label := range columns {
		fields = append(fields, arrow.Field{Name: ColumnName(label), Type: labelType, Nullable: true})
	}
	return arrow.NewSchema(fields, nil)
}

// recordBuilder turns a batch into an Arrow record without copying the
// timestamps and values: the record's buffers alias the batch and the
// builder's scratch slices, so it is valid only until the batch is reset or
// the next record is built. Dictionaries are copied into fresh buffers each
// time because a writer may keep the last one it saw.
type recordBuilder struct {
	schema  *arrow.Schema
	indices [][]int32 // per label column, one code per row
	valid   [][]byte  // per label column, validity bitmap
	cols    []arrow.Array
}

func newRecordBuilder(columns []string) *recordBuilder {
	return &recordBuilder{
		schema:  arrowSchema(columns),
		indices: make([][]int32, len(columns)),
		valid:   make([][]byte, len(columns)),
		cols:    make([]arrow.Array, 2+len(columns)),
	}
}

// build returns a record over b; the caller releases it.
func (r *recordBuilder) build(b *batch) arrow.RecordBatch {
	n := b.len()
	r.cols[0] = array.NewTimestampData(array.NewData(timestampType, n,
		[]*memory.Buffer{nil, memory.NewBufferBytes(arrow.Int64Traits.CastToBytes(b.ts))}, nil, 0, 0))
	r.cols[1] = array.NewFloat64Data(array.NewData(arrow.PrimitiveTypes.Float64, n,
		[]*memory.Buffer{nil, memory.NewBufferBytes(arrow.Float64Traits.CastToBytes(b.vals))}, nil, 0, 0))
	for c := range b.cols {
		r.cols[2+c] = r.labelArray(b, c)
	}
	rec := array.NewRecordBatch(r.schema, r.cols, int64(n))
	for i, a := range r.cols {
		a.Release() // the record holds its own references
		r.cols[i] = nil
	}
	return rec
}

// labelArray returns column c as a dictionary array.
func (r *recordBuilder) labelArray(b *batch, c int) arrow.Array {
	indices := r.indicesArray(b, c)
	dict := dictionaryArray(&b.cols[c])
	arr := array.NewDictionaryArray(labelType, indices, dict)
	indices.Release()
	dict.Release()
	return arr
}

// indicesArray expands the runs of column c into one dictionary code per
// row, null where the series lacks the label. The array aliases the
// builder's scratch space.
func (r *recordBuilder) indicesArray(b *batch, c int) arrow.Array {
	n := b.len()
	idx := grow(r.indices[c], n)
	r.indices[c] = idx
	var (
		bits  []byte
		nulls int
		row   int
	)
	for _, rn := range b.runs {
		code := b.seriesCodes(rn.series)[c]
		end := row + int(rn.rows)
		if code < 0 {
			if bits == nil {
				bits = grow(r.valid[c], int(bitutil.BytesForBits(int64(n))))
				r.valid[c] = bits
				bitutil.SetBitsTo(bits, 0, int64(n), true)
			}
			bitutil.SetBitsTo(bits, int64(row), int64(rn.rows), false)
			nulls += int(rn.rows)
			code = 0 // any in-range index; the slot is null
		}
		for i := row; i < end; i++ {
			idx[i] = code
		}
		row = end
	}
	var validBuf *memory.Buffer
	if bits != nil {
		validBuf = memory.NewBufferBytes(bits)
	}
	return array.NewInt32Data(array.NewData(arrow.PrimitiveTypes.Int32, n,
		[]*memory.Buffer{validBuf, memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(idx))}, nil, nulls, 0))
}

// dictionaryArray copies a column's dictionary into a new string array.
func dictionaryArray(c *labelColumn) arrow.Array {
	offsets := make([]int32, len(c.dict)+1)
	data := make([]byte, 0, c.size)
	for i, v := range c.dict {
		data = append(data, v...)
		offsets[i+1] = int32(len(data))
	}
	return array.NewStringData(array.NewData(arrow.BinaryTypes.String, len(c.dict),
		[]*memory.Buffer{nil, memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(offsets)), memory.NewBufferBytes(data)}, nil, 0, 0))
}

// grow returns s resized to n elements, reallocating only when too small.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// arrowEncoder writes the Arrow IPC streaming format: a schema message, then
// for every batch the changed dictionaries (as replacements) and one record
// batch, then the end-of-stream marker. Each batch's dictionaries hold only
// that batch's label values, so memory stays bounded however many series
// the export has; readers that follow the IPC spec (pyarrow, arrow-go,
// arrow-rs, DuckDB's arrow extension) handle replacement dictionaries. The
// random-access IPC file format does not allow replacements, which is why
// the stream format is the one written.
type arrowEncoder struct {
	rb *recordBuilder
	bw *bufio.Writer
	w  *ipc.Writer
}

func newArrowEncoder(dst io.Writer, columns []string) *arrowEncoder {
	rb := newRecordBuilder(columns)
	bw := bufio.NewWriterSize(dst, 256*1024)
	return &arrowEncoder{
		rb: rb,
		bw: bw,
		w:  ipc.NewWriter(bw, ipc.WithSchema(rb.schema), ipc.WithAllocator(memory.DefaultAllocator)),
	}
}

func (e *arrowEncoder) writeBatch(b *batch) error {
	rec := e.rb.build(b)
	defer rec.Release()
	if err := e.w.Write(rec); err != nil {
		return fmt.Errorf("cannot write arrow record batch: %w", err)
	}
	if err := e.bw.Flush(); err != nil {
		return fmt.Errorf("cannot write arrow record batch: %w", err)
	}
	return nil
}

func (e *arrowEncoder) close() error {
	if err := e.w.Close(); err != nil {
		return fmt.Errorf("cannot finish arrow stream: %w", err)
	}
	if err := e.bw.Flush(); err != nil {
		return fmt.Errorf("cannot finish arrow stream: %w", err)
	}
	return nil
}
