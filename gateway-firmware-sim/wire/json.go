package wire

import (
	"strconv"

	"github.com/quantrac/quantrac/gateway-firmware-sim/batch"
)

// AppendJSON appends b as a JSON batch:
//
//	{"seq":42,"readings":[{"device":"aws-0193","ts":1764748800123,
//	  "tags":{"kind":"hydromet"},"fields":{"air_temperature_celsius":27.4,...}}]}
//
// ts is Unix milliseconds; field values are exact decimals at the sensor's
// resolution. Device ids, kinds and metric names need no JSON escaping.
func AppendJSON(dst []byte, b *batch.Batch) []byte {
	dst = append(dst, `{"seq":`...)
	dst = strconv.AppendUint(dst, b.Seq, 10)
	dst = append(dst, `,"readings":[`...)
	for i := range b.Readings {
		r := &b.Readings[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"device":"`...)
		dst = r.AppendDeviceID(dst)
		dst = append(dst, `","ts":`...)
		dst = strconv.AppendInt(dst, r.TS, 10)
		dst = append(dst, `,"tags":{"kind":"`...)
		info := r.Kind.Info()
		dst = append(dst, info.Name...)
		dst = append(dst, `"},"fields":{`...)
		for f, field := range info.Fields {
			if f > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, '"')
			dst = append(dst, field.Metric...)
			dst = append(dst, `":`...)
			dst = AppendDecimal(dst, r.Values[f], field.Scale)
		}
		dst = append(dst, "}}"...)
	}
	return append(dst, "]}"...)
}
