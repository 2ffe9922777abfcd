package sensor

import (
	"fmt"
	"math"
	"time"

	"github.com/quantrac/quantrac/province"
)

// MaxDevices is the most devices one gateway may have: serial numbers have
// four digits and each kind's numbers start at a random base below 5000.
const MaxDevices = 4000

// MaxGatewayNumber is the largest gateway number: ids have three digits.
const MaxGatewayNumber = 999

// GatewayID returns the id of gateway number n (1-based) of province p:
// the province code, "-gw-", and three digits (hn-gw-001).
func GatewayID(p province.Province, n int) string {
	return fmt.Sprintf("%s-gw-%03d", p.Code, n)
}

// kindShare is the mix of kinds behind a gateway, in percent.
var kindShare = [NumKinds + 1]int{Hydromet: 30, AirQuality: 20, Power: 35, Agri: 15}

// device is one field device: its identity and the parameters that make it
// differ from its neighbours (placement, calibration, size of the load).
type device struct {
	key       uint64
	kind      Kind
	number    uint16
	phase     int64 // ms after the slot start at which the device samples
	jitterMax int64 // ms of scheduling delay at most, exclusive
	// The clock drifts at ±driftPPM and is slewed back, a triangle wave of
	// period driftPeriod: the offset stays in [0, driftPPM*driftPeriod/2].
	driftPPM    float64
	driftPeriod int64
	driftPhase  int64
	p           [4]float64 // kind-specific parameters, see newDevice
}

// Site is one gateway's location and the devices behind it. Its readings
// depend only on the seed, the province, the gateway number, the device count
// and the sample interval.
//
// A Site caches the weather of the last slot it computed, so it is not safe
// for concurrent use: each gateway owns its Site.
type Site struct {
	province province.Province
	gateway  string
	key      uint64 // this gateway's location
	provKey  uint64 // weather shared across the province
	clim     *climate
	elevC    float64 // temperature offset for elevation
	interval int64   // ms
	devices  []device
	w        weather
}

// NewSite builds gateway number gw (1-based) of province p with n devices
// sampled every interval. It returns an error for arguments outside the
// documented limits.
func NewSite(seed uint64, p province.Province, gw, n int, interval time.Duration) (*Site, error) {
	switch {
	case p.Region < province.North || p.Region > province.South:
		return nil, fmt.Errorf("cannot build site for province %q: unknown region %d", p.Slug, p.Region)
	case gw < 1 || gw > MaxGatewayNumber:
		return nil, fmt.Errorf("cannot build site: gateway number %d outside 1..%d", gw, MaxGatewayNumber)
	case n < 1 || n > MaxDevices:
		return nil, fmt.Errorf("cannot build site: %d devices outside 1..%d", n, MaxDevices)
	case interval < MinInterval || interval%time.Millisecond != 0:
		return nil, fmt.Errorf("cannot build site: interval %v is not a whole number of ms >= %v", interval, MinInterval)
	}
	s := &Site{
		province: p,
		gateway:  GatewayID(p, gw),
		provKey:  mix(seed ^ stringKey(p.Slug)),
		clim:     &climates[p.Region],
		elevC:    -6.5 * elevation[p.Slug] / 1000,
		interval: interval.Milliseconds(),
	}
	s.key = mix(s.provKey + uint64(gw)*golden)
	s.devices = make([]device, n)
	kindsOf := s.kindMix(n)
	var serial [NumKinds + 1]uint16
	for k := Kind(1); k <= NumKinds; k++ {
		serial[k] = uint16(1 + hash3(s.key, sSerial, int64(k))%5000)
	}
	for i := range s.devices {
		k := kindsOf[i]
		s.devices[i] = s.newDevice(i, k, serial[k])
		serial[k]++
	}
	return s, nil
}

// MinInterval is the shortest sample interval: jitter is capped at a quarter
// of the interval, and timestamps of one device must stay strictly increasing
// at millisecond resolution.
const MinInterval = 10 * time.Millisecond

