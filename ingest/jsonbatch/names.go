package jsonbatch

// reservedTagKey reports whether a payload may not set the tag key b:
// province and gateway come from the authenticated topic, device from the
// reading's own "device" member, and names starting with "__" (such as
// __name__) are reserved for the platform, as in Prometheus.
func reservedTagKey(b []byte) bool {
	switch string(b) {
	case "province", "gateway", "device":
		return true
	}
	return len(b) >= 2 && b[0] == '_' && b[1] == '_'
}
