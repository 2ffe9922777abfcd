package lineproto

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quantrac/quantrac/ingest"
)

func newDecoder(t testing.TB, opts Options) *Decoder {
	d, err := New(opts)
	require.NoError(t, err)
	return d
}

const now = 1764748899000

func TestDecodeDocExample(t *testing.T) {
	payload := "weather,device=aws-0193,kind=hydromet air_temperature_celsius=27.4,relative_humidity_percent=81.5,door_open=false 1764748800123000000\n" +
		"pump,device=p-7 value=1i,state=\"running\"\n"
	d := newDecoder(t, Options{})
	var r recorder
	res, err := d.Decode([]byte(payload), now, &r)
	require.NoError(t, err)
	require.Equal(t, []sample{
		"weather_air_temperature_celsius{device=aws-0193,kind=hydromet} 1764748800123 27.4",
		"weather_relative_humidity_percent{device=aws-0193,kind=hydromet} 1764748800123 81.5",
		"weather_door_open{device=aws-0193,kind=hydromet} 1764748800123 0",
		"pump{device=p-7} 1764748899000 1",
	}, r.samples)
	require.Equal(t, []ingest.Reason{ingest.ReasonValue}, r.reasons)
	require.Equal(t, Result{Lines: 2, Samples: 4, Invalid: 1}, res)
}

