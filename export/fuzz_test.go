package export

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/stretchr/testify/require"
)

// FuzzTextRoundTrip writes one sample with an arbitrary label value, value
// and timestamp as CSV and as JSON lines, and reads both back with the
// standard library: the escaping must hold for any input.
func FuzzTextRoundTrip(f *testing.F) {
	f.Add("ha-noi", 21.5, int64(1767225600000))
	f.Add(`a,"b"`+"\n c ", math.Inf(-1), int64(-1))
	f.Add("\xff\xfe tab\t \u2028 \x00", math.NaN(), int64(253402300800000))
	f.Add(" ", 5e-324, int64(math.MinInt64/2))
	f.Fuzz(func(t *testing.T, value string, v float64, ts int64) {
		if value == "" {
			return // Prometheus has no empty label values: empty is absent
		}
		series := []*testSeries{{lset: labels.FromStrings("note", value), ts: []int64{ts}, vs: []float64{v}}}
		for _, f := range []Format{FormatCSV, FormatJSONL} {
			var buf bytes.Buffer
			_, err := Export(context.Background(), &buf, newListSet(series), Options{Format: f, Columns: []string{"note"}})
			require.NoError(t, err)
			if f == FormatCSV && (ts < -62135596800000 || ts > 253402300799999) {
				continue // outside RFC 3339 years; readCSV's time.Parse check does not apply
			}
			got := readers[f](t, buf.Bytes()).rows
			require.Len(t, got, 1)
			require.Equal(t, ts, got[0].ts)
			if math.IsNaN(v) {
				require.True(t, math.IsNaN(got[0].v))
			} else {
				require.Equal(t, math.Float64bits(v), math.Float64bits(got[0].v))
			}
			require.Equal(t, expectedText(f, value), got[0].labels["note"], "%s", f)
		}
	})
}

// expectedText is value as a standard reader returns it: JSON carries
// invalid UTF-8 as U+FFFD (as encoding/json writes it), and encoding/csv
// reads a quoted \r\n as \n.
func expectedText(f Format, value string) string {
	if f == FormatCSV {
		return strings.ReplaceAll(value, "\r\n", "\n")
	}
	b, _ := json.Marshal(value)
	var s string
	_ = json.Unmarshal(b, &s)
	return s
}
