package lineproto

import (
	"errors"
	"testing"

	"github.com/influxdata/line-protocol/v2/lineprotocol"
	"github.com/stretchr/testify/require"

	"github.com/quantrac/quantrac/ingest"
)

// FuzzLineProtocol feeds arbitrary payloads to the decoder and checks the
// Sink contract (no panic; valid, unreserved names; finite values; counts
// that match the calls; no Sample from a refused message). When the
// reference decoder, github.com/influxdata/line-protocol/v2, accepts the
// whole payload, the samples must also be exactly those it yields under the
// documented mapping. Seeds: f.Add below and testdata/fuzz/FuzzLineProtocol.
func FuzzLineProtocol(f *testing.F) {
	f.Add([]byte(realisticLines(3, 6)))
	f.Add([]byte(`site,location=Ha\ Noi,kind=a\,b\=c temp=27.4,ok=T,n=3i,u=4u,s="x\"y" 1700000000000000000`))
	f.Add([]byte("m f=1\r\n# c\n\nm,a=b value=2 -5\n"))
	d, err := New(Options{})
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, payload []byte) {
		sink := checkingSink{t: t}
		var rec recorder
		res, err := d.Decode(payload, now, &teeSink{&sink, &rec})
		require.Equal(t, sink.samples, res.Samples)
		require.Equal(t, sink.invalid, res.Invalid)
		if err != nil {
			var pe *ingest.PayloadError
			require.True(t, errors.As(err, &pe), "error %v is not a *ingest.PayloadError", err)
			require.Zero(t, sink.samples, "refused message emitted samples")
		}
		want, ok := referenceSamples(payload, now, lineprotocol.Nanosecond)
		if !ok {
			return
		}
		if len(want) == 0 {
			want = nil
		}
		require.Equal(t, want, rec.samples)
	})
}
