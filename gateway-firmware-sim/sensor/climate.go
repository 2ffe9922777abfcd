package sensor

import (
	"math"

	"github.com/quantrac/quantrac/province"
)

// climate holds the regional climate normals the generator follows. The
// figures are rounded normals of a representative station of each region
// (Hà Nội for the north, Đà Nẵng for the centre, Hồ Chí Minh City for the
// south); they make plausible data, they are not a climatology.
type climate struct {
	tempMean, tempAmp, tempPeakDay float64 // annual cycle of air temperature, °C
	dailyHalfRange                 float64 // half the mean daily temperature range, °C
	rainMM                         [12]float64
	rhMean, rhAmp, rhPeakDay       float64 // relative humidity, %
	windMean, windAmp, windPeakDay float64 // m/s
	pmMean, pmAmp, pmPeakDay       float64 // PM2.5, µg/m³
	tideAmp                        float64 // river gauge tidal amplitude, m
}

var climates = [...]climate{
	// North: a real winter (Jan ~16.5 °C, Jul ~29.5 °C), rain May-Oct
	// peaking in August, the worst winter haze of the country.
	province.North: {
		tempMean: 23.5, tempAmp: 6.5, tempPeakDay: 196, dailyHalfRange: 3.5,
		rainMM: [12]float64{18, 26, 44, 90, 188, 240, 288, 318, 265, 130, 43, 23},
		rhMean: 80, rhAmp: 4, rhPeakDay: 75,
		windMean: 2.4, windAmp: 0.4, windPeakDay: 15,
		pmMean: 45, pmAmp: 22, pmPeakDay: 10,
		tideAmp: 0.25,
	},
	// Centre: milder winter, hottest in June-July, rain from September to
	// December with the October-November flood season.
	province.Centre: {
		tempMean: 25.8, tempAmp: 4.2, tempPeakDay: 185, dailyHalfRange: 3.2,
		rainMM: [12]float64{96, 33, 22, 27, 62, 87, 85, 103, 350, 613, 433, 226},
		rhMean: 82, rhAmp: 5, rhPeakDay: 305,
		windMean: 2.8, windAmp: 0.5, windPeakDay: 340,
		pmMean: 22, pmAmp: 7, pmPeakDay: 20,
		tideAmp: 0.2,
	},
	// South: hot all year (hottest in April), dry season December-April,
	// rain May-November; tides reach far up the Mekong.
	province.South: {
		tempMean: 27.6, tempAmp: 1.6, tempPeakDay: 115, dailyHalfRange: 4.3,
		rainMM: [12]float64{14, 4, 12, 42, 218, 311, 293, 270, 327, 267, 116, 48},
		rhMean: 77, rhAmp: 6, rhPeakDay: 255,
		windMean: 2.5, windAmp: 0.4, windPeakDay: 60,
		pmMean: 30, pmAmp: 8, pmPeakDay: 30,
		tideAmp: 0.7,
	},
}

// elevation gives a rough mean station elevation (m) for provinces whose
// climate is set by mountains or plateaus; temperature falls 6.5 °C per km.
// Provinces not listed are treated as lowland.
var elevation = map[string]float64{
	"lao-cai": 600, "lai-chau": 900, "son-la": 700, "dien-bien": 600,
	"cao-bang": 500, "tuyen-quang": 350, "lang-son": 300,
	"gia-lai": 600, "dak-lak": 500, "lam-dong": 800,
}

const (
	msPerHour = 3_600_000
	msPerDay  = 86_400_000
	yearDays  = 365.2425
	utcOffset = 7 * msPerHour // Vietnam is UTC+7 all year
)

// calendar is where an instant falls in the day and the year.
type calendar struct {
	hour float64 // local hour of day, [0, 24)
	doy  float64 // day of year, [0, 365.24), 0 = 1 January
}

func calendarOf(tms int64) calendar {
	local := tms + utcOffset
	dayMS := local - floorDiv(local, msPerDay)*msPerDay
	days := float64(tms) / msPerDay
	return calendar{
		hour: float64(dayMS) / msPerHour,
		doy:  days - math.Floor(days/yearDays)*yearDays,
	}
}

// annual is a cosine over the year peaking on day peak.
func annual(doy, peak float64) float64 {
	return math.Cos(2 * math.Pi * (doy - peak) / yearDays)
}

// daily is a cosine over the local day peaking at hour peak.
func daily(hour, peak float64) float64 {
	return math.Cos(2 * math.Pi * (hour - peak) / 24)
}

// monthlyRain interpolates the monthly rainfall normal (mm/month) at doy,
// treating each month's figure as its mid-month value.
func (c *climate) monthlyRain(doy float64) float64 {
	m := doy/yearDays*12 - 0.5
	i := math.Floor(m)
	f := m - i
	a := c.rainMM[(int(i)+12)%12]
	b := c.rainMM[(int(i)+13)%12]
	return a + (b-a)*f
}

// wetness is the monsoon state in [0, 1]: the rainfall normal lagDays ago,
// relative to the wettest month. Rivers and soils lag the rain.
func (c *climate) wetness(doy, lagDays float64) float64 {
	peak := 0.0
	for _, v := range c.rainMM {
		peak = max(peak, v)
	}
	d := doy - lagDays
	if d < 0 {
		d += yearDays
	}
	return c.monthlyRain(d) / peak
}

// rainOdds returns the chance that an hour is rainy in this season and the
// mean intensity (mm/h) of a rainy hour, so that the expected monthly total
// matches the normal.
func (c *climate) rainOdds(doy float64) (p, meanRate float64) {
	mm := c.monthlyRain(doy)
	p = min(max(mm/3000, 0.01), 0.15)
	const hoursPerMonth = 730
	return p, mm / (hoursPerMonth * p)
}
