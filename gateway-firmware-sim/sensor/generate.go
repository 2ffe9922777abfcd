package sensor

import "math"

// weather is the state of the atmosphere (and the grid) at one site at the
// nominal start of one slot, shared by all the site's devices.
type weather struct {
	valid    bool
	slot     int64
	cal      calendar
	diurnal  float64 // daily temperature cycle, [-1, 1]
	temp     float64 // air temperature before device offsets, °C
	rh       float64 // relative humidity before device offsets, %
	rain     float64 // rain rate this hour, mm/h
	wind     float64 // mean wind speed, m/s
	pm       float64 // PM2.5 before device placement, µg/m³
	wet      float64 // wet-spell factor, 0.2..1.8
	river    float64 // river season, 0..1
	soil     float64 // soil moisture before device offsets, %
	tide     float64 // tidal signal, about [-1.3, 1.3]
	load     float64 // grid load shape, 0.35..1.65
	voltSlow float64 // slow supply voltage wander, [-1, 1]
}

// weatherAt fills s.w for slot k.
func (s *Site) weatherAt(k int64) {
	t := s.SlotTime(k)
	c := s.clim
	w := &s.w
	w.valid, w.slot, w.cal = true, k, calendarOf(t)
	h, doy := w.cal.hour, w.cal.doy

	w.wet = 1 + 0.8*valueNoise(s.provKey, sWetSpell, t, 3*msPerDay)
	w.rain = s.rainRate(t, h, doy, w.wet)
	wetHour := min(1, w.rain/5)

	w.diurnal = daily(h, 14.5)
	anomaly := 2 * valueNoise(s.provKey, sTempAnom, t, 2*msPerDay)
	w.temp = c.tempMean + c.tempAmp*annual(doy, c.tempPeakDay) +
		c.dailyHalfRange*w.diurnal + s.elevC + anomaly - 1.5*wetHour
	w.rh = c.rhMean + c.rhAmp*annual(doy, c.rhPeakDay) -
		4*c.dailyHalfRange*w.diurnal - 2*anomaly + 12*wetHour
	w.wind = (c.windMean+c.windAmp*annual(doy, c.windPeakDay))*(1+0.35*daily(h, 14)) + 1.5*wetHour

	pmDaily := 1 + 0.22*daily(h, 7.5) + 0.12*math.Cos(2*math.Pi*(h-20.5)/12)
	episode := math.Exp(0.4 * valueNoise(s.provKey, sPMEpisode, t, 36*msPerHour))
	w.pm = (c.pmMean + c.pmAmp*annual(doy, c.pmPeakDay)) * pmDaily * episode * (1 - 0.5*min(1, w.rain/4))

	w.river = c.wetness(doy, 20)
	w.soil = 15 + 25*c.wetness(doy, 30) + 6*(w.wet-1) + 3*wetHour + 0.8*daily(h, 6)
	hours := float64(t) / msPerHour
	w.tide = c.tideAmp * (math.Cos(2*math.Pi*hours/12.42) + 0.3*math.Cos(2*math.Pi*hours/24.84+1))

	w.load = loadShape(t, c.tempPeakDay)
	w.voltSlow = valueNoise(s.key, sVoltSlow, t, 2*msPerHour)
}

// rainRate decides whether the hour containing t is rainy at this site and
// how hard it rains (mm/h). Rain is likelier in the afternoon and in the
// province's wet spells; intensities are exponential around the seasonal mean.
func (s *Site) rainRate(t int64, hour, doy, wet float64) float64 {
	p, mean := s.clim.rainOdds(doy)
	hourIdx := floorDiv(t, msPerHour)
	if unit(hash3(s.key, sRainHour, hourIdx)) >= p*wet*(1+0.6*daily(hour, 16)) {
		return 0
	}
	return min(80, -mean*math.Log(1-unit(hash3(s.key, sRainIntensity, hourIdx))))
}

// loadShape is the grid load relative to its mean: evening and midday peaks
// and more air conditioning in the hot season. Always positive.
func loadShape(t int64, hotPeak float64) float64 {
	c := calendarOf(t)
	return 1 + 0.35*daily(c.hour, 19) + 0.2*math.Cos(2*math.Pi*(c.hour-12)/12) + 0.1*annual(c.doy, hotPeak)
}

