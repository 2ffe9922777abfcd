package jsonbatch

import (
	"fmt"
	"strconv"
)

// hydrometFields are the fields of a realistic automatic weather station
// reading; the last one is a boolean.
var hydrometFields = []string{
	"air_temperature_celsius", "relative_humidity_percent", "air_pressure_hpa",
	"wind_speed_mps", "rainfall_mm", "door_open",
}

// realisticBatch builds a batch of n readings from n/4 devices with the
// given number of fields each, as a gateway would publish it.
func realisticBatch(n, fields int) []byte {
	b := []byte(`{"seq":4242,"readings":[`)
	ts := int64(1764748800123)
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = fmt.Appendf(b, `{"device":"aws-%04d","ts":%d,"tags":{"kind":"hydromet"},"fields":{`, i/4, ts+int64(i)*250)
		for f := range fields {
			if f > 0 {
				b = append(b, ',')
			}
			name := hydrometFields[f%len(hydrometFields)]
			b = strconv.AppendQuote(b, name)
			b = append(b, ':')
			if name == "door_open" {
				b = strconv.AppendBool(b, i%7 == 0)
			} else {
				b = strconv.AppendFloat(b, 20+float64((i*31+f*7)%1000)/10, 'f', -1, 64)
			}
		}
		b = append(b, "}}"...)
	}
	return append(b, "]}"...)
}
