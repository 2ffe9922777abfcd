package sensor

import (
	"testing"
	"time"
)

// BenchmarkRead measures data generation: one op is one reading (one device,
// one slot, all its fields), the gateway mix of kinds, 100 devices per site.
func BenchmarkRead(b *testing.B) {
	s := mustSite(b, 1, "ha-noi", 1, 100, time.Second)
	k := day(s, 2025, 12, 3)
	var r Reading
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for range b.N {
		s.Read(k, i, &r)
		if i++; i == s.Devices() {
			i = 0
			k++
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "readings/s")
}
