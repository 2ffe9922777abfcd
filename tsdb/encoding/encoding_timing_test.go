package encoding

import (
	"fmt"
	"testing"
)

// benchScenarios are the block shapes the benchmarks cover: a full block
// and an hour of 10 s samples.
var benchScenarios = []scenario{
	{"10s x 1h", 10, 360},
	{"1s x 8192", 1, 8192},
	{"10s x 8192", 10, 8192},
}

func benchName(sc scenario, kind string) string {
	return fmt.Sprintf("%s/%s", sc.name, kind)
}

func reportSamples(b *testing.B, n int) {
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
}

func BenchmarkEncodeTimestamps(b *testing.B) {
	c := newTestCodec(b)
	for _, sc := range benchScenarios {
		blk := genBlock(0, sc)
		b.Run(sc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(8 * len(blk.ts)))
			var dst []byte
			for b.Loop() {
				dst = c.AppendTimestamps(dst[:0], blk.ts)
			}
			reportSamples(b, len(blk.ts))
		})
	}
}

func BenchmarkDecodeTimestamps(b *testing.B) {
	c := newTestCodec(b)
	for _, sc := range benchScenarios {
		blk := genBlock(0, sc)
		col := c.AppendTimestamps(nil, blk.ts)
		b.Run(sc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(8 * len(blk.ts)))
			dst := make([]int64, 0, len(blk.ts))
			for b.Loop() {
				var err error
				if dst, err = c.DecodeTimestamps(dst[:0], col); err != nil {
					b.Fatal(err)
				}
			}
			reportSamples(b, len(blk.ts))
		})
	}
}

func BenchmarkEncodeValues(b *testing.B) {
	c := newTestCodec(b)
	for _, sc := range benchScenarios {
		for ki := range sensorKinds {
			blk := genBlock(ki, sc)
			b.Run(benchName(sc, blk.kind), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(8 * len(blk.vals)))
				var dst []byte
				for b.Loop() {
					dst = c.AppendValues(dst[:0], blk.vals)
				}
				reportSamples(b, len(blk.vals))
			})
		}
	}
}

func BenchmarkDecodeValues(b *testing.B) {
	c := newTestCodec(b)
	for _, sc := range benchScenarios {
		for ki := range sensorKinds {
			blk := genBlock(ki, sc)
			col := c.AppendValues(nil, blk.vals)
			b.Run(benchName(sc, blk.kind)+"/"+kindName(col), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(8 * len(blk.vals)))
				dst := make([]float64, 0, len(blk.vals))
				for b.Loop() {
					var err error
					if dst, err = c.DecodeValues(dst[:0], col); err != nil {
						b.Fatal(err)
					}
				}
				reportSamples(b, len(blk.vals))
			})
		}
	}
}
