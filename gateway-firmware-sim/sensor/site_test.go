package sensor

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quantrac/quantrac/province"
)

func mustSite(t testing.TB, seed uint64, slug string, gw, n int, interval time.Duration) *Site {
	t.Helper()
	p, ok := province.Lookup(slug)
	require.True(t, ok, slug)
	s, err := NewSite(seed, p, gw, n, interval)
	require.NoError(t, err)
	return s
}

// day is the first slot of a UTC calendar day.
func day(s *Site, y int, m time.Month, d int) int64 {
	return s.FirstSlot(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).UnixMilli())
}

func TestSameSeedSameReadings(t *testing.T) {
	a := mustSite(t, 42, "hai-phong", 3, 50, time.Second)
	b := mustSite(t, 42, "hai-phong", 3, 50, time.Second)
	k0 := day(a, 2025, 12, 3)
	var ra, rb Reading
	// b reads the same slots in a different order: readings must not depend
	// on what was read before.
	for k := k0 + 99; k >= k0; k-- {
		for i := a.Devices() - 1; i >= 0; i-- {
			b.Read(k, i, &rb)
			a.Read(k, i, &ra)
			a.Read(k+1, i, &ra) // disturb a's weather cache
			a.Read(k, i, &ra)
			require.Equal(t, ra, rb)
		}
	}
}

func TestDifferentSeedOrGatewayDiffers(t *testing.T) {
	base := mustSite(t, 1, "hue", 1, 20, time.Second)
	for _, other := range []*Site{
		mustSite(t, 2, "hue", 1, 20, time.Second),
		mustSite(t, 1, "hue", 2, 20, time.Second),
		mustSite(t, 1, "da-nang", 1, 20, time.Second),
	} {
		k := day(base, 2025, 6, 1)
		same := 0
		var ra, rb Reading
		for i := range 20 {
			base.Read(k, i, &ra)
			other.Read(k, i, &rb)
			if ra == rb {
				same++
			}
		}
		require.Less(t, same, 2, other.Gateway())
	}
}

func TestReadingsStayWithinSensorLimits(t *testing.T) {
	limits := map[string][2]float64{
		"air_temperature_celsius":          {-5, 45},
		"relative_humidity_percent":        {25, 100},
		"rainfall_mm":                      {0, 30},
		"river_water_level_meters":         {-1, 12},
		"wind_speed_meters_per_second":     {0, 15},
		"pm2_5_micrograms_per_cubic_meter": {1, 400},
		"pm10_micrograms_per_cubic_meter":  {1, 800},
		"energy_kilowatt_hours_total":      {0, 5e6},
		"voltage_volts":                    {200, 245},
		"soil_moisture_percent":            {3, 60},
	}
	for _, p := range province.All() {
		s := mustSite(t, 7, p.Slug, 1, 12, time.Minute)
		var r Reading
		for _, m := range []time.Month{1, 4, 7, 10} {
			k0 := day(s, 2025, m, 1)
			for k := k0; k < k0+24*60; k += 7 {
				for i := range s.Devices() {
					s.Read(k, i, &r)
					for f, field := range r.Kind.Fields() {
						lim, ok := limits[field.Metric]
						require.True(t, ok, field.Metric)
						v := r.Float(f)
						require.GreaterOrEqual(t, v, lim[0], "%s %s %v", p.Slug, field.Metric, r)
						require.LessOrEqual(t, v, lim[1], "%s %s %v", p.Slug, field.Metric, r)
						require.Zero(t, r.Values[f]%field.Step, "%s not a multiple of its step", field.Metric)
					}
					for f := len(r.Kind.Fields()); f < MaxFields; f++ {
						require.Zero(t, r.Values[f])
					}
				}
			}
		}
	}
}

func TestTimestampsIncreaseWithBoundedJitterAndDrift(t *testing.T) {
	for _, iv := range []time.Duration{MinInterval, time.Second, time.Minute} {
		t.Run(iv.String(), func(t *testing.T) {
			s := mustSite(t, 3, "ca-mau", 1, 30, iv)
			k0 := day(s, 2025, 3, 1)
			n := int64(3000)
			var r Reading
			jittered := 0
			for i := range s.Devices() {
				prev := int64(math.MinInt64)
				for k := k0; k < k0+n; k++ {
					s.Read(k, i, &r)
					require.Greater(t, r.TS, prev, "device %d slot %d", i, k)
					off := r.TS - s.SlotTime(k)
					require.GreaterOrEqual(t, off, int64(0))
					// phase < interval, jitter < 41 ms, drift <= 40ppm*48h/2
					require.Less(t, off, iv.Milliseconds()+41+3456)
					if k > k0 && r.TS-prev != iv.Milliseconds() {
						jittered++
					}
					prev = r.TS
				}
			}
			require.Greater(t, jittered, int(n)*s.Devices()/4, "timestamps should jitter")
		})
	}
}

func TestEnergyCounterNeverDecreases(t *testing.T) {
	s := mustSite(t, 9, "dong-nai", 1, 40, 10*time.Second)
	k0 := day(s, 2025, 7, 1)
	prev := make(map[int]int64)
	var r Reading
	for k := k0; k < k0+6*8640; k += 3 {
		for i := range s.Devices() {
			if kind, _ := s.Device(i); kind != Power {
				continue
			}
			s.Read(k, i, &r)
			require.GreaterOrEqual(t, r.Values[0], prev[i], "device %d slot %d", i, k)
			prev[i] = r.Values[0]
		}
	}
	require.NotEmpty(t, prev)
}

