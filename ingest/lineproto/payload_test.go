package lineproto

import (
	"fmt"
	"strconv"
)

var hydrometFields = []string{
	"air_temperature_celsius", "relative_humidity_percent", "air_pressure_hpa",
	"wind_speed_mps", "rainfall_mm", "door_open",
}

// realisticLines builds n lines as Telegraf would send them from a weather
// station gateway: two tags, the given number of fields, nanosecond
// timestamps.
func realisticLines(n, fields int) []byte {
	var b []byte
	ts := int64(1764748800123) * 1e6
	for i := range n {
		b = fmt.Appendf(b, "weather,device=aws-%04d,kind=hydromet ", i/4)
		for f := range fields {
			if f > 0 {
				b = append(b, ',')
			}
			name := hydrometFields[f%len(hydrometFields)]
			b = append(b, name...)
			b = append(b, '=')
			if name == "door_open" {
				b = strconv.AppendBool(b, i%7 == 0)
			} else {
				b = strconv.AppendFloat(b, 20+float64((i*31+f*7)%1000)/10, 'f', -1, 64)
			}
		}
		b = append(b, ' ')
		b = strconv.AppendInt(b, ts+int64(i)*250e6, 10)
		b = append(b, '\n')
	}
	return b
}
