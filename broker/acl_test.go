package broker

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quantrac/quantrac/ingest/pipeline"
)

var hn = pipeline.Identity{Province: "ha-noi", Gateway: "hn-gw-001"}

func TestMayPublish(t *testing.T) {
	tests := []struct {
		topic string
		want  bool
	}{
		{"telemetry/ha-noi/hn-gw-001/json", true},
		{"telemetry/ha-noi/hn-gw-001/lp", true},
		{"spBv1.0/ha-noi/NBIRTH/hn-gw-001", true},
		{"spBv1.0/ha-noi/NDATA/hn-gw-001", true},
		{"spBv1.0/ha-noi/NDEATH/hn-gw-001", true},
		{"spBv1.0/ha-noi/DBIRTH/hn-gw-001/pump-1", true},
		{"spBv1.0/ha-noi/DDATA/hn-gw-001/pump-1", true},
		{"spBv1.0/ha-noi/DDEATH/hn-gw-001/pump-1", true},

		{"telemetry/ha-noi/hn-gw-002/json", false},
		{"telemetry/hue/hn-gw-001/json", false},
		{"telemetry/ha-noi/hn-gw-001/errors", false},
		{"telemetry/ha-noi/hn-gw-001/cmd/x", false},
		{"telemetry/ha-noi/hn-gw-001/json/extra", false},
		{"telemetry/ha-noi/hn-gw-001", false},
		{"telemetry/ha-noi", false},
		{"spBv1.0/ha-noi/NCMD/hn-gw-001", false},
		{"spBv1.0/ha-noi/DCMD/hn-gw-001/pump-1", false},
		{"spBv1.0/ha-noi/NDATA/hn-gw-001/extra", false},
		{"spBv1.0/ha-noi/DDATA/hn-gw-001", false},
		{"spBv1.0/ha-noi/DDATA/hn-gw-001/a/b", false},
		{"spBv1.0/ha-noi/DDATA/hn-gw-001/", false},
		{"spBv1.0/STATE/host", false},
		{"spBv1.0/hue/NDATA/hn-gw-001", false},
		{"other/ha-noi/hn-gw-001/json", false},
		{"", false},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, mayPublish(hn, tt.topic), tt.topic)
	}
}

func TestMayRead(t *testing.T) {
	p := readPatterns(hn)
	tests := []struct {
		filter string
		want   bool
	}{
		{"telemetry/ha-noi/hn-gw-001/errors", true},
		{"telemetry/ha-noi/hn-gw-001/cmd/#", true},
		{"telemetry/ha-noi/hn-gw-001/cmd/+", true},
		{"telemetry/ha-noi/hn-gw-001/cmd/reboot", true},
		{"telemetry/ha-noi/hn-gw-001/cmd/a/b/c", true},
		{"telemetry/ha-noi/hn-gw-001/cmd", true}, // "cmd/#" matches its parent
		{"spBv1.0/ha-noi/NCMD/hn-gw-001", true},
		{"spBv1.0/ha-noi/DCMD/hn-gw-001/+", true},
		{"spBv1.0/ha-noi/DCMD/hn-gw-001/pump-1", true},
		{"spBv1.0/STATE/+", true},
		{"spBv1.0/STATE/scada-1", true},

		{"telemetry/ha-noi/hn-gw-001/#", false},
		{"telemetry/ha-noi/hn-gw-001/+", false},
		{"telemetry/ha-noi/+/errors", false},
		{"telemetry/+/hn-gw-001/errors", false},
		{"telemetry/ha-noi/hn-gw-001/json", false},
		{"telemetry/ha-noi/hn-gw-002/errors", false},
		{"spBv1.0/ha-noi/DCMD/hn-gw-001/#", false},
		{"spBv1.0/ha-noi/DCMD/hn-gw-001/a/b", false},
		{"spBv1.0/ha-noi/NCMD/+", false},
		{"spBv1.0/STATE/#", false},
		{"spBv1.0/#", false},
		{"#", false},
		{"+/+/+/+", false},
		{"$SYS/#", false},
		{"$share/g/telemetry/ha-noi/hn-gw-001/errors", false},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, mayRead(p, tt.filter), tt.filter)
	}
}

func TestCovers(t *testing.T) {
	tests := []struct {
		pattern, filter string
		want            bool
	}{
		{"a/b", "a/b", true},
		{"a/+", "a/b", true},
		{"a/+", "a/+", true},
		{"a/#", "a", true},
		{"a/#", "a/#", true},
		{"a/#", "a/+/c", true},
		{"#", "anything/at/all", true},
		{"a/b", "a/+", false},
		{"a/+", "a/#", false},
		{"a/+", "a/b/c", false},
		{"a/b/c", "a/b", false},
		{"a/b", "a/b/c", false},
		{"a/+/c", "a/b/#", false},
		{"a/b", "a/c", false},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, covers(tt.pattern, tt.filter), "%s covers %s", tt.pattern, tt.filter)
	}
}

// The checks run for every publish and every delivery: they must not
// allocate.
func TestACLChecksDoNotAllocate(t *testing.T) {
	p := readPatterns(hn)
	allocs := testing.AllocsPerRun(100, func() {
		_ = mayPublish(hn, "telemetry/ha-noi/hn-gw-001/json")
		_ = mayPublish(hn, "spBv1.0/ha-noi/DDATA/hn-gw-001/pump-1")
		_ = mayRead(p, "telemetry/ha-noi/hn-gw-001/cmd/reboot")
		_ = mayRead(p, "telemetry/ha-noi/#")
	})
	require.Zero(t, allocs)
}

func BenchmarkMayPublish(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if !mayPublish(hn, "telemetry/ha-noi/hn-gw-001/json") {
			b.Fatal("refused")
		}
	}
}
