package jsonbatch

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quantrac/quantrac/ingest"
)

// outcome is everything a decoder makes of one payload.
type outcome struct {
	refused ingest.Reason // ReasonNone: accepted
	res     Result
	samples []sample
	reasons []ingest.Reason
}

func decodeBoth(t *testing.T, opts Options, payload []byte) (got, want outcome) {
	d, err := New(opts)
	require.NoError(t, err)
	ref, err := newRef(opts)
	require.NoError(t, err)
	run := func(decode func([]byte, ingest.Sink) (Result, error)) outcome {
		var r recorder
		res, err := decode(payload, &r)
		o := outcome{res: res, samples: r.samples, reasons: r.reasons}
		if err != nil {
			var pe *ingest.PayloadError
			require.True(t, errors.As(err, &pe), "error %v is not a *ingest.PayloadError", err)
			o.refused = pe.Reason
		}
		return o
	}
	return run(d.Decode), run(ref.Decode)
}

// scannerEdgeCases are payloads where a hand-written scanner and fastjson
// could part ways.
var scannerEdgeCases = []string{
	``, ` `, `{}`, `[]`, `"x"`, `1`, `null`, `nan`, `{"readings":[]}`, ` {"readings" : [ ] } `,
	`{"readings":[],}`, `{"readings":[1,]}`, `{"readings":[] x`, `{"readings":[]}}`,
	`{"seq":1.0,"readings":[]}`, `{"seq":-1,"readings":[]}`, `{"seq":"1","readings":[]}`, `{"seq":1e3,"readings":[]}`,
	`{"seq":7,"seq":8,"readings":[]}`, `{"readings":5,"readings":[]}`, `{"readings":[],"readings":5}`,
	`{"re\u0061dings":[{"dev\u0069ce":"d\"1","ts":5,"fields":{"a\u005fb":1}}]}`,
	`{"readings":[{"device":"a\\b\/c\n\u00e9\ud83d\ude00\ud800x\q","ts":5,"fields":{"v":1}}]}`,
	`{"readings":[{"device":"d","ts":5,"fields":{"a":1,"a":2,"b":true,"c":false,"d":null,"e":"1","f":[1],"g":{}}}]}`,
	`{"readings":[{"device":"d","ts":5,"fields":{"a":NaN,"b":-Inf,"c":+inf,"d":1e999,"e":-,"f":1.2.3,"g":0x10}}]}`,
	`{"readings":[{"device":"d","ts":5,"fields":{"a":nan}}]}`, `{"readings":[{"device":"d","ts":5,"fields":{"a":nul}}]}`,
	`{"readings":[{"device":"d","ts":5,"fields":{"a":tru}}]}`, `{"readings":[{"device":"d","ts":5,"fields":{"a":1}}]}garbage`,
	`{"readings":[{"ts":5,"device":"d","fields":{"a":1},"device":"e","ts":6}]}`,
	`{"readings":[{"device":"d","ts":"5","fields":{"a":1}},{"device":"d","ts":5.5,"fields":{"a":1}},{"device":"d","ts":99999999999999999999,"fields":{"a":1}}]}`,
	`{"readings":[{"device":"d","ts":5,"tags":{"k":"v","k":"w"},"fields":{"a":1}}]}`,
	`{"readings":[{"device":"d","ts":5,"tags":{"__x":"v"},"fields":{"a":1}},{"device":"d","ts":5,"tags":[],"fields":{"a":1}},{"device":"d","ts":5,"tags":{"k":1},"fields":{"a":1}}]}`,
	`{"readings":[{"device":"d","ts":5,"tags":{"a":"1","b":"2","c":"3","d":"4"},"fields":{"a":1}}]}`,
	`{"readings":[{"device":"d","ts":5,"tags":{"k\u0020":"v"},"fields":{"a":1}}]}`,
	`{"readings":[{"device":"","ts":5,"fields":{"a":1}},{"device":1,"ts":5,"fields":{"a":1}},{"device":"d","fields":{"a":1}},{"device":"d","ts":5,"fields":{}},{"device":"d","ts":5,"fields":[]}]}`,
	`{"readings":[{"device":"d","ts":5,"fields":{"1a":1,"a-b":2,"a:b":3}}]}`,
	`{"readings":[{"device":"d","ts":5,"fields":{"a":1}}],"extra":{"deep":[[[[{"x":"y\""}]]]]}}`,
	`{"a":"unterminated}`, `{"a":"esc\"}`, `{"a":"esc\\"}`, "{\"readings\":[{\"device\":\"d\t\x01\",\"ts\":5,\"fields\":{\"a\":1}}]}",
	"\t\r\n{\"readings\":[]}\n", `{"readings":[{"device":"d","ts":5,"fields":{"a":1}}]`,
	strings.Repeat("[", 299) + strings.Repeat("]", 299), strings.Repeat("[", 300) + strings.Repeat("]", 300),
	strings.Repeat("[", 301) + strings.Repeat("]", 301), strings.Repeat("[", 299) + "1" + strings.Repeat("]", 299),
	strings.Repeat("[", 300) + "1" + strings.Repeat("]", 300),
	`{"readings":[{"device":"d","ts":5,"fields":{"a":1}}],"x":` + strings.Repeat("[", 298) + strings.Repeat("]", 298) + `}`,
	`{"readings":[{"device":"d","ts":5,"fields":{"a":1}}],"x":` + strings.Repeat("[", 299) + strings.Repeat("]", 299) + `}`,
	`{"readings":[{"device":"d","ts":5,"fields":{"a":1}}],"x":` + strings.Repeat("[", 298) + "1" + strings.Repeat("]", 298) + `}`,
	`{"readings":[{"device":"d","ts":5,"fields":{"a":1}}],"x":` + strings.Repeat("[", 299) + "1" + strings.Repeat("]", 299) + `}`,
}

// TestScannerMatchesFastjson holds the scanner to the outcome of the
// fastjson decoder it replaced, on edge cases, the malformed-input table,
// the documented example, realistic batches and the fuzz corpus.
func TestScannerMatchesFastjson(t *testing.T) {
	payloads := append([]string{docExample, string(realisticBatch(50, 6))}, scannerEdgeCases...)
	files, err := filepath.Glob("testdata/fuzz/FuzzJSON*/*")
	require.NoError(t, err)
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		// A corpus file holds the payload as a Go []byte literal on its
		// second line; compare the literal text too, it is arbitrary input.
		payloads = append(payloads, string(b))
		if lines := strings.SplitN(string(b), "\n", 3); len(lines) > 1 {
			payloads = append(payloads, lines[1])
		}
	}
	for _, opts := range []Options{{}, {MaxReadings: 3, MaxTags: 2, MaxMetricNameLen: 2, MaxTagValueLen: 2}} {
		for _, p := range payloads {
			got, want := decodeBoth(t, opts, []byte(p))
			require.Equal(t, want, got, "payload %q, options %+v", p, opts)
		}
	}
}

// FuzzJSONReference decodes arbitrary payloads with the scanner and with
// the fastjson decoder it replaced: the outcome must be the same.
func FuzzJSONReference(f *testing.F) {
	f.Add([]byte(docExample))
	f.Add(realisticBatch(3, 6))
	for _, p := range scannerEdgeCases {
		f.Add([]byte(p))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		got, want := decodeBoth(t, Options{MaxReadings: 64, MaxTags: 4}, payload)
		require.Equal(t, want, got, "payload %q", payload)
	})
}
