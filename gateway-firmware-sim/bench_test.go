package gwsim

import (
	"context"
	"testing"
	"time"

	"github.com/quantrac/quantrac/gateway-firmware-sim/batch"
	"github.com/quantrac/quantrac/gateway-firmware-sim/sensor"
	"github.com/quantrac/quantrac/gateway-firmware-sim/wire"
	"github.com/quantrac/quantrac/province"
)

// BenchmarkGenerateAndEncode measures what a gateway does per reading before
// the network: sample a device, append to a batch, and encode full batches
// of 200 readings as JSON or line protocol. One op is one reading.
func BenchmarkGenerateAndEncode(b *testing.B) {
	for _, f := range []wire.Format{wire.JSON, wire.LineProtocol} {
		b.Run(f.String(), func(b *testing.B) {
			p, _ := province.Lookup("ha-noi")
			site, err := sensor.NewSite(1, p, 1, 100, time.Second)
			if err != nil {
				b.Fatal(err)
			}
			bt := &batch.Batch{Readings: make([]sensor.Reading, 0, 200)}
			var buf []byte
			var bytes int64
			k := site.FirstSlot(time.Date(2025, 12, 3, 0, 0, 0, 0, time.UTC).UnixMilli())
			i := 0
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				n := len(bt.Readings)
				bt.Readings = bt.Readings[:n+1]
				site.Read(k, i, &bt.Readings[n])
				if i++; i == site.Devices() {
					i, k = 0, k+1
				}
				if n+1 == cap(bt.Readings) {
					bt.Seq++
					if f == wire.JSON {
						buf = wire.AppendJSON(buf[:0], bt)
					} else {
						buf = wire.AppendLineProtocol(buf[:0], bt)
					}
					bytes += int64(len(buf))
					bt.Readings = bt.Readings[:0]
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "readings/s")
			b.ReportMetric(float64(bytes)/float64(b.N), "bytes/reading")
		})
	}
}

// BenchmarkPublishQoS1 runs whole simulations, unpaced, against a mochi
// broker on loopback: 8 gateways of 100 devices, batches of 500, QoS 1,
// window 16, in each format. One op is one reading acknowledged by the
// broker. It measures the simulator and broker together on one machine,
// not the platform, and reports the acknowledgement latency the gateways
// saw.
func BenchmarkPublishQoS1(b *testing.B) {
	for _, f := range []wire.Format{wire.JSON, wire.Sparkplug} {
		b.Run(f.String(), func(b *testing.B) {
			br := startBroker(b, brokerConfig{})
			o := testOptions(b, br.url())
			o.Format = f
			o.Provinces = []string{"ha-noi", "hue", "can-tho", "son-la"}
			o.DevicesPerGateway = 100
			o.BatchSize = 500
			o.Inflight = 16
			o.LedgerPath = ""
			slots := max(1, b.N/(8*100))
			o.Duration = time.Duration(slots) * o.SampleInterval
			b.ReportAllocs()
			b.ResetTimer()
			s, err := New(o)
			if err != nil {
				b.Fatal(err)
			}
			if err := s.Run(context.Background()); err != nil {
				b.Fatal(err)
			}
			st := s.Status()
			b.ReportMetric(float64(st.Acked)/b.Elapsed().Seconds(), "readings/s")
			b.ReportMetric(float64(st.Acked)/float64(b.N), "readings/op")
			b.ReportMetric(float64(st.AckLatency.Quantile(0.5).Microseconds())/1000, "ack-p50-ms")
			b.ReportMetric(float64(st.AckLatency.Quantile(0.99).Microseconds())/1000, "ack-p99-ms")
		})
	}
}
