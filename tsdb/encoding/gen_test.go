package encoding

import (
	"math"
	"math/rand/v2"
)

// This file generates realistic IoT sensor blocks for the tests and
// benchmarks: timestamps from a gateway clock that drifts and samples with
// per-reading latency, and values from physical processes quantised to
// each sensor's resolution, the way a gateway would report them as
// decimal strings. Everything derives from a fixed seed.

const (
	day  = 86400.0 // seconds
	hour = 3600.0
	// genStartMs is the first nominal sample: 2025-07-01T00:00:00Z.
	genStartMs = 1751328000000
)

// ou is an Ornstein-Uhlenbeck process (mean zero, relaxation time tau
// seconds, stationary deviation sigma), stepped exactly for any dt so
// that a 1 s and a 60 s series of one sensor have the same statistics.
type ou struct {
	tau, sigma, x float64
}

func newOU(r *rand.Rand, tau, sigma float64) *ou {
	return &ou{tau: tau, sigma: sigma, x: sigma * r.NormFloat64()}
}

func (o *ou) step(r *rand.Rand, dt float64) float64 {
	a := math.Exp(-dt / o.tau)
	o.x = o.x*a + o.sigma*math.Sqrt(1-a*a)*r.NormFloat64()
	return o.x
}

// quantize rounds x to `digits` decimal places and returns the float a
// parser would produce for that decimal string (k/10^digits, correctly
// rounded).
func quantize(x float64, digits int) float64 {
	p := math.Pow10(digits)
	return math.Round(x*p) / p
}

// diurnal is a daily cycle in [-1, 1] peaking at peakHour (UTC+7 local).
func diurnal(tSec, peakHour float64) float64 {
	local := math.Mod(tSec+7*hour, day)
	return math.Cos(2 * math.Pi * (local - peakHour*hour) / day)
}

// sensorKind makes a value series: n samples every dt seconds.
type sensorKind struct {
	name string
	gen  func(r *rand.Rand, n int, dt float64) []float64
}

var sensorKinds = []sensorKind{
	{"air_temperature_0.1C", genTemperature},
	{"humidity_0.1pct", genHumidity},
	{"rainfall_0.2mm", genRainfall},
	{"water_level_0.01m", genWaterLevel},
	{"wind_speed_0.1mps", genWind},
	{"pm25_1ugm3", genPM25},
	{"pm10_0.1ugm3", genPM10},
	{"energy_0.01kWh", genEnergy},
	{"voltage_0.1V", genVoltage},
	{"soil_moisture_0.1pct", genSoilMoisture},
}

// genTemperature: daily cycle, weather fronts over hours, turbulence over a
// minute, and sensor noise, at 0.1 °C.
func genTemperature(r *rand.Rand, n int, dt float64) []float64 {
	weather, turb := newOU(r, 6*hour, 1.5), newOU(r, 60, 0.15)
	out := make([]float64, n)
	for i := range out {
		t := float64(i) * dt
		x := 28 + 4*diurnal(t, 15) + weather.step(r, dt) + turb.step(r, dt) + 0.03*r.NormFloat64()
		out[i] = quantize(x, 1)
	}
	return out
}

// genHumidity: the mirror of temperature, noisier, clamped to 0..100 %.
func genHumidity(r *rand.Rand, n int, dt float64) []float64 {
	weather, turb := newOU(r, 6*hour, 5), newOU(r, 60, 0.5)
	out := make([]float64, n)
	for i := range out {
		t := float64(i) * dt
		x := 75 - 12*diurnal(t, 15) + weather.step(r, dt) + turb.step(r, dt) + 0.1*r.NormFloat64()
		out[i] = quantize(min(100, max(0, x)), 1)
	}
	return out
}

// genRainfall: a tipping bucket of 0.2 mm, reported as the rain of each
// interval. Showers arrive about three times a day, last tens of minutes
// and rain a few mm/h; most intervals are zero.
func genRainfall(r *rand.Rand, n int, dt float64) []float64 {
	out := make([]float64, n)
	left, rate := 0.0, 0.0 // seconds of shower left, tips per second
	for i := range out {
		if left <= 0 {
			rate = 0
			if r.Float64() < dt*3/day {
				left = r.ExpFloat64() * 40 * 60
				rate = r.ExpFloat64() * 8 / 0.2 / hour
			}
		}
		left -= dt
		tips := poisson(r, rate*dt)
		out[i] = quantize(float64(tips)*0.2, 1)
	}
	return out
}

