package pipeline

import (
	"fmt"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
	"github.com/stretchr/testify/require"
)

type allProvinces struct{}

func (allProvinces) Allows(string) bool { return true }

// A relay writes several gateways' series in one request, so the order it
// records (each entry's successor) can lead from one gateway's series to
// another's with the same tags. A gateway's own message that follows that
// prediction must still land in its own series: a tag set is only trusted
// by the gateway that owns it.
func TestRelayedOrderCannotLeadIntoAnotherGateway(t *testing.T) {
	st := &memStore{done: doneCommit(t)}
	p := newTestPipeline(t, st)
	ts := now.Add(-time.Minute).UnixMilli()
	own := func(gw string, values ...int) {
		t.Helper()
		payload := `{"readings":[`
		for i, v := range values {
			if i > 0 {
				payload += ","
			}
			payload += fmt.Sprintf(`{"device":"d","ts":%d,"tags":{"site":"x"},"fields":{"m":%d}}`, ts+int64(i), v)
		}
		res, err := p.Ingest(&Message{Identity: Identity{"ha-noi", gw}, Format: FormatJSON, Payload: []byte(payload + "]}")}, true)
		require.NoError(t, err)
		require.Equal(t, len(values), res.Accepted)
	}
	own("gw-b", 0)
	own("gw-a", 1)

	relayed := func(gw string, v float64) prompb.TimeSeries {
		return prompb.TimeSeries{Labels: []prompb.Label{{Name: "__name__", Value: "m"}, {Name: "device", Value: "d"},
			{Name: "gateway", Value: gw}, {Name: "province", Value: "ha-noi"}, {Name: "site", Value: "x"}},
			Samples: []prompb.Sample{{Timestamp: ts + 10, Value: v}}}
	}
	raw, err := (&prompb.WriteRequest{Timeseries: []prompb.TimeSeries{relayed("gw-a", 1), relayed("gw-b", 0)}}).Marshal()
	require.NoError(t, err)
	res, err := p.Ingest(&Message{Identity: Identity{"ha-noi", "relay"}, Format: FormatRemoteWrite,
		Relay: allProvinces{}, Payload: snappy.Encode(nil, raw)}, true)
	require.NoError(t, err)
	require.Equal(t, 2, res.Accepted)

	// gw-a's series now has gw-b's as its successor.
	st.samples.Reset()
	own("gw-a", 1, 1, 1)
	require.Len(t, st.series, 2)
	for i, ref := range st.samples.Refs {
		require.Equal(t, "gw-a", st.lset(ref).Get("gateway"), "sample %d", i)
	}
}
