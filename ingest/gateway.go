package ingest

// MaxGatewayIDLen bounds a gateway id. The id is also the gateway's MQTT
// client id, a topic level and the value of its series' gateway label.
const MaxGatewayIDLen = 64

// ValidGatewayID reports whether id is a well-formed gateway id: 1 to
// MaxGatewayIDLen ASCII letters, digits, '-' or '_'. The broker, the
// tokens file and relayed series all hold gateway ids to this one rule. It
// does not allocate.
func ValidGatewayID(id string) bool {
	if id == "" || len(id) > MaxGatewayIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
