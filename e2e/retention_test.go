package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/require"
)

// TestRetentionFlagDropsOldDays stores readings of today and of days ago,
// stops the node cleanly (which flushes them into daily partitions), and
// restarts it with --retention: the days past it are gone at once, whole,
// and the rest is served.
func TestRetentionFlagDropsOldDays(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the quantrac binary")
	}
	bin := buildQuantrac(t)
	dir := t.TempDir()
	n := startNode(t, bin, dir)

	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + n.mqttAddr).
		SetClientID("retention-gw").SetAutoReconnect(false).SetConnectTimeout(5 * time.Second))
	tok := c.Connect()
	require.True(t, tok.WaitTimeout(10*time.Second))
	require.NoError(t, tok.Error())
	now := time.Now()
	daysAgo := []int{0, 1, 4, 6} // a gateway's backlog reaches back six days
	var b strings.Builder
	b.WriteString(`{"readings":[`)
	for i, d := range daysAgo {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"device":"rg-1","ts":%d,"fields":{"rainfall_mm":%d.5}}`,
			now.Add(-time.Duration(d)*24*time.Hour).UnixMilli(), d)
	}
	b.WriteString("]}")
	tok = c.Publish("telemetry/hue/retention-gw/json", 1, false, b.String())
	require.True(t, tok.WaitTimeout(10*time.Second))
	require.NoError(t, tok.Error())
	c.Disconnect(0)
	n.stop(t)

	n = startNode(t, bin, dir, "--retention", "72h")
	defer n.stop(t)
	deadline := time.Now().Add(10 * time.Second)
	for unlabelledMetrics(t, n)["quantrac_tsdb_retention_partitions_dropped_total"] < 2 {
		require.True(t, time.Now().Before(deadline), "partitions past the retention were not dropped; log:\n%s", n.logs)
		time.Sleep(20 * time.Millisecond)
	}
	r := n.query(t, `rainfall_mm{gateway="retention-gw"}[8d]`, now.Add(time.Minute))
	require.Len(t, r.Data.Result, 1)
	var got []string
	for _, pair := range r.Data.Result[0].Values {
		got = append(got, pair[1].(string))
	}
	require.Equal(t, []string{"1.5", "0.5"}, got, "the days 4 and 6 back are dropped, the last two days kept")
	require.Equal(t, 2.0, unlabelledMetrics(t, n)["quantrac_tsdb_partitions"])
}
