package encoding

import (
	"fmt"
	"math"
	"math/rand/v2"
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

// BenchmarkDecodeBlock decodes both columns of a block, the unit a query
// reads: samples/s here is timestamps and values together.
func BenchmarkDecodeBlock(b *testing.B) {
	c := newTestCodec(b)
	for _, sc := range benchScenarios {
		for ki := range sensorKinds {
			blk := genBlock(ki, sc)
			tsCol := c.AppendTimestamps(nil, blk.ts)
			valCol := c.AppendValues(nil, blk.vals)
			b.Run(benchName(sc, blk.kind), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(16 * len(blk.ts)))
				ts := make([]int64, 0, len(blk.ts))
				vals := make([]float64, 0, len(blk.vals))
				cpu := cpuTime()
				for b.Loop() {
					var err error
					if ts, err = c.DecodeTimestamps(ts[:0], tsCol); err != nil {
						b.Fatal(err)
					}
					if vals, err = c.DecodeValues(vals[:0], valCol); err != nil {
						b.Fatal(err)
					}
				}
				reportSamples(b, len(blk.ts))
				reportPerCPUSecond(b, int64(b.N)*int64(len(blk.ts)), cpu)
			})
		}
	}
}

// fallbackBlocks are value series that are not decimals, for the XOR and
// raw encodings: a dew point a gateway computed from temperature and
// humidity (full float precision, changing slowly), a status that holds a
// non-decimal value for minutes, and random bits.
func fallbackBlocks() map[string][]float64 {
	r := rand.New(rand.NewPCG(genSeed, 99))
	temp := genTemperature(r, MaxBlockSamples, 10)
	hum := genHumidity(r, MaxBlockSamples, 10)
	dew := make([]float64, MaxBlockSamples)
	for i := range dew {
		// Magnus formula.
		g := math.Log(hum[i]/100) + 17.62*temp[i]/(243.12+temp[i])
		dew[i] = 243.12 * g / (17.62 - g)
	}
	held := make([]float64, MaxBlockSamples)
	for i := range held {
		held[i] = float64(i/60) / 3
	}
	random := make([]float64, MaxBlockSamples)
	for i := range random {
		random[i] = math.Float64frombits(r.Uint64())
	}
	return map[string][]float64{"dew_point": dew, "held_thirds": held, "random_bits": random}
}

func BenchmarkDecodeValuesFallback(b *testing.B) {
	c := newTestCodec(b)
	for name, vals := range fallbackBlocks() {
		col := c.AppendValues(nil, vals)
		b.Run(name+"/"+kindName(col), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(8 * len(vals)))
			dst := make([]float64, 0, len(vals))
			for b.Loop() {
				var err error
				if dst, err = c.DecodeValues(dst[:0], col); err != nil {
					b.Fatal(err)
				}
			}
			reportSamples(b, len(vals))
			b.ReportMetric(float64(len(col))/float64(len(vals)), "B/sample")
		})
	}
}
