package sparkplug

import (
	"testing"
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
	b.ReportAllocs()
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
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(readings*b.N)/sec, "readings/s")
	b.ReportMetric(float64(readings*b.N)/sec, "samples/s")
	b.ReportMetric(sec*1e9/float64(readings*b.N), "ns/sample")
}
