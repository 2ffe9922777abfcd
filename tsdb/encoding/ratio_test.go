package encoding

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// genSeed fixes the data set behind every figure the tests assert and the
// docs quote.
const genSeed = 20250701

// jitterMs and driftPPM are the timing the bytes-per-sample table uses:
// the worst latency the brief names (uniform ±30 ms) on a clock 25 ppm
// fast.
const (
	jitterMs = 30
	driftPPM = 25
)

type scenario struct {
	name string
	dt   float64 // seconds between samples
	n    int     // samples in the block
}

var scenarios = []scenario{
	{"1s x 1h", 1, 3600},
	{"1s x 8192", 1, 8192},
	{"10s x 1h", 10, 360},
	{"10s x 8192", 10, 8192},
	{"60s x 1h", 60, 60},
	{"60s x 8192", 60, 8192},
}

// block is one generated series block.
type block struct {
	kind string
	ts   []int64
	vals []float64
}

// genBlock returns the block of kind k for scenario sc, deterministic in
// (genSeed, kind index, scenario).
func genBlock(ki int, sc scenario) block {
	k := sensorKinds[ki]
	r := rand.New(rand.NewPCG(genSeed, uint64(ki)<<32|uint64(sc.n)<<8|uint64(sc.dt)))
	ts := genTimestamps(r, sc.n, sc.dt, jitterMs, driftPPM)
	return block{kind: k.name, ts: ts, vals: k.gen(r, sc.n, sc.dt)}
}

type ratio struct{ ts, vals float64 }

func (r ratio) total() float64 { return r.ts + r.vals }

// measureRatio encodes b, checks that it decodes exactly, and returns the
// bytes per sample of each column.
func measureRatio(t testing.TB, c *Codec, b block) ratio {
	tsCol := c.AppendTimestamps(nil, b.ts)
	valCol := c.AppendValues(nil, b.vals)
	gotTS, err := c.DecodeTimestamps(nil, tsCol)
	require.NoError(t, err)
	require.Equal(t, b.ts, gotTS)
	gotVals, err := c.DecodeValues(nil, valCol)
	require.NoError(t, err)
	requireSameBits(t, b.vals, gotVals)
	n := float64(len(b.ts))
	return ratio{ts: float64(len(tsCol)) / n, vals: float64(len(valCol)) / n}
}

// deltaEntropy returns the order-0 entropy, in bytes a sample, of the
// differences of vals at the resolution they were quantised to: what an
// ideal coder of independent differences would spend.
func deltaEntropy(vals []float64, digits int) float64 {
	counts := map[int64]int{}
	p := math.Pow10(digits)
	for i := 1; i < len(vals); i++ {
		counts[int64(math.Round(vals[i]*p))-int64(math.Round(vals[i-1]*p))]++
	}
	h := 0.0
	for _, c := range counts {
		q := float64(c) / float64(len(vals)-1)
		h -= q * math.Log2(q)
	}
	return h / 8
}

// kindDigits is each kind's resolution in decimal places.
var kindDigits = map[string]int{
	"air_temperature_0.1C": 1, "humidity_0.1pct": 1, "rainfall_0.2mm": 1, "water_level_0.01m": 2,
	"wind_speed_0.1mps": 1, "pm25_1ugm3": 0, "pm10_0.1ugm3": 1, "energy_0.01kWh": 2,
	"voltage_0.1V": 1, "soil_moisture_0.1pct": 1,
}

// maxTSBytes and maxValueBytes are the asserted upper bounds, in bytes
// a sample, of each column on the generated data set: the figures
// measured when the chooser was last changed, plus 3%, rounded up to 0.01.
// A change that makes a column bigger fails here; one that makes it
// smaller should lower the bound.
var maxTSBytes = map[string]float64{
	"1s x 1h":    0.78,
	"1s x 8192":  0.78,
	"10s x 1h":   0.84,
	"10s x 8192": 0.80,
	"60s x 1h":   1.10,
	"60s x 8192": 0.87,
}

