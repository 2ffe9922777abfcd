package pipeline

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quantrac/quantrac/ingest"
)

// A label value with NUL bytes could spell the key of another series of
// the same gateway ("device=d, site=x" against "device=d\0site\0x") and
// land in it on a cache hit, unchecked. It is refused instead, and the
// series it imitates gets nothing.
func TestNULInALabelValueCannotReachAnotherSeries(t *testing.T) {
	st := &memStore{done: doneCommit(t)}
	p := newTestPipeline(t, st)
	ts := now.Add(-time.Minute).UnixMilli()
	msg := func(payload string) *Message {
		return &Message{Identity: Identity{"ha-noi", "hn-gw-001"}, Format: FormatJSON, Payload: []byte(payload)}
	}

	res, err := p.Ingest(msg(fmt.Sprintf(`{"readings":[{"device":"d","ts":%d,"tags":{"site":"x"},"fields":{"m":1}}]}`, ts)), true)
	require.NoError(t, err)
	require.Equal(t, 1, res.Accepted)

	res, err = p.Ingest(msg(fmt.Sprintf(`{"readings":[{"device":"d\u0000site\u0000x","ts":%d,"fields":{"m":2}}]}`, ts+1)), true)
	require.NoError(t, err)
	require.Zero(t, res.Accepted)
	require.Equal(t, 1, res.Rejected)
	require.Equal(t, ingest.ReasonLabel, res.FirstReason)
	require.Len(t, st.series, 1)
	require.Equal(t, 1, st.samples.Len(), "the imitated series got a sample")
}
