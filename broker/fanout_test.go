package broker

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMayMatchData(t *testing.T) {
	for filter, want := range map[string]bool{
		"#":                                   true,
		"telemetry/#":                         true,
		"+/+/+/json":                          true,
		"telemetry/ha-noi/hn-gw-001/json":     true,
		"telemetry/ha-noi/hn-gw-001/json/#":   true, // "x/#" matches "x"
		"telemetry/+/+/lp":                    true,
		"$share/watchers/telemetry/+/+/json":  true,
		"spBv1.0/+/DDATA/#":                   true,
		"spBv1.0/ha-noi/+/hn-gw-001":          true, // NDATA among others
		"spBv1.0/ha-noi/+/hn-gw-001/pump-1":   true,
		"telemetry/ha-noi/hn-gw-001/errors":   false,
		"telemetry/ha-noi/hn-gw-001/cmd/#":    false,
		"telemetry/+/+/+/+":                   false,
		"telemetry/+":                         false,
		"spBv1.0/ha-noi/NCMD/hn-gw-001":       false,
		"spBv1.0/ha-noi/DCMD/hn-gw-001/+":     false,
		"spBv1.0/STATE/+":                     false,
		"$SYS/#":                              false,
		"$share/watchers/telemetry/+/+/error": false,
	} {
		require.Equal(t, want, mayMatchData(filter), filter)
	}
}

// TestMayMatchDataCoversEveryDataTopic: whenever a filter matches a topic
// the hook ingests, mayMatchData says so.
func TestMayMatchDataCoversEveryDataTopic(t *testing.T) {
	topics := []string{
		"telemetry/ha-noi/hn-gw-001/json", "telemetry/ca-mau/cm-gw-042/lp",
		"spBv1.0/ha-noi/NBIRTH/hn-gw-001", "spBv1.0/ha-noi/NDEATH/hn-gw-001", "spBv1.0/ha-noi/NDATA/hn-gw-001",
		"spBv1.0/ha-noi/DBIRTH/hn-gw-001/pump-1", "spBv1.0/ha-noi/DDEATH/hn-gw-001/pump-1",
		"spBv1.0/ha-noi/DDATA/hn-gw-001/pump-1",
	}
	var filters []string
	for _, tp := range topics {
		_, ok := parseDataTopic(tp)
		require.True(t, ok, tp)
		// Every filter that matches tp: each level as itself or "+", and
		// "#" from any level on.
		var gen func(acc, levels []string)
		gen = func(acc, levels []string) {
			if len(levels) == 0 {
				filters = append(filters, strings.Join(acc, "/"))
				return
			}
			filters = append(filters, strings.Join(append(acc[:len(acc):len(acc)], "#"), "/"))
			gen(append(acc[:len(acc):len(acc)], levels[0]), levels[1:])
			gen(append(acc[:len(acc):len(acc)], "+"), levels[1:])
		}
		gen(nil, strings.Split(tp, "/"))
	}
	for _, f := range filters {
		require.True(t, mayMatchData(f), f)
	}
	require.Greater(t, len(filters), 200)
}