// kindMix assigns kinds to n devices: counts follow kindShare by largest
// remainder (every kind present once n >= NumKinds), order shuffled. The
// floors plus the at-least-one bumps never exceed n, so only remainders are
// handed out.
func (s *Site) kindMix(n int) []Kind {
	var count [NumKinds + 1]int
	total := 0
	for k := Kind(1); k <= NumKinds; k++ {
		count[k] = n * kindShare[k] / 100
		if n >= NumKinds && count[k] == 0 {
			count[k] = 1
		}
		total += count[k]
	}
	for k := Kind(1); total < n; k = k%NumKinds + 1 {
		count[k]++
		total++
	}
	out := make([]Kind, 0, n)
	for k := Kind(1); k <= NumKinds; k++ {
		for range count[k] {
			out = append(out, k)
		}
	}
	for i := len(out) - 1; i > 0; i-- {
		j := int(hash3(s.key, sKindMix, int64(i)) % uint64(i+1))
		out[i], out[j] = out[j], out[i]
	}
	return out
}

func (s *Site) newDevice(i int, k Kind, number uint16) device {
	key := mix(s.key ^ uint64(i+1)*golden)
	u := func(stream uint64) float64 { return unit(hash3(key, stream, 0)) }
	d := device{
		key:         key,
		kind:        k,
		number:      number,
		phase:       int64(u(sPhase) * float64(s.interval)),
		jitterMax:   min(3+int64(u(sJitterMax)*38), s.interval/4),
		driftPPM:    2 + 38*u(sDriftPPM),
		driftPeriod: int64((6 + 42*u(sDriftPeriod)) * msPerHour),
	}
	d.driftPhase = int64(u(sDriftPhase) * float64(d.driftPeriod))
	switch k {
	case Hydromet:
		d.p[0] = 1.6*u(sOffset) - 0.8 // temperature offset of the screen, °C
		d.p[1] = 5*u(sParamA) - 2.5   // humidity calibration offset, %
		d.p[2] = 0.5 + 5.5*u(sParamB) // river gauge datum: dry-season level, m
		d.p[3] = 0.8 + 3.2*u(sParamC) // flood-season rise, m
	case AirQuality:
		d.p[0] = 0.75 + 0.6*u(sOffset) // urban (high) or rural (low) placement
		d.p[1] = 1.3 + 0.6*u(sParamA)  // PM10/PM2.5 ratio
	case Power:
		d.p[0] = 0.4 * math.Exp(4.6*u(sOffset)) // mean load, kW: 0.4 to 40
		d.p[1] = math.Floor(5000 * u(sParamA))  // counter at installation, kWh
		// installed up to 1000 days before 2024-01-01
		install := float64(installEpoch) - 1000*u(sParamB)*msPerDay
		d.p[2] = loadIntegral(int64(install), s.clim.tempPeakDay)
		d.p[3] = 0.5 + 1.5*u(sParamC) // how much the supply sags under load
	case Agri:
		d.p[0] = 12*u(sOffset) - 6 // soil type and placement offset, %
	}
	return d
}

// installEpoch is 2024-01-01T00:00:00Z in Unix ms.
const installEpoch = 1_704_067_200_000

// Province returns the site's province.
func (s *Site) Province() province.Province { return s.province }

// Gateway returns the gateway id.
func (s *Site) Gateway() string { return s.gateway }

// Devices returns the number of devices.
func (s *Site) Devices() int { return len(s.devices) }

// Device returns the kind and serial number of device i.
func (s *Site) Device(i int) (Kind, uint16) {
	return s.devices[i].kind, s.devices[i].number
}

// Interval returns the sample interval in ms.
func (s *Site) Interval() int64 { return s.interval }

// SlotTime returns the nominal start of slot k in Unix ms: slots are aligned
// to the Unix epoch, so slot k of every device of every run covers the same
// instants.
func (s *Site) SlotTime(k int64) int64 { return k * s.interval }

// FirstSlot returns the first slot that starts at or after tms.
func (s *Site) FirstSlot(tms int64) int64 {
	return -floorDiv(-tms, s.interval)
}