// TestDecodeMalformed fixes the outcome of each kind of bad input: which
// samples survive and which Invalid reasons are reported, in order, or that
// the message is refused as a whole.
func TestDecodeMalformed(t *testing.T) {
	const good = "m f=1 1000000\n"
	const goodSample = sample("m_f{} 1 1")
	R := func(rs ...ingest.Reason) []ingest.Reason { return rs }
	S := ingest.ReasonSyntax
	tests := []struct {
		name    string
		payload string
		refuse  ingest.Reason
		samples []sample
		invalid []ingest.Reason
	}{
		{name: "empty", payload: "", refuse: S},
		{name: "only comments and blanks", payload: "# x\n\n   \n", refuse: S},
		{name: "JSON on the lp topic", payload: `{"readings":[]}`, refuse: S, invalid: R(S)},
		{name: "binary", payload: "\x00\x01\x02\xff", refuse: S, invalid: R(S)},
		{name: "measurement only", payload: "m\n" + good, samples: []sample{goodSample}, invalid: R(S)},
		{name: "no fields after tags", payload: "m,a=b\n" + good, samples: []sample{goodSample}, invalid: R(S)},
		{name: "empty tag value", payload: "m,a= f=1\n" + good, samples: []sample{goodSample}, invalid: R(S)},
		{name: "tag without =", payload: "m,a f=1\n" + good, samples: []sample{goodSample}, invalid: R(S)},
		{name: "space after comma", payload: "m, a=b f=1\n" + good, samples: []sample{goodSample}, invalid: R(S)},
		{name: "field without value", payload: "m f=\n" + good, samples: []sample{goodSample}, invalid: R(S)},
		{name: "field of unknown type", payload: "m f=abc\n" + good, samples: []sample{goodSample}, invalid: R(S)},
		{name: "bad boolean", payload: "m f=tru\n" + good, samples: []sample{goodSample}, invalid: R(S)},
		{name: "bad number", payload: "m f=1.2.3\n" + good, samples: []sample{goodSample}, invalid: R(S)},
		{name: "bad integer", payload: "m f=1.5i\n" + good, samples: []sample{goodSample}, invalid: R(S)},
		{name: "trailing comma", payload: "m f=1,\n" + good, samples: []sample{goodSample}, invalid: R(S)},
		{name: "unterminated string", payload: good + "m s=\"abc\n" + good, samples: []sample{goodSample}, invalid: R(S)},
		{name: "bad timestamp", payload: "m f=1 12x\n" + good, samples: []sample{goodSample}, invalid: R(S)},
		{name: "text after timestamp", payload: "m f=1 12 13\n" + good, samples: []sample{goodSample}, invalid: R(S)},
		{name: "lone carriage return", payload: "m f=1\rm f=2\n" + good, samples: []sample{goodSample}, invalid: R(S)},
		{name: "one bad line among good ones", payload: good + "garbage here\n" + good,
			samples: []sample{goodSample, goodSample}, invalid: R(S)},
		{name: "timestamp not an integer", payload: "m f=1 1-2\n" + good,
			samples: []sample{goodSample}, invalid: R(ingest.ReasonTimestamp)},
		{name: "timestamp out of range", payload: "m f=1 99999999999999999999\n" + good,
			samples: []sample{goodSample}, invalid: R(ingest.ReasonTimestamp)},
		{name: "string field skipped, others kept", payload: "m s=\"x\",f=1 1000000\n",
			samples: []sample{goodSample}, invalid: R(ingest.ReasonValue)},
		{name: "integer out of range skips the field", payload: "m a=9223372036854775808i,f=1 1000000\n",
			samples: []sample{goodSample}, invalid: R(ingest.ReasonValue)},
		{name: "non-finite floats skip the field", payload: "m a=1e999,b=-Inf,f=1 1000000\n",
			samples: []sample{goodSample}, invalid: R(ingest.ReasonValue, ingest.ReasonValue)},
		{name: "bad measurement skips the line", payload: "9m f=1\nm-x f=1\nm\\ x f=1\n" + good,
			samples: []sample{goodSample}, invalid: R(ingest.ReasonMetricName, ingest.ReasonMetricName, ingest.ReasonMetricName)},
		{name: "bad field key skips the field", payload: "m a-b=1,f=1,c\\ d=2 1000000\n",
			samples: []sample{goodSample}, invalid: R(ingest.ReasonMetricName, ingest.ReasonMetricName)},
		{name: "field key may start with a digit", payload: "load 1m=0.5 1000000\n",
			samples: []sample{"load_1m{} 1 0.5"}},
		{name: "reserved tags skip the line",
			payload: "m,province=x f=1\nm,gateway=x f=1\nm,__name__=x f=1\n" + good,
			samples: []sample{goodSample}, invalid: R(ingest.ReasonLabel, ingest.ReasonLabel, ingest.ReasonLabel)},
		{name: "bad tag key skips the line", payload: "m,a-b=1 f=1\nm,1a=1 f=1\n" + good,
			samples: []sample{goodSample}, invalid: R(ingest.ReasonLabel, ingest.ReasonLabel)},
		{name: "repeated tag key skips the line", payload: "m,a=1,a=2 f=1\n" + good,
			samples: []sample{goodSample}, invalid: R(ingest.ReasonLabel)},
		{name: "tag value not UTF-8 skips the line", payload: "m,a=\xff f=1\n" + good,
			samples: []sample{goodSample}, invalid: R(ingest.ReasonLabel)},
		// Tokens are first compared with those in the same place of the
		// line before (predictions); a bad name stays bad, and a token
		// that starts like the prediction is its own.
		{name: "a repeated bad field key is refused on every line", payload: "m f=1,g-h=2 1000000\nm f=1,g-h=3 1000000\n",
			samples: []sample{goodSample, goodSample}, invalid: R(ingest.ReasonMetricName, ingest.ReasonMetricName)},
		{name: "a bad field key after a broken line is refused", payload: "m f=1 1000000\nm g-h=1,f=x\nm g-h=1 1000000\n",
			samples: []sample{goodSample}, invalid: R(S, ingest.ReasonMetricName)},
		{name: "a reserved tag key after a line broken in its tags is refused",
			payload: "m,a=b f=1 1000000\nm,__x=b,c f=1\nm,__x=b f=1 1000000\n",
			samples: []sample{"m_f{a=b} 1 1"}, invalid: R(S, ingest.ReasonLabel)},
		{name: "tokens longer than the prediction", payload: "m,a=b f=1 1000000\nmm,a=bb,a2=c ff=2 1000000\nm,a=b\\,c f=1 1000000\n",
			samples: []sample{"m_f{a=b} 1 1", "mm_ff{a=bb,a2=c} 1 2", "m_f{a=b,c} 1 1"}},
		{name: "tag values are checked when the keys repeat those of the line before",
			payload: "m,a=b,c=d f=1 1000000\nm,a=\xff,c=d f=1 1000000\nm,a=b,c=\xfe f=1 1000000\nm,a=e,c=f f=1 1000000\n",
			samples: []sample{"m_f{a=b,c=d} 1 1", "m_f{a=e,c=f} 1 1"}, invalid: R(ingest.ReasonLabel, ingest.ReasonLabel)},
		{name: "device tag is the device label", payload: "m,device=aws-1 f=1 1000000\n",
			samples: []sample{"m_f{device=aws-1} 1 1"}},
	}
	d := newDecoder(t, Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r recorder
			res, err := d.Decode([]byte(tt.payload), now, &r)
			require.Equal(t, tt.samples, r.samples)
			require.Equal(t, tt.invalid, r.reasons, "%v", r.errs)
			if tt.refuse != ingest.ReasonNone {
				var pe *ingest.PayloadError
				require.True(t, errors.As(err, &pe), "want a *ingest.PayloadError, got %v", err)
				require.Equal(t, tt.refuse, pe.Reason)
				return
			}
			require.NoError(t, err)
			require.Equal(t, len(r.samples), res.Samples)
			require.Equal(t, len(r.reasons), res.Invalid)
		})
	}
}

func TestDecodeErrorsNameTheLine(t *testing.T) {
	d := newDecoder(t, Options{})
	var r recorder
	_, err := d.Decode([]byte("m f=1\nm s=\"a\nb\",f=1\n\nm f=x\nm,province=p f=1\n"), now, &r)
	require.NoError(t, err)
	require.Len(t, r.errs, 3)
	require.ErrorContains(t, r.errs[0], "line 2: field \"s\": string value")
	require.ErrorContains(t, r.errs[1], "line 5: ")
	require.ErrorContains(t, r.errs[2], "line 6: tag key \"province\" is reserved")
}

