package jsonbatch

import (
	"testing"
)

// BenchmarkDecode measures the decoder alone on a realistic batch: 100
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
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Decode(payload, &sink); err != nil {
			b.Fatal(err)
		}
	}
	reportRates(b, readings, readings*fields)
}

// reportRates adds readings/s, samples/s and ns/sample to a benchmark that
// decoded one message of the given size per iteration.
func reportRates(b *testing.B, readings, samples int) {
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(readings*b.N)/sec, "readings/s")
	b.ReportMetric(float64(samples*b.N)/sec, "samples/s")
	b.ReportMetric(sec*1e9/float64(samples*b.N), "ns/sample")
}
