package jsonbatch

import (
	"testing"

	"github.com/quantrac/quantrac/ingest/internal/simbench"
)

// BenchmarkDecode measures the decoder alone on a synthetic batch: 100
// readings of 6 fields (5 numbers and a boolean) with one extra tag. A
// reading is one element of "readings"; a sample is one field value.
func BenchmarkDecode(b *testing.B) {
	const readings, fields = 100, 6
	d, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	payload := realisticBatch(readings, fields)
	var sink countSink
	b.SetBytes(int64(len(payload)))
	r := simbench.Start(b)
	for b.Loop() {
		if _, err := d.Decode(payload, &sink); err != nil {
			b.Fatal(err)
		}
	}
	r.Report(int64(readings*b.N), int64(readings*fields*b.N))
}

// simStart is when the simulated readings start: 2025-12-03T00:00:00Z.
const simStart = 1764720000000

// BenchmarkDecodeSim measures the decoder alone on what the gateway
// simulator publishes: 100 readings per message, encoded by
// gateway-firmware-sim/wire, of 5-field hydromet stations or of the
// simulator's mix of kinds (simbench.Mixes).
func BenchmarkDecodeSim(b *testing.B) {
	for _, mix := range simbench.Mixes {
		b.Run(mix.Name, func(b *testing.B) {
			rs := simbench.Readings(100, mix.Kind, simStart)
			payload := simbench.JSON(rs)
			d, err := New(Options{})
			if err != nil {
				b.Fatal(err)
			}
			var sink countSink
			if _, err := d.Decode(payload, &sink); err != nil || sink.samples != simbench.Samples(rs) || sink.invalid != 0 {
				b.Fatalf("warm-up: %v, %d samples, %d invalid", err, sink.samples, sink.invalid)
			}
			sink = countSink{}
			b.SetBytes(int64(len(payload)))
			r := simbench.Start(b)
			for b.Loop() {
				if _, err := d.Decode(payload, &sink); err != nil {
					b.Fatal(err)
				}
			}
			r.Report(int64(len(rs)*b.N), int64(sink.samples))
		})
	}
}
