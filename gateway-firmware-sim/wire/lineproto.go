package wire

import (
	"strconv"

	"github.com/quantrac/quantrac/gateway-firmware-sim/batch"
)

// AppendLineProtocol appends b as InfluxDB line protocol, one line per field
// of each reading:
//
//	air_temperature_celsius,device=aws-0193,kind=hydromet value=27.4 1764748800123000000
//
// The measurement is the metric name and the field is "value", so the
// platform's rule (metric = measurement_field, and a field named value gives
// just the measurement) yields the same metric names as the JSON format.
// Tags are in key order as the protocol recommends; the timestamp is in ns.
// The batch sequence number has no place in line protocol and is not sent.
func AppendLineProtocol(dst []byte, b *batch.Batch) []byte {
	for i := range b.Readings {
		r := &b.Readings[i]
		info := r.Kind.Info()
		for f, field := range info.Fields {
			dst = append(dst, field.Metric...)
			dst = append(dst, ",device="...)
			dst = r.AppendDeviceID(dst)
			dst = append(dst, ",kind="...)
			dst = append(dst, info.Name...)
			dst = append(dst, " value="...)
			dst = AppendDecimal(dst, r.Values[f], field.Scale)
			dst = append(dst, ' ')
			dst = strconv.AppendInt(dst, r.TS, 10)
			dst = append(dst, "000000\n"...)
		}
	}
	return dst
}
