package lineproto

// reservedTagKey reports whether a line may not set the tag key b: province
// and gateway come from the authenticated topic, and names starting with
// "__" (such as __name__) are reserved for the platform, as in Prometheus.
// Unlike the JSON format, line protocol has no other place for a device id,
// so its "device" tag is allowed and becomes the series' device label.
func reservedTagKey(b []byte) bool {
	switch string(b) {
	case "province", "gateway":
		return true
	}
	return len(b) >= 2 && b[0] == '_' && b[1] == '_'
}