// loadIntegral is the integral of loadShape from the epoch to t, in hours.
// An energy counter is mean load times the growth of this integral, so it is
// exact at any instant and never decreases (loadShape > 0).
func loadIntegral(t int64, hotPeak float64) float64 {
	hl := float64(t+utcOffset) / msPerHour // continuous local hours
	days := float64(t) / msPerDay
	return hl +
		0.35*24/(2*math.Pi)*math.Sin(2*math.Pi*(hl-19)/24) +
		0.2*12/(2*math.Pi)*math.Sin(2*math.Pi*(hl-12)/12) +
		0.1*24*yearDays/(2*math.Pi)*math.Sin(2*math.Pi*(days-hotPeak)/yearDays)
}

// Read fills r with device i's reading for slot k. It does not allocate.
// Calls for the same k share the slot's weather, so a gateway reads all its
// devices for slot k before moving to k+1.
func (s *Site) Read(k int64, i int, r *Reading) {
	if !s.w.valid || s.w.slot != k {
		s.weatherAt(k)
	}
	d := &s.devices[i]
	nominal := s.SlotTime(k) + d.phase
	r.TS = nominal + d.clockOffset(nominal) + int64(unit(hash3(d.key, sJitter, k))*float64(d.jitterMax))
	r.Kind = d.kind
	r.Device = d.number
	r.Values = [MaxFields]int64{}
	w := &s.w
	switch d.kind {
	case Hydromet:
		s.readHydromet(k, d, r)
	case AirQuality:
		pm := max(1, w.pm*d.p[0]*(1+0.06*d.noise(k, 0)))
		r.Values[0] = quantise(pm, 1, 1)
		r.Values[1] = quantise(pm*d.p[1]*(1+0.05*d.noise(k, 1)), 0, 1)
	case Power:
		// Before installation the integral difference is negative: the
		// counter then shows its initial value.
		e := d.p[1] + d.p[0]*max(0, loadIntegral(r.TS, s.clim.tempPeakDay)-d.p[2])
		r.Values[0] = int64(math.Floor(e * 100)) // a register truncates
		v := 224 + 2.5*w.voltSlow - 6*d.p[3]*(w.load-1) + 0.3*d.noise(k, 1)
		r.Values[1] = quantise(v, 1, 1)
	case Agri:
		r.Values[0] = quantise(min(60, max(3, w.soil+d.p[0]+0.15*d.noise(k, 0))), 1, 1)
	}
}

func (s *Site) readHydromet(k int64, d *device, r *Reading) {
	w := &s.w
	r.Values[0] = quantise(w.temp+d.p[0]+0.15*d.noise(k, 0), 1, 1)
	r.Values[1] = quantise(min(100, max(25, w.rh+d.p[1]+0.4*d.noise(k, 1))), 1, 1)
	// A tipping bucket tips once per 0.2 mm; the expected tips in this
	// interval are rounded up or down at random so that totals stay right.
	tips := w.rain * float64(s.interval) / msPerHour / 0.2
	r.Values[2] = 2 * int64(math.Floor(tips+unit(hash3(d.key, sRainTip, k))))
	t := s.SlotTime(k)
	level := d.p[2] + d.p[3]*(w.river+0.15*(w.wet-1)) + w.tide*(0.3+0.7*unit(d.key)) +
		0.1*d.p[3]*valueNoise(d.key, sRiverSlow, t, 12*msPerHour) + 0.004*d.noise(k, 3)
	r.Values[3] = quantise(level, 2, 1)
	exposure := 0.7 + 0.6*unit(d.key>>7)
	r.Values[4] = quantise(max(0, w.wind*exposure+0.6*math.Abs(d.noise(k, 4))), 1, 1)
}

// noise is the measurement noise of field f in slot k, standard normal.
func (d *device) noise(k int64, f uint64) float64 {
	return gauss(hash3(d.key, sNoise0+f, k))
}

// clockOffset is how far (ms) the device clock is ahead at nominal time t.
func (d *device) clockOffset(t int64) int64 {
	pos := t + d.driftPhase
	pos -= floorDiv(pos, d.driftPeriod) * d.driftPeriod
	f := float64(pos) / float64(d.driftPeriod)
	tri := 2 * f
	if f >= 0.5 {
		tri = 2 - 2*f
	}
	return int64(d.driftPPM * 1e-6 * float64(d.driftPeriod) / 2 * tri)
}
