package jsonbatch

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quantrac/quantrac/ingest"
)

const docExample = `{"seq": 42, "readings": [
 {"device": "aws-0193", "ts": 1764748800123, "tags": {"kind": "hydromet"},
  "fields": {"air_temperature_celsius": 27.4, "relative_humidity_percent": 81.5, "door_open": false}},
 {"device": "aws-0194", "ts": 1764748800456,
  "fields": {"water_level_m": 3.25, "pump_running": true}}]}`

func newDecoder(t testing.TB, opts Options) *Decoder {
	d, err := New(opts)
	require.NoError(t, err)
	return d
}

func TestDecodeDocExample(t *testing.T) {
	d := newDecoder(t, Options{})
	var r recorder
	res, err := d.Decode([]byte(docExample), &r)
	require.NoError(t, err)
	require.Equal(t, Result{Seq: 42, Readings: 2, Samples: 5}, res)
	require.Equal(t, []sample{
		"air_temperature_celsius{device=aws-0193,kind=hydromet} 1764748800123 27.4",
		"relative_humidity_percent{device=aws-0193,kind=hydromet} 1764748800123 81.5",
		"door_open{device=aws-0193,kind=hydromet} 1764748800123 0",
		"water_level_m{device=aws-0194} 1764748800456 3.25",
		"pump_running{device=aws-0194} 1764748800456 1",
	}, r.samples)
	require.Empty(t, r.reasons)
}

