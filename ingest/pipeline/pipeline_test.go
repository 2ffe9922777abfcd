package pipeline

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/stretchr/testify/require"

	"github.com/quantrac/quantrac/ingest"
	"github.com/quantrac/quantrac/tsdb"
)

// memStore is a Store that keeps series and samples in memory, so tests can
// see exactly what the pipeline committed. Append reuses one Commit, so the
// store itself allocates nothing per message.
type memStore struct {
	mu      sync.Mutex
	series  []labels.Labels
	samples tsdb.Batch
	done    *tsdb.Commit
	fail    error
}

func (m *memStore) GetOrCreate(l labels.Labels) (tsdb.SeriesRef, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, s := range m.series {
		if labels.Equal(s, l) {
			return tsdb.SeriesRef(i + 1), nil
		}
	}
	m.series = append(m.series, l)
	return tsdb.SeriesRef(len(m.series)), nil
}

func (m *memStore) Append(b *tsdb.Batch) (*tsdb.Commit, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return nil, m.fail
	}
	m.samples.Refs = append(m.samples.Refs, b.Refs...)
	m.samples.Ts = append(m.samples.Ts, b.Ts...)
	m.samples.Vals = append(m.samples.Vals, b.Vals...)
	return m.done, nil
}

func (m *memStore) lset(ref tsdb.SeriesRef) labels.Labels { return m.series[ref-1] }

var now = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

func newTestPipeline(t testing.TB, store Store) *Pipeline {
	t.Helper()
	p, err := New(Options{Store: store, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now: func() time.Time { return now }})
	require.NoError(t, err)
	return p
}

