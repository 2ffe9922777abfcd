package lineproto

import (
	"testing"
	"time"
	"unicode/utf8"

	"github.com/influxdata/line-protocol/v2/lineprotocol"

	"github.com/quantrac/quantrac/ingest"
)

// referenceSamples decodes payload with github.com/influxdata/line-protocol/v2
// and applies the mapping of docs/payload-formats.md to what it returns, as
// an independent oracle for Decoder. ok is false when the reference decoder
// reports any error, since the two split the blame for a bad line
// differently (it refuses a line for a non-finite value, Decoder skips the
// field).
func referenceSamples(payload []byte, now int64, prec lineprotocol.Precision) (samples []sample, ok bool) {
	dec := lineprotocol.NewDecoderWithBytes(payload)
	for dec.Next() {
		m, err := dec.Measurement()
		if err != nil {
			return nil, false
		}
		meas := string(m)
		var tags []ingest.Tag
		for {
			k, v, err := dec.NextTag()
			if err != nil {
				return nil, false
			}
			if k == nil {
				break
			}
			tags = append(tags, ingest.Tag{Key: append([]byte(nil), k...), Value: append([]byte(nil), v...)})
		}
		type kv struct {
			key string
			val lineprotocol.Value
		}
		var fields []kv
		for {
			k, v, err := dec.NextField()
			if err != nil {
				return nil, false
			}
			if k == nil {
				break
			}
			if v.Kind() == lineprotocol.String {
				v = lineprotocol.MustNewValue("") // its bytes alias the decoder
			}
			fields = append(fields, kv{string(k), v})
		}
		t, err := dec.Time(prec, time.UnixMilli(now))
		if err != nil {
			return nil, false
		}
		if !lineTagsUsable(tags) || !ingest.ValidMetricName([]byte(meas)) || len(meas) > DefaultMaxMetricNameLen {
			continue
		}
		for _, f := range fields {
			name := meas + "_" + f.key
			if f.key == "value" {
				name = meas
			}
			if !ingest.ValidMetricName([]byte(name)) || len(name) > DefaultMaxMetricNameLen {
				continue
			}
			var x float64
			switch f.val.Kind() {
			case lineprotocol.Int:
				x = float64(f.val.IntV())
			case lineprotocol.Uint:
				x = float64(f.val.UintV())
			case lineprotocol.Float:
				x = f.val.FloatV()
			case lineprotocol.Bool:
				if f.val.BoolV() {
					x = 1
				}
			default:
				continue
			}
			samples = append(samples, fmtSample([]byte(name), tags, t.UnixMilli(), x))
		}
	}
	return samples, true
}

func lineTagsUsable(tags []ingest.Tag) bool {
	if len(tags) > DefaultMaxTags {
		return false
	}
	for i, t := range tags {
		if !ingest.ValidTagKey(t.Key) || reservedTagKey(t.Key) || len(t.Key) > DefaultMaxTagKeyLen ||
			len(t.Value) > DefaultMaxTagValueLen || !utf8.Valid(t.Value) {
			return false
		}
		for _, u := range tags[:i] {
			if string(u.Key) == string(t.Key) {
				return false
			}
		}
	}
	return true
}

// TestMatchesReferenceDecoder holds Decoder to the samples the reference
// decoder yields on valid input with the awkward corners of the syntax.
func TestMatchesReferenceDecoder(t *testing.T) {
	inputs := []string{
		"cpu value=1",
		"cpu,host=a usage_idle=99.5,usage_user=0.5 1700000000000000000",
		"  cpu,host=a   usage_idle=1i,count=18446744073709551615u   1700000000123456789  \n",
		"# comment\n\ncpu v=1\r\ncpu v=2\r\n",
		`site,location=Ha\ Noi,note=a\,b\=c temp=27.4`,
		`m,k=v\x f=1`,
		`m s="multi` + "\n" + `line",f=2 1`,
		`m s="esc \" quote \\",b=T,c=FALSE,d=true 5`,
		"m f=-1.5e3,g=.5,h=5.,i=-0i,j=0x1p-2 -1000000",
		"a:b c=1\nd_ e=2",
		"m,device=dev-1 v=1",
		"m f=1 1\nm f=2 2\nm f=3\n",
		"m,a=b,c=d f=1,g=2 1\nm,a=b,c=dd f=1,gg=2 2\nm,a=b f=1 3\nm2,a=b\\ c f=1,g=3 4\n",
	}
	d, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range inputs {
		want, ok := referenceSamples([]byte(in), 42, lineprotocol.Nanosecond)
		if !ok || len(want) == 0 {
			t.Fatalf("reference decoder rejects %q or finds no sample", in)
		}
		var r recorder
		if _, err := d.Decode([]byte(in), 42, &r); err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if len(want) != len(r.samples) {
			t.Fatalf("%q:\n got %q\nwant %q", in, r.samples, want)
		}
		for i := range want {
			if want[i] != r.samples[i] {
				t.Fatalf("%q:\n got %q\nwant %q", in, r.samples, want)
			}
		}
	}
}
