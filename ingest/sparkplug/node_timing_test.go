package sparkplug

import (
	"testing"

	"github.com/quantrac/quantrac/gateway-firmware-sim/sensor"
	"github.com/quantrac/quantrac/ingest/internal/simbench"
)

// BenchmarkDecodeDDATA measures the decoder alone on a DDATA of 100 metrics
// by alias (Float, Double, UInt32 and Boolean, each with its own
// timestamp), once the DBIRTH is known. Each metric is one reading and one
// sample. Sequence numbers advance so that no gap is reported.
func BenchmarkDecodeDDATA(b *testing.B) {
	const readings = 100
	n := newNode(b)
	decode(b, n, nodeTopic(b, "NBIRTH"), nbirth(1))
	decode(b, n, devTopic(b, "DBIRTH", "station-1"), stationBirth(readings, 1))
	tp := devTopic(b, "DDATA", "station-1")
	var data [256][]byte
	for s := range data {
		data[s] = marshal(b, stationData(readings, uint64(s)))
	}
	var sink countSink
	b.SetBytes(int64(len(data[0])))
	r := simbench.Start(b)
	seq := 2
	for b.Loop() {
		if _, err := n.Decode(tp, data[seq%256], now, &sink); err != nil {
			b.Fatal(err)
		}
		seq++
	}
	if sink.invalid != 0 {
		b.Fatalf("%d invalid", sink.invalid)
	}
	r.Report(int64(readings*b.N), int64(readings*b.N))
}

// simStart is when the simulated readings start: 2025-12-03T00:00:00Z.
const simStart = 1764720000000

// BenchmarkDecodeSim measures the decoder alone on DDATA messages of the
// gateway simulator's sensor model (simbench.Sparkplug): a reading is one
// device's fields at one time, each field a Double metric by alias with the
// reading's timestamp. live/mix: one reading per message, the devices of a
// 100-device gateway in the simulator's mix of kinds; backlog: 100 readings
// of one device per message, of hydromet stations (5 fields) or of the mix.
func BenchmarkDecodeSim(b *testing.B) {
	for _, bc := range []struct {
		name   string
		kind   sensor.Kind
		perMsg int
	}{{"live/mix", 0, 1}, {"backlog/hydromet", sensor.Hydromet, 100}, {"backlog/mix", 0, 100}} {
		b.Run(bc.name, func(b *testing.B) {
			births, data := simbench.Sparkplug(bc.kind, bc.perMsg, simStart)
			n, err := NewEdgeNode(simbench.Province, simbench.Gateway, Options{})
			if err != nil {
				b.Fatal(err)
			}
			type msg struct {
				t       Topic
				payload []byte
			}
			var sink countSink
			decodeAll := func(ms []simbench.SparkplugMessage) []msg {
				out := make([]msg, len(ms))
				for i, m := range ms {
					out[i] = msg{topic(b, m.Topic), m.Payload}
					if _, err := n.Decode(out[i].t, m.Payload, now, &sink); err != nil {
						b.Fatal(err)
					}
				}
				return out
			}
			decodeAll(births)
			msgs := decodeAll(data)
			if sink.invalid != 0 {
				b.Fatalf("warm-up: %d invalid", sink.invalid)
			}
			sink = countSink{}
			size := 0
			for _, m := range msgs {
				size += len(m.payload)
			}
			b.SetBytes(int64(size / len(msgs)))
			r := simbench.Start(b)
			i := 0
			for b.Loop() {
				m := &msgs[i%len(msgs)]
				if _, err := n.Decode(m.t, m.payload, now, &sink); err != nil {
					b.Fatal(err)
				}
				i++
			}
			if sink.invalid != 0 {
				b.Fatalf("%d invalid", sink.invalid)
			}
			r.Report(int64(bc.perMsg*b.N), int64(sink.samples))
		})
	}
}
