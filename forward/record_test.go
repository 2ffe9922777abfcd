package forward

import (
	"math"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/stretchr/testify/require"
)

// decodeAll decodes a record body back into columns.
func decodeAll(t testing.TB, body []byte) (record, columns) {
	var (
		rec record
		s   sample
		c   columns
	)
	require.NoError(t, rec.decode(body))
	for {
		ok, err := rec.next(&s)
		require.NoError(t, err)
		if !ok {
			break
		}
		var b labels.ScratchBuilder
		for i := 0; i < len(s.labels); i += 2 {
			b.Add(string(rec.symbols[s.labels[i]]), string(rec.symbols[s.labels[i+1]]))
		}
		c.lsets = append(c.lsets, b.Labels())
		c.ts = append(c.ts, s.ts)
		c.vals = append(c.vals, s.val)
	}
	return rec, c
}

func TestRecordRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    columns
	}{
		{"one", genSamples(1, 1_700_000_000_000)},
		{"many", genSamples(1000, 1_700_000_000_000)},
		{"odd values and times", columns{
			lsets: []labels.Labels{labels.FromStrings("__name__", "x"), labels.FromStrings("__name__", "x", "a", "ü"), labels.FromStrings("__name__", "y")},
			ts:    []int64{5, -3, math.MaxInt64 / 2},
			vals:  []float64{math.Inf(-1), math.Copysign(0, -1), 1e-300},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enc := newRecordEncoder()
			body := enc.encode(nil, 42, 1234, tc.c.lsets, tc.c.ts, tc.c.vals)
			rec, got := decodeAll(t, body)
			require.EqualValues(t, 42, rec.firstSeq)
			require.EqualValues(t, 1234, rec.appendMs)
			require.Equal(t, len(tc.c.ts), rec.count)
			require.Equal(t, tc.c.ts, got.ts)
			require.Equal(t, len(tc.c.vals), len(got.vals))
			for i := range got.vals {
				require.Equal(t, math.Float64bits(tc.c.vals[i]), math.Float64bits(got.vals[i]))
				require.Equal(t, tc.c.lsets[i], got.lsets[i])
			}
			// The encoder is reused: a second group must not see the first's symbols.
			body2 := enc.encode(nil, 7, 0, tc.c.lsets[:1], tc.c.ts[:1], tc.c.vals[:1])
			_, got2 := decodeAll(t, body2)
			require.Equal(t, tc.c.lsets[:1], got2.lsets)
		})
	}
}

func TestRecordSymbolsShareStrings(t *testing.T) {
	c := genSamples(1000, 0)
	body := newRecordEncoder().encode(nil, 0, 0, c.lsets, c.ts, c.vals)
	var rec record
	require.NoError(t, rec.decode(body))
	// __name__, the metric, province, its value, gateway, its value, device
	// and seven devices.
	require.Len(t, rec.symbols, 14)
	// Each sample costs its label count, 8 one-byte symbol references, a
	// one-byte timestamp delta and 8 value bytes: 18 bytes, against about 70
	// bytes of label text. Header: version, sequence, time, symbol count.
	head := 4
	for _, s := range rec.symbols {
		head += 1 + len(s)
	}
	head += uvarintLen(1000)
	require.Equal(t, head+1000*18, len(body))
	text := 0
	c.lsets[0].Range(func(l labels.Label) { text += len(l.Name) + len(l.Value) })
	require.Less(t, 18*3, text, "a sample costs under a third of its label text")
}

func TestRecordRejectsDamage(t *testing.T) {
	c := genSamples(10, 0)
	body := newRecordEncoder().encode(nil, 0, 0, c.lsets, c.ts, c.vals)
	for cut := 0; cut < len(body); cut++ {
		var (
			rec record
			s   sample
			err error
		)
		if err = rec.decode(body[:cut]); err == nil {
			for {
				var ok bool
				if ok, err = rec.next(&s); !ok || err != nil {
					break
				}
			}
		}
		require.ErrorIs(t, err, errRecord, "body cut at %d of %d", cut, len(body))
	}
}

func FuzzRecordDecode(f *testing.F) {
	c := genSamples(5, 1_700_000_000_000)
	f.Add(newRecordEncoder().encode(nil, 9, 100, c.lsets, c.ts, c.vals))
	f.Add([]byte{1, 0, 0, 1, 1, 'a', 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{1, 0, 0, 0, 255, 255, 255, 255, 15})
	f.Fuzz(func(t *testing.T, body []byte) {
		var (
			rec record
			s   sample
		)
		if rec.decode(body) != nil {
			return
		}
		for range rec.count + 1 {
			ok, err := rec.next(&s)
			if err != nil || !ok {
				return
			}
			for _, ref := range s.labels {
				require.Less(t, int(ref), len(rec.symbols))
			}
		}
		t.Fatalf("more samples than the record's count of %d", rec.count)
	})
}
