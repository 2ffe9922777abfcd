package jsonbatch

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quantrac/quantrac/ingest"
)

// FuzzJSON feeds arbitrary payloads to the decoder and checks the Sink
// contract: no panic, every emitted metric and tag key is valid and not
// reserved, values are finite, a refused message made no Sink call, and the
// Result counts match the calls. Seeds: f.Add below and
// testdata/fuzz/FuzzJSON.
func FuzzJSON(f *testing.F) {
	f.Add([]byte(docExample))
	f.Add(realisticBatch(3, 6))
	f.Add([]byte(`{"readings":[{"device":"d","ts":1,"tags":{"__name__":"x"},"fields":{"a":1}}]}`))
	d, err := New(Options{MaxReadings: 64, MaxTags: 4})
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, payload []byte) {
		sink := checkingSink{t: t}
		res, err := d.Decode(payload, &sink)
		if err != nil {
			var pe *ingest.PayloadError
			require.True(t, errors.As(err, &pe), "error %v is not a *ingest.PayloadError", err)
			require.Zero(t, sink.samples+sink.invalid, "refused message made Sink calls")
			return
		}
		require.Equal(t, sink.samples, res.Samples)
		require.Equal(t, sink.invalid, res.Invalid)
		require.LessOrEqual(t, res.Samples, 64)
	})
}
