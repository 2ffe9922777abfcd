// Package simbench gives the ingest benchmarks realistic input and common
// units: payloads built from the gateway simulator's sensor model
// (gateway-firmware-sim/sensor) with the simulator's own encoders
// (gateway-firmware-sim/wire), and the rates of docs/ingest.md (readings
// and samples per second). Only benchmarks and tests import it.
//
// A reading is one device's record at one time; it carries one value per
// field of the device's kind (hydromet station 5, air quality 2, power
// meter 2, soil 1), and each value is one sample.
package simbench

import (
	"fmt"
	"strconv"
	"time"

	"github.com/quantrac/quantrac/gateway-firmware-sim/batch"
	"github.com/quantrac/quantrac/gateway-firmware-sim/sensor"
	"github.com/quantrac/quantrac/gateway-firmware-sim/wire"
	"github.com/quantrac/quantrac/province"
)

// Province and Gateway are the simulated gateway's identity.
const (
	Province = "ha-noi"
	Gateway  = "hn-gw-001"
)

// Devices is the number of devices behind the simulated gateway.
const Devices = 100

// Mix selects the kinds of device a payload's readings come from.
type Mix struct {
	Name string
	// Kind is the only kind read, or 0 for all devices in the simulator's
	// mix of kinds (30% hydromet, 20% air quality, 35% power, 15% soil:
	// 2.75 fields per reading on average).
	Kind sensor.Kind
}

// Mixes are the two mixes every ingest benchmark runs: 5-field hydromet
// stations only, and the simulator's mix of kinds.
var Mixes = []Mix{{"hydromet", sensor.Hydromet}, {"mix", 0}}

// Site returns the simulated gateway: Devices devices sampled once a minute.
func Site() *sensor.Site {
	p, ok := province.Lookup(Province)
	if !ok {
		panic("BUG: simbench: unknown province " + Province)
	}
	s, err := sensor.NewSite(1, p, 1, Devices, time.Minute)
	if err != nil {
		panic(fmt.Sprintf("BUG: simbench: %v", err))
	}
	if s.Gateway() != Gateway {
		panic("BUG: simbench: the site is gateway " + s.Gateway())
	}
	return s
}

// Readings returns n readings of the site from start (Unix ms) on: the
// devices of kind (all when 0) in order, slot after slot, as a gateway
// batches them. A 100-reading batch of one kind spans several slots, as
// when a gateway publishes less often than its devices sample.
func Readings(n int, kind sensor.Kind, start int64) []sensor.Reading {
	s := Site()
	out := make([]sensor.Reading, 0, n)
	for k := s.FirstSlot(start); len(out) < n; k++ {
		for i := 0; i < s.Devices() && len(out) < n; i++ {
			if kd, _ := s.Device(i); kind != 0 && kd != kind {
				continue
			}
			var r sensor.Reading
			s.Read(k, i, &r)
			out = append(out, r)
		}
	}
	return out
}

// Samples counts the field values of readings.
func Samples(rs []sensor.Reading) int {
	return (&batch.Batch{Readings: rs}).Samples()
}

// JSON encodes readings as the simulator publishes them on the JSON topic.
func JSON(rs []sensor.Reading) []byte {
	return wire.AppendJSON(nil, &batch.Batch{Seq: 7, Readings: rs})
}

// LinePerField encodes readings as the simulator publishes them on the
// line-protocol topic: one line per field, the metric as measurement and
// the value in a field named value, so a 5-field reading is 5 lines.
func LinePerField(rs []sensor.Reading) []byte {
	return wire.AppendLineProtocol(nil, &batch.Batch{Readings: rs})
}

// ReadingPerLine encodes readings one line per reading with all its fields,
// the layout of Telegraf and most gateways, nanosecond timestamps:
//
//	hydromet,device=aws-0193,kind=hydromet air_temperature_celsius=27.4,... 1764720000123000000
func ReadingPerLine(rs []sensor.Reading) []byte {
	var b []byte
	for i := range rs {
		r := &rs[i]
		info := r.Kind.Info()
		b = append(b, info.Name...)
		b = append(b, ",device="...)
		b = r.AppendDeviceID(b)
		b = append(b, ",kind="...)
		b = append(b, info.Name...)
		for f, field := range info.Fields {
			sep := byte(',')
			if f == 0 {
				sep = ' '
			}
			b = append(b, sep)
			b = append(b, field.Metric...)
			b = append(b, '=')
			b = wire.AppendDecimal(b, r.Values[f], field.Scale)
		}
		b = append(b, ' ')
		b = strconv.AppendInt(b, r.TS, 10)
		b = append(b, "000000\n"...)
	}
	return b
}

// Layout is a line-protocol layout.
type Layout struct {
	Name   string
	Encode func([]sensor.Reading) []byte
}

// Layouts are the two line-protocol layouts the benchmarks run.
var Layouts = []Layout{{"reading-per-line", ReadingPerLine}, {"line-per-field", LinePerField}}
