package export

import (
	"bytes"
	"context"
	"errors"
	"math"
	"strconv"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/util/annotations"
	"github.com/stretchr/testify/require"
)

var readers = map[Format]func(testing.TB, []byte) table{
	FormatParquet: readParquet,
	FormatArrow:   readArrow,
	FormatCSV:     readCSV,
	FormatJSONL:   readJSONL,
}

var allFormats = []Format{FormatParquet, FormatArrow, FormatCSV, FormatJSONL}

// fixtureColumns deliberately includes a label named "value", which must
// come out as exported_value, and leaves out "extra".
var fixtureColumns = []string{model.MetricNameLabel, "province", "gateway", "device", "note", "value"}

// fixture returns series that exercise every corner the formats must keep:
// missing labels, label values that need quoting or escaping, special
// floats, negative and large timestamps, an empty series, histogram
// samples, a label not among the columns, and series longer than a batch.
func fixture() []*testSeries {
	long := &testSeries{lset: labels.FromStrings(model.MetricNameLabel, "relative_humidity_percent", "province", "ho-chi-minh", "gateway", "hc-gw-001", "device", "rh-1")}
	for i := range 250 {
		long.ts = append(long.ts, 1767225600000+int64(i)*1000+int64(i%7))
		long.vs = append(long.vs, math.Round(float64(60+i%40)*10)/10+0.1)
	}
	return []*testSeries{
		{
			lset: labels.FromStrings(model.MetricNameLabel, "air_temperature_celsius", "province", "ha-noi", "gateway", "hn-gw-004", "device", "aws-0193"),
			ts:   []int64{1767225600000, 1767225601000, 1767225602003, 1767225603000},
			vs:   []float64{21.5, math.NaN(), math.Inf(1), math.Inf(-1)},
		},
		{
			lset: labels.FromStrings(model.MetricNameLabel, "air_temperature_celsius", "province", "ha-noi", "note", `Hà Nội, "Old Quarter"`+"\nline two", "value", " padded "),
			ts:   []int64{-86_400_001, 0, 1, 253402300799999},
			vs:   []float64{math.Copysign(0, -1), 1e300, 5e-324, math.Float64frombits(value.StaleNaN)},
		},
		{lset: labels.FromStrings(model.MetricNameLabel, "empty_series", "province", "hue")},
		{
			lset: labels.FromStrings(model.MetricNameLabel, "mixed", "province", "da-nang", "extra", "dropped", "note", "tab\there \\ back\x01ctl \u2028"),
			ts:   []int64{10, 20, 30, 40},
			vs:   []float64{1, 2, 3, 4},
			hist: map[int]bool{1: true, 2: true},
		},
		long,
		{lset: labels.FromStrings("device", "no-metric-name"), ts: []int64{5}, vs: []float64{-1.25}},
	}
}

// expectedRows is what every reader must return for series exported with
// columns: one row per float sample, labels renamed to their columns.
func expectedRows(series []*testSeries, columns []string) []row {
	var rows []row
	for _, s := range series {
		lbls := map[string]string{}
		for _, c := range columns {
			if v := s.lset.Get(c); v != "" {
				lbls[ColumnName(c)] = v
			}
		}
		for i, t := range s.ts {
			if s.hist[i] {
				continue
			}
			rows = append(rows, row{ts: t, v: s.vs[i], labels: lbls})
		}
	}
	return rows
}

// requireSameRows compares rows exactly. Binary formats must keep every
// float bit for bit (StaleNaN, -0); text formats keep every finite value
// exactly and NaN as NaN.
func requireSameRows(t *testing.T, f Format, want, got []row) {
	t.Helper()
	require.Len(t, got, len(want))
	binary := f == FormatParquet || f == FormatArrow
	for i := range want {
		require.Equal(t, want[i].ts, got[i].ts, "row %d timestamp", i)
		require.Equal(t, want[i].labels, got[i].labels, "row %d labels", i)
		w, g := want[i].v, got[i].v
		switch {
		case binary:
			require.Equal(t, math.Float64bits(w), math.Float64bits(g), "row %d value %v, got %v", i, w, g)
		case math.IsNaN(w):
			require.True(t, math.IsNaN(g), "row %d value %v", i, g)
		default:
			require.Equal(t, math.Float64bits(w), math.Float64bits(g), "row %d value %v, got %v", i, w, g)
		}
	}
}

func TestExportRoundTrip(t *testing.T) {
	wantColumns := []string{"timestamp", "value", "metric", "province", "gateway", "device", "note", "exported_value"}
	for _, f := range allFormats {
		for _, rowsPerGroup := range []int{0, 1, 7, 100} {
			t.Run(f.String()+"/rows="+itoa(rowsPerGroup), func(t *testing.T) {
				series := fixture()
				var buf bytes.Buffer
				var progress Progress
				set := newListSet(series)
				set.warn = annotations.New().Add(errors.New("partial result"))
				st, err := Export(context.Background(), &buf, set, Options{
					Format: f, Columns: fixtureColumns, RowsPerGroup: rowsPerGroup, Progress: &progress,
				})
				require.NoError(t, err)

				want := expectedRows(series, fixtureColumns)
				got := readers[f](t, buf.Bytes())
				requireSameRows(t, f, want, got.rows)
				if f != FormatJSONL {
					require.Equal(t, wantColumns, got.columns)
				}

				require.Equal(t, int64(len(want)), st.Rows)
				require.Equal(t, int64(5), st.Series, "the empty series is not counted")
				require.Equal(t, int64(2), st.SkippedSamples)
				require.Equal(t, int64(1), st.UnlistedLabelSeries)
				require.Equal(t, int64(buf.Len()), st.Bytes)
				require.Len(t, st.Warnings, 1)
				per := rowsPerGroup
				if per == 0 {
					per = DefaultRowsPerGroup
				}
				require.Equal(t, int64((len(want)+per-1)/per), st.Batches)
				require.Equal(t, st.Rows, progress.Rows.Load())
				require.Equal(t, st.Bytes, progress.Bytes.Load())
				require.Equal(t, st.Series, progress.Series.Load())
			})
		}
	}
}

func itoa(n int) string {
	if n == 0 {
		return "default"
	}
	return strconv.Itoa(n)
}

func TestExportEmpty(t *testing.T) {
	for _, f := range allFormats {
		t.Run(f.String(), func(t *testing.T) {
			var buf bytes.Buffer
			st, err := Export(context.Background(), &buf, newListSet(nil), Options{Format: f, Columns: genColumns})
			require.NoError(t, err)
			require.Zero(t, st.Rows)
			got := readers[f](t, buf.Bytes())
			require.Empty(t, got.rows)
			if f != FormatJSONL {
				require.Equal(t, []string{"timestamp", "value", "metric", "province", "gateway", "device"}, got.columns,
					"an empty export still has its schema or header")
			} else {
				require.Zero(t, buf.Len())
			}
		})
	}
}
