package ingest

import (
	"strings"
	"testing"
)

func TestValidGatewayID(t *testing.T) {
	for _, tt := range []struct {
		id   string
		want bool
	}{
		{"hn-gw-001", true},
		{"A_b-9", true},
		{strings.Repeat("g", MaxGatewayIDLen), true},
		{strings.Repeat("g", MaxGatewayIDLen+1), false},
		{"", false},
		{"hn gw", false},
		{"hn/gw", false},
		{"hn+gw", false},
		{"hn#", false},
		{"hà-nội", false},
		{"a.b", false},
	} {
		if got := ValidGatewayID(tt.id); got != tt.want {
			t.Errorf("ValidGatewayID(%q) = %v, want %v", tt.id, got, tt.want)
		}
	}
}
