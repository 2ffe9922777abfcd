package pipeline

import (
	"testing"
	"time"

	"github.com/quantrac/quantrac/ingest/internal/simbench"
)

// BenchmarkIngestJSON measures decode, series resolution and batch append
// for messages of 100 readings of 5 fields, against an in-memory store: the
// pipeline's own cost per reading, without the WAL.
func BenchmarkIngestJSON(b *testing.B) {
	const readings, fields = 100, 5
	st := &memStore{done: doneCommit(b)}
	p := newTestPipeline(b, st)
	msg := &Message{Identity: Identity{"ha-noi", "hn-gw-001"}, Format: FormatJSON,
		Payload: jsonPayload(readings, fields, now.Add(-time.Hour).UnixMilli())}
	if _, err := p.Ingest(msg, false); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(msg.Payload)))
	r := simbench.Start(b)
	for b.Loop() {
		st.samples.Reset()
		if _, err := p.Ingest(msg, false); err != nil {
			b.Fatal(err)
		}
	}
	r.Report(int64(readings*b.N), int64(readings*fields*b.N))
}

// BenchmarkIngestSim measures decode, series resolution and batch append,
// against an in-memory store, for the gateway simulator's payloads
// (package simbench): 100 readings per JSON or line-protocol message, of
// 5-field hydromet stations or of the simulator's mix of kinds; Sparkplug
// DDATA of one reading per message (live) or 100 (backlog), after the
// births. Every series is known after the warm-up, as in steady state.
func BenchmarkIngestSim(b *testing.B) {
	// A Sparkplug backlog spans up to 256*100 one-minute slots of one device
	// kind: start early enough that all of it is inside the accepted window.
	start := now.Add(-20 * 24 * time.Hour).UnixMilli()
	id := Identity{simbench.Province, simbench.Gateway}
	for _, mix := range simbench.Mixes {
		rs := simbench.Readings(100, mix.Kind, start)
		b.Run("json/"+mix.Name, func(b *testing.B) {
			benchIngest(b, nil, []*Message{{Identity: id, Format: FormatJSON, Payload: simbench.JSON(rs)}}, len(rs))
		})
		for _, layout := range simbench.Layouts {
			b.Run("lp-"+layout.Name+"/"+mix.Name, func(b *testing.B) {
				benchIngest(b, nil, []*Message{{Identity: id, Format: FormatLineProtocol, Payload: layout.Encode(rs)}}, len(rs))
			})
		}
	}
	for _, bc := range []struct {
		name   string
		mix    simbench.Mix
		perMsg int
	}{{"live/mix", simbench.Mixes[1], 1}, {"backlog/hydromet", simbench.Mixes[0], 100}, {"backlog/mix", simbench.Mixes[1], 100}} {
		b.Run("sparkplug-"+bc.name, func(b *testing.B) {
			births, data := simbench.Sparkplug(bc.mix.Kind, bc.perMsg, start)
			msgs := func(sm []simbench.SparkplugMessage) []*Message {
				out := make([]*Message, len(sm))
				for i, m := range sm {
					out[i] = &Message{Identity: id, Format: FormatSparkplug, Topic: m.Topic, Payload: m.Payload}
				}
				return out
			}
			benchIngest(b, msgs(births), msgs(data), bc.perMsg*len(data))
		})
	}
}

// benchIngest ingests setup once, then msgs once to create their series, and
// then msgs over and over, all of msgs in one iteration; readings is the
// number of readings in msgs.
func benchIngest(b *testing.B, setup, msgs []*Message, readings int) {
	st := &memStore{done: doneCommit(b)}
	p := newTestPipeline(b, st)
	size := 0
	for i, m := range append(setup, msgs...) {
		res, err := p.Ingest(m, false)
		if err != nil || res.Rejected != 0 {
			b.Fatalf("warm-up: %v, %+v", err, res)
		}
		if i >= len(setup) {
			size += len(m.Payload)
		}
	}
	b.SetBytes(int64(size))
	samples := 0
	r := simbench.Start(b)
	for b.Loop() {
		st.samples.Reset()
		for _, m := range msgs {
			res, err := p.Ingest(m, false)
			if err != nil {
				b.Fatal(err)
			}
			samples += res.Accepted
		}
	}
	r.Report(int64(readings*b.N), int64(samples))
}
