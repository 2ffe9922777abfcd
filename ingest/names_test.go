package ingest

import "testing"

func TestNameRules(t *testing.T) {
	for _, tt := range []struct {
		name         string
		metric, key  bool
		tailOfMetric bool
	}{
		{"air_temperature_celsius", true, true, true},
		{"job:rate5m", true, false, true},
		{"_private", true, true, true},
		{"9lives", false, false, true},
		{":x", true, false, true},
		{"", false, false, true},
		{"pm2.5", false, false, false},
		{"nhiệt_độ", false, false, false},
		{"a-b", false, false, false},
		{"a b", false, false, false},
	} {
		b := []byte(tt.name)
		if got := ValidMetricName(b); got != tt.metric {
			t.Errorf("ValidMetricName(%q) = %v", tt.name, got)
		}
		if got := ValidTagKey(b); got != tt.key {
			t.Errorf("ValidTagKey(%q) = %v", tt.name, got)
		}
		if got := ValidMetricNameTail(b); got != tt.tailOfMetric {
			t.Errorf("ValidMetricNameTail(%q) = %v", tt.name, got)
		}
	}
}

func TestNameChecksDoNotAllocate(t *testing.T) {
	b := []byte("relative_humidity_percent")
	if n := testing.AllocsPerRun(100, func() {
		if !ValidMetricName(b) || !ValidTagKey(b) {
			t.Fatal("valid name refused")
		}
	}); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}