// doneCommit returns a Commit that is already complete, through the real
// store, so Wait returns at once.
func doneCommit(t testing.TB) *tsdb.Commit {
	db, err := tsdb.Open(tsdb.Options{Dir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	defer db.Close()
	ref, err := db.GetOrCreate(labels.FromStrings("__name__", "warmup"))
	require.NoError(t, err)
	var b tsdb.Batch
	b.Add(ref, 1, 1)
	c, err := db.Append(&b)
	require.NoError(t, err)
	require.NoError(t, c.Wait())
	return c
}

// jsonPayload builds a batch of n readings from devices fields-wide.
func jsonPayload(n, fields int, ts int64) []byte {
	var b strings.Builder
	b.WriteString(`{"seq":1,"readings":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"device":"aws-%04d","ts":%d,"fields":{`, i%10, ts+int64(i)*1000)
		for f := range fields {
			if f > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `"sensor_%d_celsius":%d.%d`, f, 20+i%10, f)
		}
		b.WriteString(`}}`)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

func TestJSONEndToEndLabels(t *testing.T) {
	st := &memStore{done: doneCommit(t)}
	p := newTestPipeline(t, st)
	ts := now.Add(-time.Hour).UnixMilli()
	msg := &Message{Identity: Identity{"ha-noi", "hn-gw-001"}, Format: FormatJSON,
		Payload: []byte(fmt.Sprintf(`{"readings":[{"device":"d1","ts":%d,"tags":{"kind":"hydromet"},"fields":{"rainfall_mm":0.2,"wind_speed_meters_per_second":3.1}}]}`, ts))}
	res, err := p.Ingest(msg, true)
	require.NoError(t, err)
	require.Equal(t, 2, res.Accepted)
	require.Equal(t, 0, res.Rejected)
	require.Len(t, st.samples.Refs, 2)
	require.Equal(t, labels.FromStrings("__name__", "rainfall_mm", "device", "d1", "gateway", "hn-gw-001",
		"kind", "hydromet", "province", "ha-noi"), st.lset(st.samples.Refs[0]))
	require.Equal(t, []float64{0.2, 3.1}, st.samples.Vals)
	require.Equal(t, []int64{ts, ts}, st.samples.Ts)

	// The same series from another message resolves to the same ref.
	_, err = p.Ingest(msg, true)
	require.NoError(t, err)
	require.Equal(t, st.samples.Refs[:2], st.samples.Refs[2:])
	require.Len(t, st.series, 2)
}

func TestRefusals(t *testing.T) {
	ts := now.Add(-time.Minute).UnixMilli()
	tests := []struct {
		name     string
		payload  string
		accepted int
		reason   ingest.Reason
		wholeMsg bool
	}{
		{"not json", `{"readings":[`, 0, ingest.ReasonSyntax, true},
		{"too far in the future", fmt.Sprintf(`{"readings":[{"device":"a","ts":%d,"fields":{"x":1}},{"device":"a","ts":%d,"fields":{"x":2}}]}`, ts, now.Add(time.Hour).UnixMilli()), 1, ingest.ReasonTimestamp, false},
		{"too old", fmt.Sprintf(`{"readings":[{"device":"a","ts":%d,"fields":{"x":1}}]}`, now.Add(-400*24*time.Hour).UnixMilli()), 0, ingest.ReasonTimestamp, false},
		{"control character in device", fmt.Sprintf(`{"readings":[{"device":"a\u0007b","ts":%d,"fields":{"x":1}},{"device":"ok","ts":%d,"fields":{"x":1}}]}`, ts, ts), 1, ingest.ReasonLabel, false},
		{"device too long", fmt.Sprintf(`{"readings":[{"device":"%s","ts":%d,"fields":{"x":1}}]}`, strings.Repeat("d", 200), ts), 0, ingest.ReasonLabel, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := &memStore{done: doneCommit(t)}
			p := newTestPipeline(t, st)
			res, err := p.Ingest(&Message{Identity: Identity{"hue", "hu-gw-001"}, Format: FormatJSON, Payload: []byte(tc.payload)}, true)
			var pe *PayloadError
			if tc.wholeMsg {
				require.ErrorAs(t, err, &pe)
				require.Equal(t, tc.reason, pe.Reason)
			} else {
				require.NoError(t, err)
				require.Equal(t, tc.reason, res.FirstReason)
				require.Error(t, res.FirstError)
			}
			require.Equal(t, tc.accepted, res.Accepted)
			require.Len(t, st.samples.Refs, tc.accepted)
			g := p.Gateways()
			require.Len(t, g, 1)
			require.Equal(t, int64(1), g[0].Rejected[tc.reason].Load())
		})
	}
}

func TestStoreFailureIsNotAPayloadError(t *testing.T) {
	boom := errors.New("disk full")
	st := &memStore{fail: boom}
	p := newTestPipeline(t, st)
	_, err := p.Ingest(&Message{Identity: Identity{"hue", "g"}, Format: FormatJSON,
		Payload: jsonPayload(2, 1, now.UnixMilli()-10_000)}, true)
	require.ErrorIs(t, err, boom)
	var pe *PayloadError
	require.False(t, errors.As(err, &pe))
}

func TestUnknownFormatRefused(t *testing.T) {
	p := newTestPipeline(t, &memStore{})
	_, err := p.Ingest(&Message{Identity: Identity{"hue", "g"}, Format: Format(200), Payload: []byte("x")}, true)
	var pe *PayloadError
	require.ErrorAs(t, err, &pe)
	require.ErrorIs(t, err, ErrUnknownFormat)
}

// TestJSONPathDoesNotAllocate holds the hot path's contract: once the series
// are known, a message goes from payload bytes to a committed batch without
// allocating.
func TestJSONPathDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not held under -race")
	}
	st := &memStore{done: doneCommit(t)}
	p := newTestPipeline(t, st)
	msg := &Message{Identity: Identity{"ha-noi", "hn-gw-001"}, Format: FormatJSON,
		Payload: jsonPayload(100, 5, now.Add(-time.Hour).UnixMilli())}
	_, err := p.Ingest(msg, true) // warm up: creates the series, sizes the buffers
	require.NoError(t, err)
	allocs := testing.AllocsPerRun(100, func() {
		st.samples.Reset()
		if _, err := p.Ingest(msg, true); err != nil {
			t.Fatal(err)
		}
	})
	require.Zero(t, allocs, "allocations per message of 500 readings")
}