// mean returns the mean of field f over the hydromet devices of s during the
// 30 days starting on the given date, sampled every 10 slots.
func mean(s *Site, m time.Month, f int) float64 {
	k0 := day(s, 2025, m, 1)
	var sum, n float64
	var r Reading
	for k := k0; k < k0+30*24*60; k += 10 {
		for i := range s.Devices() {
			if kind, _ := s.Device(i); kind == Hydromet {
				s.Read(k, i, &r)
				sum += r.Float(f)
				n++
			}
		}
	}
	return sum / n
}

func TestRegionalClimate(t *testing.T) {
	hn := mustSite(t, 5, "ha-noi", 1, 10, time.Minute)
	hcm := mustSite(t, 5, "ho-chi-minh", 1, 10, time.Minute)
	dn := mustSite(t, 5, "da-nang", 1, 10, time.Minute)
	const temp, rain = 0, 2

	// The north has a cool winter; the south is hot all year.
	require.Less(t, mean(hn, time.January, temp), 20.0)
	require.Greater(t, mean(hn, time.July, temp), 27.0)
	require.Greater(t, mean(hcm, time.January, temp), 24.0)
	require.Greater(t, mean(hcm, time.January, temp)-mean(hn, time.January, temp), 5.0)

	// Monsoon seasons: north and south wet in summer, the centre in autumn.
	require.Greater(t, mean(hn, time.August, rain), 4*mean(hn, time.January, rain))
	require.Greater(t, mean(hcm, time.June, rain), 4*mean(hcm, time.February, rain))
	require.Greater(t, mean(dn, time.October, rain), 4*mean(dn, time.April, rain))

	// Afternoons are warmer than dawns on most days.
	station := -1
	for i := range hn.Devices() {
		if kind, _ := hn.Device(i); kind == Hydromet {
			station = i
		}
	}
	require.GreaterOrEqual(t, station, 0)
	var dawn, noon Reading
	warmer := 0
	k0 := day(hn, 2025, 5, 1)
	for d := int64(0); d < 30; d++ {
		// 05:00 and 14:00 local time are 22:00 (the day before) and 07:00 UTC
		hn.Read(k0+d*1440-2*60, station, &dawn)
		hn.Read(k0+d*1440+7*60, station, &noon)
		if noon.Values[0] > dawn.Values[0] {
			warmer++
		}
	}
	require.Greater(t, warmer, 25)
}

func TestKindMix(t *testing.T) {
	for _, n := range []int{1, 2, 3, 4, 5, 7, 20, 100, MaxDevices} {
		s := mustSite(t, 11, "son-la", 1, n, time.Second)
		var count [NumKinds + 1]int
		seen := make(map[[2]int]bool)
		for i := range s.Devices() {
			k, num := s.Device(i)
			require.True(t, k.Valid())
			require.True(t, num >= 1 && num <= MaxDeviceNumber)
			key := [2]int{int(k), int(num)}
			require.False(t, seen[key], "duplicate device id")
			seen[key] = true
			count[k]++
		}
		require.Equal(t, n, s.Devices())
		if n >= NumKinds {
			for k := 1; k <= NumKinds; k++ {
				require.Positive(t, count[k], "n=%d kind %d", n, k)
			}
		}
	}
}

func TestNewSiteRejects(t *testing.T) {
	hn, _ := province.Lookup("ha-noi")
	for _, tc := range []struct {
		name     string
		p        province.Province
		gw, n    int
		interval time.Duration
	}{
		{"no region", province.Province{Slug: "x"}, 1, 1, time.Second},
		{"gateway 0", hn, 0, 1, time.Second},
		{"gateway 1000", hn, 1000, 1, time.Second},
		{"no devices", hn, 1, 0, time.Second},
		{"too many devices", hn, 1, MaxDevices + 1, time.Second},
		{"short interval", hn, 1, 1, time.Millisecond},
		{"fractional ms", hn, 1, 1, 10500 * time.Microsecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewSite(1, tc.p, tc.gw, tc.n, tc.interval)
			require.Error(t, err)
		})
	}
}

func TestElevationTableNamesRealProvinces(t *testing.T) {
	for slug := range elevation {
		_, ok := province.Lookup(slug)
		require.True(t, ok, slug)
	}
}

func TestDeviceIDsAndDecimals(t *testing.T) {
	require.Equal(t, "aws-0193", string(AppendDeviceID(nil, Hydromet, 193)))
	require.Equal(t, "pwr-9999", string(AppendDeviceID(nil, Power, 9999)))
	r := Reading{Kind: Hydromet, Values: [MaxFields]int64{274, 815, 2, 231, -3}}
	require.Equal(t, 27.4, r.Float(0))
	require.Equal(t, 0.2, r.Float(2))
	require.Equal(t, 2.31, r.Float(3))
	require.Equal(t, -0.3, r.Float(4))
	require.Equal(t, "hn-gw-004", GatewayID(province.All()[0], 4))
}

func TestReadDoesNotAllocate(t *testing.T) {
	s := mustSite(t, 1, "ha-noi", 1, 64, time.Second)
	var r Reading
	k := day(s, 2025, 12, 3)
	allocs := testing.AllocsPerRun(100, func() {
		k++
		for i := range s.Devices() {
			s.Read(k, i, &r)
		}
	})
	require.Zero(t, allocs)
}