func TestDecodePrecision(t *testing.T) {
	tests := []struct {
		prec Precision
		ts   string
		want int64
	}{
		{Nanosecond, "1764748800123456789", 1764748800123},
		{Nanosecond, "-1", -1},
		{Microsecond, "1764748800123456", 1764748800123},
		{Millisecond, "1764748800123", 1764748800123},
		{Second, "1764748800", 1764748800000},
	}
	for _, tt := range tests {
		t.Run(tt.prec.String(), func(t *testing.T) {
			d := newDecoder(t, Options{Precision: tt.prec})
			var r recorder
			_, err := d.Decode([]byte("m value=1 "+tt.ts), now, &r)
			require.NoError(t, err)
			require.Equal(t, []sample{fmtSample([]byte("m"), nil, tt.want, 1)}, r.samples)
		})
	}
	t.Run("seconds overflow", func(t *testing.T) {
		d := newDecoder(t, Options{Precision: Second})
		var r recorder
		_, err := d.Decode([]byte("m value=1 9223372036854776\nm value=2 1"), now, &r)
		require.NoError(t, err)
		require.Equal(t, []ingest.Reason{ingest.ReasonTimestamp}, r.reasons)
		require.Equal(t, []sample{"m{} 1000 2"}, r.samples)
	})
	t.Run("unknown precision", func(t *testing.T) {
		_, err := New(Options{Precision: 9})
		require.Error(t, err)
	})
}

func TestDecodeLimits(t *testing.T) {
	t.Run("values at the limit pass", func(t *testing.T) {
		d := newDecoder(t, Options{MaxReadings: 12})
		res, err := d.Decode(realisticLines(2, 6), now, &countSink{})
		require.NoError(t, err)
		require.Equal(t, 12, res.Samples)
	})
	t.Run("values over the limit refuse the message", func(t *testing.T) {
		d := newDecoder(t, Options{MaxReadings: 11})
		var r recorder
		_, err := d.Decode(realisticLines(2, 6), now, &r)
		var pe *ingest.PayloadError
		require.ErrorAs(t, err, &pe)
		require.Equal(t, ingest.ReasonTooManyReadings, pe.Reason)
		require.Empty(t, r.samples)
		require.Empty(t, r.reasons)
	})
	t.Run("'=' in tags and strings do not count", func(t *testing.T) {
		d := newDecoder(t, Options{MaxReadings: 2})
		res, err := d.Decode([]byte("m,a=1,b=2 s=\"x=y\",f=1 1\nbad=line\n"), now, &countSink{})
		require.NoError(t, err)
		require.Equal(t, 1, res.Samples)
	})
	t.Run("default limit is 10000 values", func(t *testing.T) {
		d := newDecoder(t, Options{})
		_, err := d.Decode(realisticLines(2000, 5), now, &countSink{})
		require.NoError(t, err)
		_, err = d.Decode(realisticLines(2001, 5), now, &countSink{})
		require.ErrorContains(t, err, "10005 values, limit 10000")
	})
	t.Run("tags per line", func(t *testing.T) {
		d := newDecoder(t, Options{MaxTags: 2})
		var r recorder
		_, err := d.Decode([]byte("m,a=1,b=2 f=1 1000000\nm,a=1,b=2,c=3 f=2\n"), now, &r)
		require.NoError(t, err)
		require.Equal(t, []sample{"m_f{a=1,b=2} 1 1"}, r.samples)
		require.Equal(t, []ingest.Reason{ingest.ReasonTooManyLabels}, r.reasons)
	})
	t.Run("name and label lengths", func(t *testing.T) {
		d := newDecoder(t, Options{MaxMetricNameLen: 5, MaxTagKeyLen: 2, MaxTagValueLen: 3})
		var r recorder
		_, err := d.Decode([]byte("m f=1,ff=2,ffff=3,value=4 1000000\nmmmmmm value=1\nm,abc=1 value=1\nm,a=1234 value=1\n"), now, &r)
		require.NoError(t, err)
		require.Equal(t, []sample{"m_f{} 1 1", "m_ff{} 1 2", "m{} 1 4"}, r.samples)
		require.Equal(t, []ingest.Reason{ingest.ReasonMetricName, ingest.ReasonMetricName,
			ingest.ReasonLabel, ingest.ReasonLabel}, r.reasons)
	})
}

// TestDecodeAllocs holds the steady state at zero allocations per message.
func TestDecodeAllocs(t *testing.T) {
	d := newDecoder(t, Options{})
	payload := realisticLines(100, 6)
	var sink countSink
	_, err := d.Decode(payload, now, &sink)
	require.NoError(t, err)
	require.Equal(t, 600, sink.samples)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := d.Decode(payload, now, &sink); err != nil {
			t.Fatal(err)
		}
	})
	require.Zero(t, allocs, "allocations per 600-value message")

	escaped := []byte(strings.Repeat(`site,location=Ha\ Noi,kind=a\,b temp=27.4,ok=T 1700000000000000000`+"\n", 50))
	_, err = d.Decode(escaped, now, &sink)
	require.NoError(t, err)
	require.Zero(t, testing.AllocsPerRun(100, func() { _, _ = d.Decode(escaped, now, &sink) }),
		"allocations per message with escaped tag values")
}