// TestDecodeMalformed fixes the outcome of each kind of bad input: either
// the whole message is refused with a reason, or which samples survive and
// which Invalid reasons are reported, in order.
func TestDecodeMalformed(t *testing.T) {
	const ok = `{"device":"d1","ts":1000,"fields":{"t":1.5}}`
	const okSample = sample("t{device=d1} 1000 1.5")
	R := func(rs ...ingest.Reason) []ingest.Reason { return rs }
	tests := []struct {
		name    string
		payload string
		refuse  ingest.Reason // non-zero: whole message refused
		samples []sample
		invalid []ingest.Reason
	}{
		{name: "empty payload", payload: ``, refuse: ingest.ReasonSyntax},
		{name: "not JSON", payload: `temperature=27.4`, refuse: ingest.ReasonSyntax},
		{name: "truncated", payload: `{"readings":[` + ok, refuse: ingest.ReasonSyntax},
		{name: "trailing garbage", payload: `{"readings":[]} x`, refuse: ingest.ReasonSyntax},
		{name: "top-level array", payload: `[` + ok + `]`, refuse: ingest.ReasonSchema},
		{name: "readings missing", payload: `{"seq":1}`, refuse: ingest.ReasonSchema},
		{name: "readings not array", payload: `{"readings":{}}`, refuse: ingest.ReasonSchema},
		{name: "seq negative", payload: `{"seq":-1,"readings":[` + ok + `]}`, refuse: ingest.ReasonSchema},
		{name: "seq fractional", payload: `{"seq":1.5,"readings":[` + ok + `]}`, refuse: ingest.ReasonSchema},
		{name: "seq string", payload: `{"seq":"1","readings":[` + ok + `]}`, refuse: ingest.ReasonSchema},
		{name: "no readings is fine", payload: `{"readings":[]}`},
		{name: "unknown members ignored", payload: `{"v":2,"readings":[{"device":"d1","ts":1000,"x":[1],"fields":{"t":1.5}}]}`,
			samples: []sample{okSample}},
		{name: "reading not object", payload: `{"readings":[7,` + ok + `]}`,
			samples: []sample{okSample}, invalid: R(ingest.ReasonSchema)},
		{name: "device missing", payload: `{"readings":[{"ts":1,"fields":{"t":1}},` + ok + `]}`,
			samples: []sample{okSample}, invalid: R(ingest.ReasonSchema)},
		{name: "device number", payload: `{"readings":[{"device":5,"ts":1,"fields":{"t":1}},` + ok + `]}`,
			samples: []sample{okSample}, invalid: R(ingest.ReasonSchema)},
		{name: "device empty", payload: `{"readings":[{"device":"","ts":1,"fields":{"t":1}},` + ok + `]}`,
			samples: []sample{okSample}, invalid: R(ingest.ReasonLabel)},
		{name: "ts missing", payload: `{"readings":[{"device":"d","fields":{"t":1}},` + ok + `]}`,
			samples: []sample{okSample}, invalid: R(ingest.ReasonTimestamp)},
		{name: "ts fractional", payload: `{"readings":[{"device":"d","ts":1.5,"fields":{"t":1}},` + ok + `]}`,
			samples: []sample{okSample}, invalid: R(ingest.ReasonTimestamp)},
		{name: "ts string", payload: `{"readings":[{"device":"d","ts":"1000","fields":{"t":1}},` + ok + `]}`,
			samples: []sample{okSample}, invalid: R(ingest.ReasonTimestamp)},
		{name: "ts overflows int64", payload: `{"readings":[{"device":"d","ts":99999999999999999999,"fields":{"t":1}},` + ok + `]}`,
			samples: []sample{okSample}, invalid: R(ingest.ReasonTimestamp)},
		{name: "fields missing", payload: `{"readings":[{"device":"d","ts":1},` + ok + `]}`,
			samples: []sample{okSample}, invalid: R(ingest.ReasonSchema)},
		{name: "fields empty", payload: `{"readings":[{"device":"d","ts":1,"fields":{}},` + ok + `]}`,
			samples: []sample{okSample}, invalid: R(ingest.ReasonSchema)},
		{name: "fields array", payload: `{"readings":[{"device":"d","ts":1,"fields":[1]},` + ok + `]}`,
			samples: []sample{okSample}, invalid: R(ingest.ReasonSchema)},
		{name: "tags not object", payload: `{"readings":[{"device":"d","ts":1,"tags":"x","fields":{"t":1}},` + ok + `]}`,
			samples: []sample{okSample}, invalid: R(ingest.ReasonSchema)},
		{name: "tag value number", payload: `{"readings":[{"device":"d","ts":1,"tags":{"k":1},"fields":{"t":1}},` + ok + `]}`,
			samples: []sample{okSample}, invalid: R(ingest.ReasonSchema)},
		{name: "tag key bad charset", payload: `{"readings":[{"device":"d","ts":1,"tags":{"a-b":"x"},"fields":{"t":1}},` + ok + `]}`,
			samples: []sample{okSample}, invalid: R(ingest.ReasonLabel)},
		{name: "tag key leading digit", payload: `{"readings":[{"device":"d","ts":1,"tags":{"1a":"x"},"fields":{"t":1}},` + ok + `]}`,
			samples: []sample{okSample}, invalid: R(ingest.ReasonLabel)},
		{name: "reserved province", payload: `{"readings":[{"device":"d","ts":1,"tags":{"province":"x"},"fields":{"t":1}},` + ok + `]}`,
			samples: []sample{okSample}, invalid: R(ingest.ReasonLabel)},
		{name: "reserved gateway", payload: `{"readings":[{"device":"d","ts":1,"tags":{"gateway":"x"},"fields":{"t":1}},` + ok + `]}`,
			samples: []sample{okSample}, invalid: R(ingest.ReasonLabel)},
		{name: "reserved device", payload: `{"readings":[{"device":"d","ts":1,"tags":{"device":"x"},"fields":{"t":1}},` + ok + `]}`,
			samples: []sample{okSample}, invalid: R(ingest.ReasonLabel)},
		{name: "reserved __name__", payload: `{"readings":[{"device":"d","ts":1,"tags":{"__name__":"x"},"fields":{"t":1}},` + ok + `]}`,
			samples: []sample{okSample}, invalid: R(ingest.ReasonLabel)},
		{name: "duplicate tag key", payload: `{"readings":[{"device":"d","ts":1,"tags":{"k":"x","k":"y"},"fields":{"t":1}},` + ok + `]}`,
			samples: []sample{okSample}, invalid: R(ingest.ReasonLabel)},
		{name: "bad field name skips that field only",
			payload: `{"readings":[{"device":"d1","ts":1000,"fields":{"9lives":1,"t":1.5,"a b":2}}]}`,
			samples: []sample{okSample}, invalid: R(ingest.ReasonMetricName, ingest.ReasonMetricName)},
		{name: "bad field values skip those fields only",
			payload: `{"readings":[{"device":"d1","ts":1000,"fields":{"s":"27.4","n":null,"o":{},"a":[1],"t":1.5,"i":-inf,"nan":nan}}]}`,
			samples: []sample{okSample},
			invalid: R(ingest.ReasonValue, ingest.ReasonValue, ingest.ReasonValue, ingest.ReasonValue, ingest.ReasonValue, ingest.ReasonValue)},
		{name: "huge number is not finite",
			payload: `{"readings":[{"device":"d1","ts":1000,"fields":{"x":1e999,"t":1.5}}]}`,
			samples: []sample{okSample}, invalid: R(ingest.ReasonValue)},
		{name: "booleans and colons",
			payload: `{"readings":[{"device":"d1","ts":-5,"fields":{"up:ok":true,"_down":false}}]}`,
			samples: []sample{"up:ok{device=d1} -5 1", "_down{device=d1} -5 0"}},
		// A field name an earlier reading had in the same place is not
		// validated again (member.from), but only when that reading's name
		// was found valid: a skipped reading or an escaped name breaks the
		// chain.
		{name: "a repeated bad field name is refused every time",
			payload: `{"readings":[{"device":"d1","ts":1000,"fields":{"t":1.5,"b-d":1}},{"device":"d1","ts":1000,"fields":{"t":1.5,"b-d":2}}]}`,
			samples: []sample{okSample, okSample}, invalid: R(ingest.ReasonMetricName, ingest.ReasonMetricName)},
		{name: "interleaved layouts keep their names apart",
			payload: `{"readings":[{"device":"d1","ts":1000,"fields":{"t":1.5,"b-d":1}},{"device":"d1","ts":1000,"fields":{"u":2}},` +
				`{"device":"d1","ts":1000,"fields":{"t":1.5,"b-d":1}},{"device":"d1","ts":1000,"fields":{"u":2,"t":1.5}}]}`,
			samples: []sample{okSample, "u{device=d1} 1000 2", okSample, "u{device=d1} 1000 2", okSample},
			invalid: R(ingest.ReasonMetricName, ingest.ReasonMetricName)},
		{name: "a bad name after a skipped reading is refused",
			payload: `{"readings":[{"device":"d1","ts":1000,"fields":{"t":1.5}},{"ts":1000,"fields":{"b-d":1}},{"device":"d1","ts":1000,"fields":{"b-d":3}}]}`,
			samples: []sample{okSample}, invalid: R(ingest.ReasonSchema, ingest.ReasonMetricName)},
		{name: "an escaped bad name after a good one is refused",
			payload: `{"readings":[{"device":"d1","ts":1000,"fields":{"t":1.5}},{"device":"d1","ts":1000,"fields":{"\u0074-":1}}]}`,
			samples: []sample{okSample}, invalid: R(ingest.ReasonMetricName)},
		{name: "a longer name sharing a prefix is its own",
			payload: `{"readings":[{"device":"d1","ts":1000,"fields":{"t":1.5}},{"device":"d1","ts":1000,"fields":{"t-x":1,"t":1.5}}]}`,
			samples: []sample{okSample, okSample}, invalid: R(ingest.ReasonMetricName)},
		// Tag keys equal to those in the same place of an earlier reading
		// that passed are not checked again; their values always are.
		{name: "tag values are checked when the keys repeat",
			payload: `{"readings":[{"device":"d1","ts":1000,"tags":{"s":"a","z":"b"},"fields":{"t":1.5}},` +
				`{"device":"d1","ts":1000,"tags":{"s":1,"z":"b"},"fields":{"t":1.5}},` +
				`{"device":"d1","ts":1000,"tags":{"s":"a","z":"` + strings.Repeat("v", 1025) + `"},"fields":{"t":1.5}},` +
				`{"device":"d1","ts":1000,"tags":{"s":"c","z":"d"},"fields":{"t":1.5}}]}`,
			samples: []sample{"t{device=d1,s=a,z=b} 1000 1.5", "t{device=d1,s=c,z=d} 1000 1.5"},
			invalid: R(ingest.ReasonSchema, ingest.ReasonLabel)},
		{name: "a repeated bad tag key is refused every time",
			payload: `{"readings":[{"device":"d1","ts":1000,"tags":{"a-b":"x"},"fields":{"t":1.5}},{"device":"d1","ts":1000,"tags":{"a-b":"y"},"fields":{"t":1.5}}]}`,
			invalid: R(ingest.ReasonLabel, ingest.ReasonLabel)},
		{name: "a tag key repeated after a good reading is refused",
			payload: `{"readings":[{"device":"d1","ts":1000,"tags":{"k":"x"},"fields":{"t":1.5}},{"device":"d1","ts":1000,"tags":{"k":"x","k":"y"},"fields":{"t":1.5}}]}`,
			samples: []sample{"t{device=d1,k=x} 1000 1.5"}, invalid: R(ingest.ReasonLabel)},
		{name: "numbers the short path does not take",
			payload: `{"readings":[{"device":"d1","ts":1000,"fields":{"a":1.5e1,"b":-0,"c":007.50,"d":1.2.3,"e":1234567890123456789,"f":-.5}}]}`,
			samples: []sample{"a{device=d1} 1000 15", "b{device=d1} 1000 -0", "c{device=d1} 1000 7.5",
				"e{device=d1} 1000 1.2345678901234568e+18", "f{device=d1} 1000 -0.5"},
			invalid: R(ingest.ReasonValue)},
		{name: "escaped strings are unescaped",
			payload: `{"readings":[{"device":"d\u0031","ts":1000,"tags":{"site":"H\u00e0 N\u1ed9i"},"fields":{"\u0074":1.5}}]}`,
			samples: []sample{"t{device=d1,site=Hà Nội} 1000 1.5"}},
	}
	d := newDecoder(t, Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r recorder
			res, err := d.Decode([]byte(tt.payload), &r)
			if tt.refuse != ingest.ReasonNone {
				var pe *ingest.PayloadError
				require.True(t, errors.As(err, &pe), "want a *ingest.PayloadError, got %v", err)
				require.Equal(t, tt.refuse, pe.Reason, "%v", err)
				require.Empty(t, r.samples)
				require.Empty(t, r.reasons)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.samples, r.samples)
			require.Equal(t, tt.invalid, r.reasons, "%v", r.errs)
			require.Equal(t, len(r.samples), res.Samples)
			require.Equal(t, len(r.reasons), res.Invalid)
		})
	}
}

