package ingest

// Name checks run once per field or tag on the hot path of every decoder,
// so they are byte loops over a lookup table rather than regular
// expressions. docs/payload-formats.md states the rules.

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

// ValidMetricName reports whether b matches [a-zA-Z_:][a-zA-Z0-9_:]*, the
// Prometheus metric name syntax.
func ValidMetricName(b []byte) bool {
	return len(b) > 0 && charClass[b[0]]&nameFirst != 0 && ValidMetricNameTail(b[1:])
}

// ValidMetricNameTail reports whether every byte of b may follow the first
// byte of a metric name, so that a valid name followed by b is valid.
func ValidMetricNameTail(b []byte) bool {
	for _, c := range b {
		if charClass[c]&nameRest == 0 {
			return false
		}
	}
	return true
}

// ValidTagKey reports whether b matches [a-zA-Z_][a-zA-Z0-9_]*, the
// Prometheus label name syntax.
func ValidTagKey(b []byte) bool {
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
