package lineproto

import (
	"testing"

	"github.com/influxdata/line-protocol/v2/lineprotocol"
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
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Decode(payload, now, &sink); err != nil {
			b.Fatal(err)
		}
	}
	reportRates(b, lines, lines*fields)
}

// BenchmarkReferenceDecoder runs github.com/influxdata/line-protocol/v2 over
// the same payload, reading every tag, field and timestamp, for comparison:
// it needs a new Decoder per message.
func BenchmarkReferenceDecoder(b *testing.B) {
	const lines, fields = 100, 6
	payload := realisticLines(lines, fields)
	var sink countSink
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
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
	reportRates(b, lines, lines*fields)
}

// reportRates adds readings/s, samples/s and ns/sample to a benchmark that
// decoded one message of the given size per iteration.
func reportRates(b *testing.B, readings, samples int) {
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(readings*b.N)/sec, "readings/s")
	b.ReportMetric(float64(samples*b.N)/sec, "samples/s")
	b.ReportMetric(sec*1e9/float64(samples*b.N), "ns/sample")
}