func TestDecodeLimits(t *testing.T) {
	t.Run("values per message at the limit pass", func(t *testing.T) {
		d := newDecoder(t, Options{MaxReadings: 12})
		res, err := d.Decode(realisticBatch(2, 6), &countSink{})
		require.NoError(t, err)
		require.Equal(t, 12, res.Samples)
	})
	t.Run("values per message over the limit refuse the message", func(t *testing.T) {
		d := newDecoder(t, Options{MaxReadings: 11})
		var r recorder
		_, err := d.Decode(realisticBatch(2, 6), &r)
		var pe *ingest.PayloadError
		require.ErrorAs(t, err, &pe)
		require.Equal(t, ingest.ReasonTooManyReadings, pe.Reason)
		require.Empty(t, r.samples)
	})
	t.Run("default limit is 10000 values", func(t *testing.T) {
		d := newDecoder(t, Options{})
		_, err := d.Decode(realisticBatch(2000, 5), &countSink{})
		require.NoError(t, err)
		_, err = d.Decode(realisticBatch(2001, 5), &countSink{})
		require.ErrorContains(t, err, "10005 values, limit 10000")
	})
	t.Run("tags per reading include the device", func(t *testing.T) {
		d := newDecoder(t, Options{MaxTags: 2})
		var r recorder
		_, err := d.Decode([]byte(`{"readings":[
			{"device":"d","ts":1,"tags":{"a":"1"},"fields":{"t":1}},
			{"device":"d","ts":2,"tags":{"a":"1","b":"2"},"fields":{"t":2}}]}`), &r)
		require.NoError(t, err)
		require.Equal(t, []sample{"t{device=d,a=1} 1 1"}, r.samples)
		require.Equal(t, []ingest.Reason{ingest.ReasonTooManyLabels}, r.reasons)
	})
	t.Run("name and label lengths", func(t *testing.T) {
		d := newDecoder(t, Options{MaxMetricNameLen: 4, MaxTagKeyLen: 3, MaxTagValueLen: 5})
		var r recorder
		_, err := d.Decode([]byte(`{"readings":[
			{"device":"d","ts":1,"fields":{"abcd":1,"abcde":2}},
			{"device":"d","ts":2,"tags":{"abcd":"v"},"fields":{"t":2}},
			{"device":"d","ts":3,"tags":{"abc":"123456"},"fields":{"t":3}},
			{"device":"123456","ts":4,"fields":{"t":4}}]}`), &r)
		require.NoError(t, err)
		require.Equal(t, []sample{"abcd{device=d} 1 1"}, r.samples)
		require.Equal(t, []ingest.Reason{ingest.ReasonMetricName, ingest.ReasonLabel,
			ingest.ReasonLabel, ingest.ReasonLabel}, r.reasons)
	})
	t.Run("negative limits are refused", func(t *testing.T) {
		_, err := New(Options{MaxTags: -1})
		require.Error(t, err)
	})
}

// TestDecodeAllocs holds the steady state at zero allocations per message:
// after one warm-up message the parser's scratch space is large enough.
func TestDecodeAllocs(t *testing.T) {
	d := newDecoder(t, Options{})
	payload := realisticBatch(100, 6)
	var sink countSink
	_, err := d.Decode(payload, &sink)
	require.NoError(t, err)
	require.Equal(t, 600, sink.samples)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := d.Decode(payload, &sink); err != nil {
			t.Fatal(err)
		}
	})
	require.Zero(t, allocs, "allocations per 600-value message")
}

func TestPayloadErrorClassifies(t *testing.T) {
	d := newDecoder(t, Options{})
	_, err := d.Decode([]byte(`nope`), &recorder{})
	var pe *ingest.PayloadError
	require.True(t, errors.As(err, &pe))
	require.Equal(t, ingest.ReasonSyntax, pe.Reason)
	require.True(t, strings.HasPrefix(err.Error(), "cannot decode JSON batch (syntax): "), err.Error())
}
