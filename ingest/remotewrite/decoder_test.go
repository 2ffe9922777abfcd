package remotewrite

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
	"github.com/stretchr/testify/require"

	"github.com/quantrac/quantrac/ingest"
)

// recordingSink keeps what the decoder hands it, copied, as text.
type recordingSink struct {
	ingest.TagHolder
	samples []string
	reasons []ingest.Reason
}

func (s *recordingSink) Sample(metric []byte, ts int64, v float64) {
	tags := s.Current
	var b strings.Builder
	b.Write(metric)
	for _, t := range tags {
		fmt.Fprintf(&b, ",%s=%s", t.Key, t.Value)
	}
	fmt.Fprintf(&b, " %d %g", ts, v)
	s.samples = append(s.samples, b.String())
}

func (s *recordingSink) Invalid(r ingest.Reason, _ error) { s.reasons = append(s.reasons, r) }

func encode(t testing.TB, req *prompb.WriteRequest) []byte {
	t.Helper()
	raw, err := req.Marshal()
	require.NoError(t, err)
	return snappy.Encode(nil, raw)
}

func series(name string, samples ...prompb.Sample) prompb.TimeSeries {
	ls := []prompb.Label{{Name: "province", Value: "ha-noi"}}
	if name != "" {
		ls = append([]prompb.Label{{Name: "__name__", Value: name}}, ls...)
	}
	return prompb.TimeSeries{Labels: ls, Samples: samples}
}

func TestDecodeKeepsGoodSeriesBesideBadOnes(t *testing.T) {
	req := &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
		series("air_temperature_celsius", prompb.Sample{Timestamp: 1000, Value: 21.5}, prompb.Sample{Timestamp: 2000, Value: math.Inf(1)}),
		series("", prompb.Sample{Timestamp: 1000, Value: 1}),
		series("pm\x00x", prompb.Sample{Timestamp: 1000, Value: 1}, prompb.Sample{Timestamp: 2000, Value: 2}),
		{Labels: []prompb.Label{{Name: "__name__", Value: "pm25"}}, Histograms: []prompb.Histogram{{Timestamp: 5}}},
		series("relative_humidity_percent", prompb.Sample{Timestamp: 3000, Value: 80}),
	}}
	var sink recordingSink
	require.NoError(t, New(Options{}).Decode(encode(t, req), &sink))
	require.Equal(t, []string{
		"air_temperature_celsius,province=ha-noi 1000 21.5",
		"relative_humidity_percent,province=ha-noi 3000 80",
	}, sink.samples)
	require.Equal(t, []ingest.Reason{ingest.ReasonValue, ingest.ReasonMetricName, ingest.ReasonMetricName, ingest.ReasonValue}, sink.reasons)
}

// Requests that cannot be used at all are refused whole, before any Sink
// call, with the reason the counters show.
func TestDecodeRefusals(t *testing.T) {
	good := encode(t, &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
		series("x", prompb.Sample{Timestamp: 1, Value: 1}, prompb.Sample{Timestamp: 2, Value: 2}),
	}})
	raw, err := (&prompb.WriteRequest{Timeseries: []prompb.TimeSeries{series("x", prompb.Sample{Timestamp: 1, Value: 1})}}).Marshal()
	require.NoError(t, err)
	for _, tt := range []struct {
		name string
		body []byte
		opts Options
		want ingest.Reason
	}{
		{"empty body is not snappy", nil, Options{}, ingest.ReasonSyntax},
		{"uncompressed protobuf", raw, Options{}, ingest.ReasonSyntax},
		{"truncated snappy block", good[:len(good)-3], Options{}, ingest.ReasonSyntax},
		{"snappy of garbage", snappy.Encode(nil, []byte{0xff, 0xff, 0xff, 0xff}), Options{}, ingest.ReasonSyntax},
		{"over the body limit", good, Options{MaxBodyBytes: 4}, ingest.ReasonTooLarge},
		{"over the sample limit", good, Options{MaxSamples: 1}, ingest.ReasonTooManyReadings},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var sink recordingSink
			err := New(tt.opts).Decode(tt.body, &sink)
			var pe *ingest.PayloadError
			require.True(t, errors.As(err, &pe), "got %v", err)
			require.Equal(t, tt.want, pe.Reason)
			require.Empty(t, sink.samples)
			require.Empty(t, sink.reasons)
		})
	}
}

// One decoder serves request after request: nothing of an earlier request
// shows up in a later one.
func TestDecoderReuse(t *testing.T) {
	d := New(Options{})
	var first recordingSink
	require.NoError(t, d.Decode(encode(t, &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
		series("a", prompb.Sample{Timestamp: 1, Value: 1}), series("b", prompb.Sample{Timestamp: 1, Value: 2}),
	}}), &first))
	var second recordingSink
	require.NoError(t, d.Decode(encode(t, &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
		series("c", prompb.Sample{Timestamp: 9, Value: 3}),
	}}), &second))
	require.Len(t, first.samples, 2)
	require.Equal(t, []string{"c,province=ha-noi 9 3"}, second.samples)
}

// FuzzRemoteWrite feeds arbitrary bodies to the decoder: no panic, a
// refused request made no Sink call, every sample has a metric name and a
// finite value. Seeds: f.Add below and testdata/fuzz/FuzzRemoteWrite.
func FuzzRemoteWrite(f *testing.F) {
	f.Add(encode(f, &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
		series("air_temperature_celsius", prompb.Sample{Timestamp: 1000, Value: 21.5}),
		series("", prompb.Sample{Timestamp: 1000, Value: 1}),
	}}))
	f.Add([]byte{})
	d := New(Options{MaxBodyBytes: 1 << 20, MaxSamples: 1000})
	f.Fuzz(func(t *testing.T, body []byte) {
		var sink checkingSink
		err := d.Decode(body, &sink)
		if err != nil {
			var pe *ingest.PayloadError
			require.True(t, errors.As(err, &pe), "error %v is not a *ingest.PayloadError", err)
			require.Zero(t, sink.calls, "refused request made Sink calls")
			return
		}
		require.False(t, sink.bad, "a sample without a name or with an infinite value")
		require.LessOrEqual(t, sink.calls, 1000+len(body))
	})
}

type checkingSink struct {
	ingest.TagHolder
	calls int
	bad   bool
}

func (s *checkingSink) Sample(metric []byte, _ int64, v float64) {
	s.calls++
	if len(metric) == 0 || strings.IndexByte(string(metric), 0) >= 0 || math.IsInf(v, 0) {
		s.bad = true
	}
}

func (s *checkingSink) Invalid(ingest.Reason, error) { s.calls++ }

func BenchmarkDecode(b *testing.B) {
	req := &prompb.WriteRequest{}
	for i := range 500 {
		s := series(fmt.Sprintf("metric_%d", i%20))
		s.Labels = append(s.Labels, prompb.Label{Name: "gateway", Value: fmt.Sprintf("hn-gw-%03d", i)})
		for j := range 10 {
			s.Samples = append(s.Samples, prompb.Sample{Timestamp: int64(j) * 1000, Value: float64(j)})
		}
		req.Timeseries = append(req.Timeseries, s)
	}
	body := encode(b, req)
	d := New(Options{})
	var sink checkingSink
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if err := d.Decode(body, &sink); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*5000/b.Elapsed().Seconds(), "samples/s")
}
