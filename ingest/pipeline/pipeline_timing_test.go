package pipeline

import (
	"testing"
	"time"
)

// BenchmarkIngestJSON measures decode, series resolution and batch append
// for messages of 100 readings of 5 fields, against an in-memory store: the
// pipeline's own cost per reading, without the WAL.
func BenchmarkIngestJSON(b *testing.B) {
	st := &memStore{done: doneCommit(b)}
	p := newTestPipeline(b, st)
	msg := &Message{Identity: Identity{"ha-noi", "hn-gw-001"}, Format: FormatJSON,
		Payload: jsonPayload(100, 5, now.Add(-time.Hour).UnixMilli())}
	if _, err := p.Ingest(msg, false); err != nil {
		b.Fatal(err)
	}
	const readings = 500
	b.SetBytes(int64(len(msg.Payload)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		st.samples.Reset()
		if _, err := p.Ingest(msg, false); err != nil {
			b.Fatal(err)
		}
	}
	perReading := float64(b.Elapsed().Nanoseconds()) / float64(b.N*readings)
	b.ReportMetric(perReading, "ns/reading")
	b.ReportMetric(1e9/perReading, "readings/s")
}
