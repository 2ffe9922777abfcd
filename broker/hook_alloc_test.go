package broker

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/stretchr/testify/require"

	"github.com/quantrac/quantrac/ingest/pipeline"
	"github.com/quantrac/quantrac/tsdb"
)

// TestOnPublishDoesNotAllocate: a QoS 0 publish on a data topic, accepted,
// goes through the hook, the pipeline and into the store's next commit
// group without an allocation of the hook's own (mochi allocates the packet
// before the hook sees it).
func TestOnPublishDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not held under -race")
	}
	quiet := slog.New(slog.DiscardHandler)
	db, err := tsdb.Open(tsdb.Options{Dir: t.TempDir(), Logger: quiet})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	p, err := pipeline.New(pipeline.Options{Store: db, Logger: quiet})
	require.NoError(t, err)
	b, err := Start(Options{TCPAddr: "127.0.0.1:0", AllowAnonymous: true, Pipeline: p, Logger: quiet,
		Settings: Settings{RateLimit: -1}})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.Close()) })

	cl := b.mqtt.NewClient(nil, "t", "hn-gw-001", false)
	b.sessions.Store(cl, &session{})
	const runs = 200
	payloads := make([][]byte, runs+1)
	ts := time.Now().Add(-time.Minute).UnixMilli()
	for i := range payloads {
		payloads[i] = fmt.Appendf(nil, `{"seq":%d,"readings":[{"device":"aws-0001","ts":%d,`+
			`"tags":{"kind":"hydromet"},"fields":{"air_temperature_celsius":27.4,"rainfall_mm":0.2}}]}`, i, ts+int64(i))
	}
	i := 0
	publish := func() {
		pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish},
			TopicName: "telemetry/ha-noi/hn-gw-001/json", Payload: payloads[i]}
		i++
		if _, err := b.hook.OnPublish(cl, pk); err != nil {
			t.Fatal(err)
		}
	}
	publish() // the first creates the series
	allocs := testing.AllocsPerRun(runs-1, publish)
	require.Zero(t, allocs)
	require.Equal(t, int64(runs+1), b.stats.messages.Load())
}
