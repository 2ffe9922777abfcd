package pipeline

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/stretchr/testify/require"
)

type recordingForwarder struct {
	lsets []labels.Labels
	vals  []float64
	err   error // returned by Wait
}

type waitErr struct{ err error }

func (w waitErr) Wait() error { return w.err }

func (f *recordingForwarder) Append(lsets []labels.Labels, ts []int64, vals []float64) (Waiter, error) {
	f.lsets = append(f.lsets, lsets...)
	f.vals = append(f.vals, vals...)
	return waitErr{f.err}, nil
}

func TestForwarderSeesEveryCommittedSampleWithItsLabels(t *testing.T) {
	st := &memStore{done: doneCommit(t)}
	fw := &recordingForwarder{}
	p, err := New(Options{Store: st, Forwarder: fw, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now: func() time.Time { return now }})
	require.NoError(t, err)
	ts := now.Add(-time.Minute).UnixMilli()
	payload := fmt.Sprintf(`{"readings":[{"device":"a","ts":%d,"fields":{"x":1,"y":2}},{"device":"b","ts":%d,"fields":{"x":"bad"}}]}`, ts, ts)
	for range 2 { // the second time, every series comes from the cache
		_, err = p.Ingest(&Message{Identity: Identity{"hue", "hu-gw-001"}, Format: FormatJSON, Payload: []byte(payload)}, true)
		require.NoError(t, err)
	}
	require.Equal(t, []float64{1, 2, 1, 2}, fw.vals)
	require.Len(t, fw.lsets, 4)
	for i, l := range fw.lsets {
		require.Equal(t, st.lset(st.samples.Refs[i]), l)
	}
	require.Equal(t, "y", fw.lsets[3].Get("__name__"))

	// A forwarder that cannot make the samples durable fails the message:
	// it must not be acknowledged.
	fw.err = errors.New("forward queue: disk full")
	_, err = p.Ingest(&Message{Identity: Identity{"hue", "hu-gw-001"}, Format: FormatJSON, Payload: []byte(payload)}, true)
	require.ErrorIs(t, err, fw.err)
}
