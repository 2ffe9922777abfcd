// Package wire encodes batches into the payloads a gateway publishes and
// names the topics it publishes them on: JSON batches, InfluxDB line
// protocol, Sparkplug B sessions (births, data, deaths), and payloads that
// are deliberately malformed for fault tests. It decodes one thing: a
// Sparkplug NCMD asking for a rebirth.
//
// All encoders are append-style: they take dst, append one payload and
// return the extended slice; they never keep dst or the batch.
package wire

import (
	"fmt"
	"strconv"
)

// Format is a wire format; the topic names it.
type Format uint8

// Formats a gateway can speak.
const (
	JSON         Format = iota + 1 // telemetry/<province>/<gateway>/json
	LineProtocol                   // telemetry/<province>/<gateway>/lp
	Sparkplug                      // spBv1.0/<province>/<type>/<gateway>[/<device>]
)

// ParseFormat parses a format name as the command line spells it:
// "json", "lp" or "sparkplug".
func ParseFormat(s string) (Format, error) {
	switch s {
	case "json":
		return JSON, nil
	case "lp":
		return LineProtocol, nil
	case "sparkplug":
		return Sparkplug, nil
	}
	return 0, fmt.Errorf("cannot parse format %q: want json, lp or sparkplug", s)
}

// String returns the name ParseFormat accepts.
func (f Format) String() string {
	switch f {
	case JSON:
		return "json"
	case LineProtocol:
		return "lp"
	case Sparkplug:
		return "sparkplug"
	}
	return "format(" + strconv.Itoa(int(f)) + ")"
}

// Valid reports whether f is a defined format.
func (f Format) Valid() bool { return f >= JSON && f <= Sparkplug }

// Topic returns the topic a gateway publishes JSON or line-protocol batches
// on. Sparkplug topics depend on the message type; see the Sparkplug encoder.
func Topic(f Format, provinceSlug, gateway string) string {
	return "telemetry/" + provinceSlug + "/" + gateway + "/" + f.String()
}

// ErrorsTopic returns the topic on which the platform tells a gateway why it
// refused a message.
func ErrorsTopic(provinceSlug, gateway string) string {
	return "telemetry/" + provinceSlug + "/" + gateway + "/errors"
}

var pow10 = [...]uint64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9}

// AppendDecimal appends mantissa/10^scale as a plain decimal with no
// exponent and no trailing zeros after the point (274, 1 -> "27.4";
// 230, 2 -> "2.3"; 5, 0 -> "5"). The text parses back to exactly the value
// the sensor measured.
func AppendDecimal(dst []byte, mantissa int64, scale int) []byte {
	if scale == 0 {
		return strconv.AppendInt(dst, mantissa, 10)
	}
	u := uint64(mantissa)
	if mantissa < 0 {
		dst = append(dst, '-')
		u = uint64(-mantissa)
	}
	p := pow10[scale]
	dst = strconv.AppendUint(dst, u/p, 10)
	frac := u % p
	if frac == 0 {
		return dst
	}
	for frac%10 == 0 {
		frac /= 10
		scale--
	}
	dst = append(dst, '.')
	for d := scale - 1; d >= 0; d-- {
		dst = append(dst, byte('0'+frac/pow10[d]%10))
	}
	return dst
}