func poisson(r *rand.Rand, mean float64) int {
	if mean <= 0 {
		return 0
	}
	if mean > 30 {
		return max(0, int(math.Round(mean+math.Sqrt(mean)*r.NormFloat64())))
	}
	l, k, p := math.Exp(-mean), 0, 1.0
	for {
		p *= r.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// genWaterLevel: a tidal river (12.42 h), slow discharge changes, waves
// and an ultrasonic gauge's noise, at 0.01 m.
func genWaterLevel(r *rand.Rand, n int, dt float64) []float64 {
	flow, waves := newOU(r, day, 0.3), newOU(r, 5, 0.02)
	out := make([]float64, n)
	for i := range out {
		t := float64(i) * dt
		x := 2.5 + 0.8*math.Sin(2*math.Pi*t/(12.42*hour)) + flow.step(r, dt) + waves.step(r, dt) + 0.003*r.NormFloat64()
		out[i] = quantize(x, 2)
	}
	return out
}

// genWind: a mean that changes over hours and gusts over tens of seconds,
// never negative, at 0.1 m/s.
func genWind(r *rand.Rand, n int, dt float64) []float64 {
	mean, gust := newOU(r, 3*hour, 1.5), newOU(r, 20, 0.6)
	out := make([]float64, n)
	for i := range out {
		x := 3 + mean.step(r, dt) + gust.step(r, dt)
		out[i] = quantize(max(0, x), 1)
	}
	return out
}

// pm25 is the shared particulate process: traffic peaks, pollution episodes
// over hours and local plumes over minutes.
func pm25(r *rand.Rand, n int, dt float64) []float64 {
	episode, plume := newOU(r, 4*hour, 12), newOU(r, 120, 3)
	out := make([]float64, n)
	for i := range out {
		t := float64(i) * dt
		out[i] = max(1, 45+10*diurnal(t, 8)+episode.step(r, dt)+plume.step(r, dt))
	}
	return out
}

// genPM25: an optical sensor that reports whole µg/m³.
func genPM25(r *rand.Rand, n int, dt float64) []float64 {
	out := pm25(r, n, dt)
	for i, x := range out {
		out[i] = quantize(max(0, x+1.0*r.NormFloat64()), 0)
	}
	return out
}

// genPM10: coarser particles on top of the fine ones, from a sensor that
// reports 0.1 µg/m³.
func genPM10(r *rand.Rand, n int, dt float64) []float64 {
	out := pm25(r, n, dt)
	coarse, dust := newOU(r, 4*hour, 8), newOU(r, 120, 4)
	for i, x := range out {
		y := 1.5*x + 10 + coarse.step(r, dt) + dust.step(r, dt) + 1.5*r.NormFloat64()
		out[i] = quantize(max(0, y), 1)
	}
	return out
}

// genEnergy: a meter's cumulative kWh register at 0.01 kWh for a small
// business drawing a few kW, more in working hours.
func genEnergy(r *rand.Rand, n int, dt float64) []float64 {
	load := newOU(r, 10*60, 1.5)
	counter := 48213.57
	out := make([]float64, n)
	for i := range out {
		t := float64(i) * dt
		kw := max(0.2, 3+2*diurnal(t, 14)+load.step(r, dt))
		counter += kw * dt / hour
		out[i] = math.Floor(counter*100) / 100
	}
	return out
}

// genVoltage: mains RMS voltage, sagging in the evening peak, wandering
// with load over half an hour, flickering over seconds, at 0.1 V.
func genVoltage(r *rand.Rand, n int, dt float64) []float64 {
	load, flicker := newOU(r, 30*60, 2), newOU(r, 5, 0.4)
	out := make([]float64, n)
	for i := range out {
		t := float64(i) * dt
		x := 230 + 4*diurnal(t, 7) + load.step(r, dt) + flicker.step(r, dt) + 0.1*r.NormFloat64()
		out[i] = quantize(x, 1)
	}
	return out
}

// genSoilMoisture: a capacitive probe; wetting after showers and drying
// over days, with small noise, at 0.1 %.
func genSoilMoisture(r *rand.Rand, n int, dt float64) []float64 {
	wet := newOU(r, 2*day, 4)
	out := make([]float64, n)
	for i := range out {
		out[i] = quantize(32+wet.step(r, dt)+0.05*r.NormFloat64(), 1)
	}
	return out
}

// genTimestamps returns n Unix-millisecond timestamps of a device that
// samples every dt seconds by its own clock. The clock runs driftPPM fast
// or slow, plus a slow daily wander of ±3 ppm (crystal temperature), and
// each reading lands uniformly within ±jitterMs of its tick (bus and
// conversion latency).
func genTimestamps(r *rand.Rand, n int, dt float64, jitterMs int, driftPPM float64) []int64 {
	out := make([]int64, n)
	offsetMs := 0.0
	for i := range out {
		t := float64(i) * dt
		ppm := driftPPM + 3*math.Sin(2*math.Pi*t/day)
		offsetMs += dt * 1000 * ppm * 1e-6
		j := 0
		if jitterMs > 0 {
			j = r.IntN(2*jitterMs+1) - jitterMs
		}
		out[i] = genStartMs + int64(math.Round(t*1000+offsetMs)) + int64(j)
	}
	return out
}
