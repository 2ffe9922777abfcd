package lineproto

import (
	"testing"

	"github.com/influxdata/line-protocol/v2/lineprotocol"

	"github.com/quantrac/quantrac/ingest/internal/simbench"
)

// BenchmarkDecode measures the decoder alone on 100 lines of 6 fields (5
// floats and a boolean), two tags and nanosecond timestamps, as Telegraf
// sends them. A reading is one line; a sample is one field value.
func BenchmarkDecode(b *testing.B) {
	const lines, fields = 100, 6
	d, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	payload := realisticLines(lines, fields)
	var sink countSink
	b.SetBytes(int64(len(payload)))
	r := simbench.Start(b)
	for b.Loop() {
		if _, err := d.Decode(payload, now, &sink); err != nil {
			b.Fatal(err)
		}
	}
	r.Report(int64(lines*b.N), int64(lines*fields*b.N))
}

// simStart is when the simulated readings start: 2025-12-03T00:00:00Z.
const simStart = 1764720000000

// BenchmarkDecodeSim measures the decoder alone on 100 readings of the
// gateway simulator's sensor model per message, in two layouts:
// reading-per-line puts a reading's fields on one line (Telegraf's layout),
// line-per-field is what gateway-firmware-sim/wire writes, one line per
// field, so a 5-field reading is 5 lines. Readings are of 5-field hydromet
// stations or of the simulator's mix of kinds (simbench.Mixes).
func BenchmarkDecodeSim(b *testing.B) {
	for _, layout := range simbench.Layouts {
		for _, mix := range simbench.Mixes {
			b.Run(layout.Name+"/"+mix.Name, func(b *testing.B) {
				rs := simbench.Readings(100, mix.Kind, simStart)
				payload := layout.Encode(rs)
				d, err := New(Options{})
				if err != nil {
					b.Fatal(err)
				}
				var sink countSink
				if _, err := d.Decode(payload, now, &sink); err != nil || sink.samples != simbench.Samples(rs) || sink.invalid != 0 {
					b.Fatalf("warm-up: %v, %d samples, %d invalid", err, sink.samples, sink.invalid)
				}
				sink = countSink{}
				b.SetBytes(int64(len(payload)))
				r := simbench.Start(b)
				for b.Loop() {
					if _, err := d.Decode(payload, now, &sink); err != nil {
						b.Fatal(err)
					}
				}
				r.Report(int64(len(rs)*b.N), int64(sink.samples))
			})
		}
	}
}

// BenchmarkReferenceDecoder runs github.com/influxdata/line-protocol/v2 over
// the same payload, reading every tag, field and timestamp, for comparison:
// it needs a new Decoder per message.
func BenchmarkReferenceDecoder(b *testing.B) {
	const lines, fields = 100, 6
	payload := realisticLines(lines, fields)
	var sink countSink
	b.SetBytes(int64(len(payload)))
	r := simbench.Start(b)
	for b.Loop() {
		dec := lineprotocol.NewDecoderWithBytes(payload)
		for dec.Next() {
			if _, err := dec.Measurement(); err != nil {
				b.Fatal(err)
			}
			for {
				k, _, err := dec.NextTag()
				if err != nil {
					b.Fatal(err)
				}
				if k == nil {
					break
				}
			}
			for {
				k, v, err := dec.NextField()
				if err != nil {
					b.Fatal(err)
				}
				if k == nil {
					break
				}
				sink.samples++
				if v.Kind() == lineprotocol.Float {
					sink.sum += v.FloatV()
				}
			}
			if _, err := dec.TimeBytes(); err != nil {
				b.Fatal(err)
			}
		}
	}
	r.Report(int64(lines*b.N), int64(lines*fields*b.N))
}
