// Package sensor models the field devices behind a simulated provincial
// gateway: which kinds of device exist, which sensors each carries, the metric
// name, resolution and unit of every sensor, and the climate that drives their
// readings.
//
// Every value is a pure function of (seed, gateway, device, slot): there is no
// hidden state that depends on the order in which readings are produced, so a
// reading can be regenerated at any time and two runs with the same seed agree
// byte for byte. Values are kept as integer mantissas at each sensor's real
// resolution, so they are exact decimals from sensor to wire to store.
package sensor

import "strconv"

// Kind is a type of field device. The zero Kind is invalid.
type Kind uint8

// The device kinds a gateway can have behind it.
const (
	Hydromet   Kind = iota + 1 // hydro-meteorological station: rain gauge, river gauge, weather sensors
	AirQuality                 // particulate matter monitor
	Power                      // electricity meter
	Agri                       // agricultural soil node
)

// NumKinds is the number of valid kinds; kinds run from 1 to NumKinds.
const NumKinds = 4

// MaxFields is the largest number of sensors on one device (a hydromet station).
const MaxFields = 5

// Field describes one sensor on a device: the Prometheus-style metric name
// (with its unit suffix) and the resolution at which the sensor reports.
type Field struct {
	Metric string
	// Scale is the number of decimal digits of the resolution: a value is
	// its integer mantissa divided by 10^Scale.
	Scale int
	// Step is the mantissa granularity: 2 for a rain gauge whose bucket tips
	// at 0.2 mm (Scale 1), 1 for every other sensor.
	Step int64
	// Counter is true for monotonic totals (energy_kilowatt_hours_total).
	Counter bool
	// Unit is the unit as people write it, for documentation.
	Unit string
}

// KindInfo describes a kind of device.
type KindInfo struct {
	// Name is the value of the kind tag the gateway sends with each reading.
	Name string
	// Prefix starts every device id of this kind: aws-0193.
	Prefix string
	// Fields are the device's sensors, in the order of Reading.Values.
	Fields []Field
}

// kinds is read-only after package initialisation.
var kinds = [NumKinds + 1]KindInfo{
	Hydromet: {Name: "hydromet", Prefix: "aws", Fields: []Field{
		{Metric: "air_temperature_celsius", Scale: 1, Step: 1, Unit: "°C"},
		{Metric: "relative_humidity_percent", Scale: 1, Step: 1, Unit: "%"},
		{Metric: "rainfall_mm", Scale: 1, Step: 2, Unit: "mm"},
		{Metric: "river_water_level_meters", Scale: 2, Step: 1, Unit: "m"},
		{Metric: "wind_speed_meters_per_second", Scale: 1, Step: 1, Unit: "m/s"},
	}},
	AirQuality: {Name: "air_quality", Prefix: "aqm", Fields: []Field{
		{Metric: "pm2_5_micrograms_per_cubic_meter", Scale: 1, Step: 1, Unit: "µg/m³"},
		{Metric: "pm10_micrograms_per_cubic_meter", Scale: 0, Step: 1, Unit: "µg/m³"},
	}},
	Power: {Name: "power", Prefix: "pwr", Fields: []Field{
		{Metric: "energy_kilowatt_hours_total", Scale: 2, Step: 1, Counter: true, Unit: "kWh"},
		{Metric: "voltage_volts", Scale: 1, Step: 1, Unit: "V"},
	}},
	Agri: {Name: "agri", Prefix: "agr", Fields: []Field{
		{Metric: "soil_moisture_percent", Scale: 1, Step: 1, Unit: "%"},
	}},
}

// Valid reports whether k is a defined kind.
func (k Kind) Valid() bool { return k >= 1 && k <= NumKinds }

// Info returns the description of k. It panics if k is not Valid: kinds come
// from the generator or from a decoder that has already checked them.
func (k Kind) Info() *KindInfo {
	if !k.Valid() {
		panic("BUG: sensor: invalid kind " + strconv.Itoa(int(k)))
	}
	return &kinds[k]
}

// Fields returns the sensors of k. The caller must not modify the slice.
func (k Kind) Fields() []Field { return k.Info().Fields }

// String returns the kind's tag value, or "kind(N)" for an invalid kind.
func (k Kind) String() string {
	if !k.Valid() {
		return "kind(" + strconv.Itoa(int(k)) + ")"
	}
	return kinds[k].Name
}

// MaxDeviceNumber is the largest device serial number: ids have four digits.
const MaxDeviceNumber = 9999

// Reading is what one device measured at one instant: one value per field of
// its kind. It holds no pointers, so slices of readings cost the garbage
// collector nothing and can be reused without clearing.
type Reading struct {
	// TS is the device's own timestamp in Unix milliseconds: the nominal
	// sampling instant plus the device clock's drift and sampling jitter.
	TS int64
	// Values are the mantissas of the kind's fields in order; a value is
	// Values[i] / 10^Fields()[i].Scale. Entries past the kind's field count
	// are zero.
	Values [MaxFields]int64
	Kind   Kind
	// Device is the device's serial number, 1..MaxDeviceNumber, unique per
	// kind within its gateway.
	Device uint16
}

// AppendDeviceID appends the device id (prefix, '-', four digits: aws-0193)
// to dst and returns the extended slice.
func (r *Reading) AppendDeviceID(dst []byte) []byte {
	return AppendDeviceID(dst, r.Kind, r.Device)
}

// AppendDeviceID appends the id of device number n of kind k to dst.
func AppendDeviceID(dst []byte, k Kind, n uint16) []byte {
	dst = append(dst, k.Info().Prefix...)
	return append(dst, '-',
		byte('0'+n/1000%10), byte('0'+n/100%10), byte('0'+n/10%10), byte('0'+n%10))
}

// Float returns field i of r as a float64: the nearest float64 to the exact
// decimal mantissa/10^scale, the same value strconv.ParseFloat gives for the
// decimal text the encoders write.
func (r *Reading) Float(i int) float64 {
	return Decimal(r.Values[i], r.Kind.Fields()[i].Scale)
}

var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9}

// Decimal returns mantissa/10^scale as the nearest float64. Both operands are
// exact in float64 (|mantissa| < 2^53, scale <= 9), so the one IEEE division
// rounds correctly.
func Decimal(mantissa int64, scale int) float64 {
	return float64(mantissa) / pow10[scale]
}