var maxValueBytes = map[string]map[string]float64{
	"1s x 1h": {
		"air_temperature_0.1C": 0.22, "humidity_0.1pct": 0.39, "rainfall_0.2mm": 0.01,
		"water_level_0.01m": 0.34, "wind_speed_0.1mps": 0.41, "pm25_1ugm3": 0.36, "pm10_0.1ugm3": 0.88,
		"energy_0.01kWh": 0.08, "voltage_0.1V": 0.48, "soil_moisture_0.1pct": 0.25,
	},
	"1s x 8192": {
		"air_temperature_0.1C": 0.22, "humidity_0.1pct": 0.39, "rainfall_0.2mm": 0.01,
		"water_level_0.01m": 0.33, "wind_speed_0.1mps": 0.40, "pm25_1ugm3": 0.36, "pm10_0.1ugm3": 0.86,
		"energy_0.01kWh": 0.07, "voltage_0.1V": 0.47, "soil_moisture_0.1pct": 0.25,
	},
	"10s x 1h": {
		"air_temperature_0.1C": 0.32, "humidity_0.1pct": 0.56, "rainfall_0.2mm": 0.02,
		"water_level_0.01m": 0.52, "wind_speed_0.1mps": 0.65, "pm25_1ugm3": 0.45, "pm10_0.1ugm3": 1.08,
		"energy_0.01kWh": 0.22, "voltage_0.1V": 0.66, "soil_moisture_0.1pct": 0.30,
	},
	"10s x 8192": {
		"air_temperature_0.1C": 0.30, "humidity_0.1pct": 0.51, "rainfall_0.2mm": 0.02,
		"water_level_0.01m": 0.46, "wind_speed_0.1mps": 0.59, "pm25_1ugm3": 0.40, "pm10_0.1ugm3": 0.93,
		"energy_0.01kWh": 0.17, "voltage_0.1V": 0.61, "soil_moisture_0.1pct": 0.27,
	},
	"60s x 1h": {
		"air_temperature_0.1C": 0.61, "humidity_0.1pct": 0.78, "rainfall_0.2mm": 0.11,
		"water_level_0.01m": 0.66, "wind_speed_0.1mps": 0.88, "pm25_1ugm3": 0.64, "pm10_0.1ugm3": 1.17,
		"energy_0.01kWh": 0.57, "voltage_0.1V": 0.90, "soil_moisture_0.1pct": 0.52,
	},
	"60s x 8192": {
		"air_temperature_0.1C": 0.41, "humidity_0.1pct": 0.63, "rainfall_0.2mm": 0.03,
		"water_level_0.01m": 0.49, "wind_speed_0.1mps": 0.67, "pm25_1ugm3": 0.49, "pm10_0.1ugm3": 1.09,
		"energy_0.01kWh": 0.32, "voltage_0.1V": 0.66, "soil_moisture_0.1pct": 0.33,
	},
}

// alignedFields is the number of fields a device reports per reading in
// the aligned figure: the store keeps one timestamp column per device, so
// each field's sample pays a quarter of it. Four is a weather station
// (temperature, humidity, rain, wind) or an air-quality node.
const alignedFields = 4

// TestBytesPerSample measures both columns of every sensor kind on the
// fixed data set, logs them next to the entropy floor of the value deltas,
// and asserts the bounds above. It also asserts the aligned target: from
// an hour at 10 s up, with the timestamp column shared by alignedFields
// fields, every kind but PM10 at 0.1 µg/m³ (whose last digit is sensor
// noise) costs at most one byte a sample. Run with -v to see the table.
func TestBytesPerSample(t *testing.T) {
	c := newTestCodec(t)
	for _, sc := range scenarios {
		for ki := range sensorKinds {
			b := genBlock(ki, sc)
			r := measureRatio(t, c, b)
			aligned := r.ts/alignedFields + r.vals
			t.Logf("%-11s %-21s ts %.3f  vals %.3f  total %.3f  aligned/%d %.3f  (H0 of value deltas %.3f)",
				sc.name, b.kind, r.ts, r.vals, r.total(), alignedFields, aligned,
				deltaEntropy(b.vals, kindDigits[b.kind]))
			require.LessOrEqual(t, r.ts, maxTSBytes[sc.name], "%s %s timestamps", sc.name, b.kind)
			require.LessOrEqual(t, r.vals, maxValueBytes[sc.name][b.kind], "%s %s values", sc.name, b.kind)
			if sc.n >= 360 && b.kind != "pm10_0.1ugm3" {
				require.LessOrEqual(t, aligned, 1.0, "%s %s aligned", sc.name, b.kind)
			}
		}
	}
}

func TestTimestampBytesPerSample(t *testing.T) {
	c := newTestCodec(t)
	for _, sc := range scenarios {
		for _, j := range []int{0, 5, 15, 30} {
			r := rand.New(rand.NewPCG(genSeed, uint64(j)))
			ts := genTimestamps(r, sc.n, sc.dt, j, driftPPM)
			col := c.AppendTimestamps(nil, ts)
			got, err := c.DecodeTimestamps(nil, col)
			require.NoError(t, err)
			require.Equal(t, ts, got)
			t.Logf("%-11s jitter ±%2d ms: %.3f B/sample (%s)", sc.name, j, float64(len(col))/float64(len(ts)), kindName(col))
		}
	}
}
