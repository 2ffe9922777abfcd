package wire

import (
	"strconv"

	"github.com/quantrac/quantrac/gateway-firmware-sim/batch"
	"github.com/quantrac/quantrac/gateway-firmware-sim/sensor"
)

// MalformedVariants is the number of distinct malformed payloads per format.
const MalformedVariants = 4

// AppendMalformed appends a payload in format f that the platform must
// refuse as a whole: it carries a single reading and that reading is broken,
// so no sample of it can be stored. variant (taken modulo MalformedVariants)
// picks the defect: 0 truncated, 1 bad timestamp, 2 non-numeric value,
// 3 bytes that are not the format at all. The first reading of b, if any,
// lends its device id and timestamp so the payload looks like the real thing.
func AppendMalformed(dst []byte, f Format, variant uint64, b *batch.Batch) []byte {
	r := sensor.Reading{Kind: sensor.Hydromet, Device: 1, TS: 1764748800123}
	if len(b.Readings) > 0 {
		r = b.Readings[0]
	}
	metric := r.Kind.Fields()[0].Metric
	v := variant % MalformedVariants
	if v == 3 {
		return append(dst, 0xff, 0xfe, 0x00, 0x13, 0x37, 0xc0, 0xff, 0xee)
	}
	switch f {
	case JSON:
		dst = append(dst, `{"seq":`...)
		dst = strconv.AppendUint(dst, b.Seq, 10)
		dst = append(dst, `,"readings":[{"device":"`...)
		dst = r.AppendDeviceID(dst)
		dst = append(dst, `","ts":`...)
		if v == 1 {
			dst = append(dst, `"yesterday"`...)
		} else {
			dst = strconv.AppendInt(dst, r.TS, 10)
		}
		dst = append(dst, `,"fields":{"`...)
		dst = append(dst, metric...)
		dst = append(dst, `":`...)
		switch v {
		case 0:
			return dst // cut off before the value
		case 1:
			dst = append(dst, "27.4"...)
		case 2:
			dst = append(dst, `"warm"`...)
		}
		return append(dst, "}}]}"...)
	case LineProtocol:
		dst = append(dst, metric...)
		dst = append(dst, ",device="...)
		dst = r.AppendDeviceID(dst)
		switch v {
		case 0:
			return append(dst, " value="...) // cut off before the value
		case 1:
			return append(dst, " value=27.4 yesterday\n"...)
		default:
			dst = append(dst, " value=warm "...)
			dst = strconv.AppendInt(dst, r.TS, 10)
			return append(dst, "000000\n"...)
		}
	}
	// Sparkplug payloads are protobuf: an invalid wire type breaks them.
	return append(dst, 0x0f, 0xff, 0xff, 0xff, 0xff)
}
