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

// A reading whose tags repeat a known tag set is resolved by comparing them
// with the set, without building its key (tagSet.is). Tags with NUL bytes
// that spell the same bytes in another split must not pass that comparison.
func TestNULInATagCannotPassForAPredictedTagSet(t *testing.T) {
	st := &memStore{done: doneCommit(t)}
	p := newTestPipeline(t, st)
	ts := now.Add(-time.Minute).UnixMilli()
	msg := func(readings string) *Message {
		return &Message{Identity: Identity{"ha-noi", "hn-gw-001"}, Format: FormatJSON,
			Payload: []byte(`{"readings":[` + readings + `]}`)}
	}
	good := fmt.Sprintf(`{"device":"d","ts":%d,"tags":{"site":"x"},"fields":{"m":1}}`, ts)
	res, err := p.Ingest(msg(good), true)
	require.NoError(t, err)
	require.Equal(t, 1, res.Accepted)

	for _, tags := range []string{
		`"device":"d\u0000site","tags":{"site":"x"}`,
		`"device":"d","tags":{"site":"x\u0000"}`,
		`"device":"d\u0000site\u0000x","tags":{"site":"x"}`,
		`"device":"d","tags":{"site":"x\u0000m"}`,
	} {
		// First in the message, the gateway's first series is predicted;
		// after the good reading, its successor is.
		for _, readings := range []string{
			fmt.Sprintf(`{%s,"ts":%d,"fields":{"m":2}}`, tags, ts+1),
			good + "," + fmt.Sprintf(`{%s,"ts":%d,"fields":{"m":2}}`, tags, ts+1),
		} {
			st.samples.Reset()
			res, err := p.Ingest(msg(readings), true)
			require.NoError(t, err, tags)
			require.Equal(t, 1, res.Rejected, tags)
			require.Equal(t, ingest.ReasonLabel, res.FirstReason, tags)
			for _, v := range st.samples.Vals {
				require.Equal(t, 1.0, v, "%s reached the series of the good reading", tags)
			}
		}
	}
	require.Len(t, st.series, 1)
}

// Tag order in the payload does not make another series, whether the
// reading is resolved by prediction or by its whole key.
func TestTagOrderDoesNotMatter(t *testing.T) {
	st := &memStore{done: doneCommit(t)}
	p := newTestPipeline(t, st)
	ts := now.Add(-time.Minute).UnixMilli()
	for i, tags := range []string{
		`{"site":"x","zone":"z"}`, `{"zone":"z","site":"x"}`, `{"zone":"z","site":"x"}`, `{"site":"x","zone":"z"}`,
	} {
		payload := fmt.Sprintf(`{"readings":[{"device":"d","ts":%d,"tags":%s,"fields":{"a":%d,"b":%d}},`+
			`{"device":"e","ts":%d,"tags":%s,"fields":{"a":%d,"b":%d}}]}`, ts+int64(i), tags, i, i, ts+int64(i), tags, i, i)
		res, err := p.Ingest(&Message{Identity: Identity{"ha-noi", "hn-gw-001"}, Format: FormatJSON, Payload: []byte(payload)}, true)
		require.NoError(t, err)
		require.Equal(t, 4, res.Accepted)
	}
	require.Len(t, st.series, 4)
	require.Equal(t, 16, st.samples.Len())
}
