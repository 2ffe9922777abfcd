package export

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/stretchr/testify/require"
)

// row is one exported sample as a reader sees it: labels maps column name to
// value for the labels present.
type row struct {
	ts     int64
	v      float64
	labels map[string]string
}

// table is what a reader got back: the column names in file order and rows.
type table struct {
	columns []string
	rows    []row
}

func readParquet(t testing.TB, data []byte) table {
	t.Helper()
	r, err := file.NewParquetReader(bytes.NewReader(data))
	require.NoError(t, err)
	defer r.Close()
	sc := r.MetaData().Schema
	var tb table
	for i := 0; i < sc.NumColumns(); i++ {
		tb.columns = append(tb.columns, sc.Column(i).Name())
	}
	for g := 0; g < r.NumRowGroups(); g++ {
		rg := r.RowGroup(g)
		n := int(rg.NumRows())
		ts := make([]int64, n)
		vs := make([]float64, n)
		readColumn(t, rg, 0, func(cr file.ColumnChunkReader) (int64, error) {
			total, _, err := cr.(*file.Int64ColumnChunkReader).ReadBatch(int64(n), ts, nil, nil)
			return total, err
		}, n)
		readColumn(t, rg, 1, func(cr file.ColumnChunkReader) (int64, error) {
			total, _, err := cr.(*file.Float64ColumnChunkReader).ReadBatch(int64(n), vs, nil, nil)
			return total, err
		}, n)
		rows := make([]row, n)
		for i := range rows {
			rows[i] = row{ts: ts[i], v: vs[i], labels: map[string]string{}}
		}
		for c := 2; c < sc.NumColumns(); c++ {
			values := make([]parquet.ByteArray, n)
			levels := make([]int16, n)
			readColumn(t, rg, c, func(cr file.ColumnChunkReader) (int64, error) {
				total, _, err := cr.(*file.ByteArrayColumnChunkReader).ReadBatch(int64(n), values, levels, nil)
				return total, err
			}, n)
			next := 0
			for i := range rows {
				if levels[i] == 1 {
					rows[i].labels[tb.columns[c]] = string(values[next])
					next++
				}
			}
		}
		tb.rows = append(tb.rows, rows...)
	}
	return tb
}

func readColumn(t testing.TB, rg *file.RowGroupReader, c int, read func(file.ColumnChunkReader) (int64, error), n int) {
	t.Helper()
	cr, err := rg.Column(c)
	require.NoError(t, err)
	total, err := read(cr)
	require.NoError(t, err)
	require.Equal(t, int64(n), total, "levels read from column %d", c)
}

func readArrow(t testing.TB, data []byte) table {
	t.Helper()
	r, err := ipc.NewReader(bytes.NewReader(data))
	require.NoError(t, err)
	defer r.Release()
	var tb table
	for _, f := range r.Schema().Fields() {
		tb.columns = append(tb.columns, f.Name)
	}
	for r.Next() {
		rec := r.RecordBatch()
		ts := rec.Column(0).(*array.Timestamp)
		vs := rec.Column(1).(*array.Float64)
		for i := 0; i < int(rec.NumRows()); i++ {
			rw := row{ts: int64(ts.Value(i)), v: vs.Value(i), labels: map[string]string{}}
			for c := 2; c < int(rec.NumCols()); c++ {
				d := rec.Column(c).(*array.Dictionary)
				if d.IsNull(i) {
					continue
				}
				rw.labels[tb.columns[c]] = d.Dictionary().(*array.String).Value(d.GetValueIndex(i))
			}
			tb.rows = append(tb.rows, rw)
		}
	}
	require.NoError(t, r.Err())
	require.Equal(t, arrow.TIMESTAMP, r.Schema().Field(0).Type.ID())
	return tb
}

func readCSV(t testing.TB, data []byte) table {
	t.Helper()
	r := csv.NewReader(bytes.NewReader(data))
	header, err := r.Read()
	require.NoError(t, err)
	require.Equal(t, []string{"time", "timestamp", "value"}, header[:3])
	tb := table{columns: append([]string{"timestamp", "value"}, header[3:]...)}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		ts, err := strconv.ParseInt(rec[1], 10, 64)
		require.NoError(t, err)
		tm, err := time.Parse(time.RFC3339Nano, rec[0])
		require.NoError(t, err, "time column %q", rec[0])
		require.Equal(t, ts, tm.UnixMilli(), "time %q against timestamp %d", rec[0], ts)
		v, err := strconv.ParseFloat(rec[2], 64)
		require.NoError(t, err)
		rw := row{ts: ts, v: v, labels: map[string]string{}}
		for i, f := range rec[3:] {
			if f != "" {
				rw.labels[header[3+i]] = f
			}
		}
		tb.rows = append(tb.rows, rw)
	}
	return tb
}

func readJSONL(t testing.TB, data []byte) table {
	t.Helper()
	var tb table
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	for {
		var obj map[string]any
		err := dec.Decode(&obj)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		rw := row{labels: map[string]string{}}
		for k, v := range obj {
			switch k {
			case "timestamp":
				rw.ts, err = v.(json.Number).Int64()
				require.NoError(t, err)
			case "value":
				switch x := v.(type) {
				case json.Number:
					rw.v, err = strconv.ParseFloat(string(x), 64)
				case string:
					require.Contains(t, []string{"NaN", "+Inf", "-Inf"}, x)
					rw.v, err = strconv.ParseFloat(x, 64)
				}
				require.NoError(t, err)
			default:
				rw.labels[k] = v.(string)
			}
		}
		tb.rows = append(tb.rows, rw)
	}
	return tb
}
