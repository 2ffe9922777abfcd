package lineproto

// Name checks run once per field or tag on the hot path, so they are byte
// loops over a lookup table rather than regular expressions. The same rules
// hold in every decoder of package ingest; see docs/payload-formats.md.

const (
	nameFirst = 1 << iota // may start a metric name: [a-zA-Z_:]
	nameRest              // may follow in a metric name: [a-zA-Z0-9_:]
	keyFirst              // may start a tag key: [a-zA-Z_]
	keyRest               // may follow in a tag key: [a-zA-Z0-9_]
)

// charClass maps a byte to the name positions it may take. It is filled in
// once and never written afterwards.
var charClass = func() (t [256]uint8) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = nameFirst | nameRest | keyFirst | keyRest
		t[c-'a'+'A'] = nameFirst | nameRest | keyFirst | keyRest
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = nameRest | keyRest
	}
	t['_'] = nameFirst | nameRest | keyFirst | keyRest
	t[':'] = nameFirst | nameRest
	return t
}()

// validMetricName reports whether b matches [a-zA-Z_:][a-zA-Z0-9_:]*.
func validMetricName(b []byte) bool {
	if len(b) == 0 || charClass[b[0]]&nameFirst == 0 {
		return false
	}
	for _, c := range b[1:] {
		if charClass[c]&nameRest == 0 {
			return false
		}
	}
	return true
}

// validTagKey reports whether b matches [a-zA-Z_][a-zA-Z0-9_]*.
func validTagKey(b []byte) bool {
	if len(b) == 0 || charClass[b[0]]&keyFirst == 0 {
		return false
	}
	for _, c := range b[1:] {
		if charClass[c]&keyRest == 0 {
			return false
		}
	}
	return true
}

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
