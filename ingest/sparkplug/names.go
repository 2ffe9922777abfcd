package sparkplug

// AppendMetricName appends to dst the Prometheus metric name for the
// Sparkplug metric name name, and returns the extended slice. The mapping
// is a stable contract (series names depend on it):
//
//   - ASCII letters are lower-cased; ASCII letters and digits are kept;
//   - every run of other bytes ('/', ' ', '_', '-', '.', ':', non-ASCII
//     UTF-8, ...) becomes one '_', and runs at either end are dropped;
//   - a name that would start with a digit gets a leading '_'.
//
// So "Sensors/Temperature Outdoor" becomes "sensors_temperature_outdoor"
// and "Node 2/Flow-Rate (m3/h)" becomes "node_2_flow_rate_m3_h". The result
// is empty when name has no ASCII letter or digit. Names that differ only in
// case or punctuation map to the same metric.
func AppendMetricName(dst, name []byte) []byte {
	start := len(dst)
	sep := false
	for _, c := range name {
		switch {
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		default:
			sep = true
			continue
		}
		if sep && len(dst) > start {
			dst = append(dst, '_')
		}
		sep = false
		dst = append(dst, c)
	}
	if len(dst) > start && dst[start] >= '0' && dst[start] <= '9' {
		dst = append(dst, 0)
		copy(dst[start+1:], dst[start:])
		dst[start] = '_'
	}
	return dst
}
