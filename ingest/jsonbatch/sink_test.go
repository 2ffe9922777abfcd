package jsonbatch

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quantrac/quantrac/ingest"
)

// sample is a copied Sample call, printed compactly so that tables stay
// readable: `metric{k=v,...} ts value`.
type sample string

func fmtSample(metric []byte, tags []ingest.Tag, ts int64, v float64) sample {
	var b strings.Builder
	b.Write(metric)
	b.WriteByte('{')
	for i, t := range tags {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%s", t.Key, t.Value)
	}
	fmt.Fprintf(&b, "} %d %v", ts, v)
	return sample(b.String())
}

// recorder is a Sink that keeps copies of everything it is given.
type recorder struct {
	ingest.TagHolder
	samples []sample
	reasons []ingest.Reason
	errs    []error
}

func (r *recorder) Sample(metric []byte, ts int64, v float64) {
	tags := r.Current
	r.samples = append(r.samples, fmtSample(metric, tags, ts, v))
}

func (r *recorder) Invalid(why ingest.Reason, err error) {
	r.reasons = append(r.reasons, why)
	r.errs = append(r.errs, err)
}

// checkingSink enforces the Sink contract's invariants on every call; the
// fuzz target uses it.
type checkingSink struct {
	ingest.TagHolder
	t       *testing.T
	samples int
	invalid int
}

func (c *checkingSink) Sample(metric []byte, ts int64, v float64) {
	tags := c.Current
	c.samples++
	require.Truef(c.t, ingest.ValidMetricName(metric), "metric %q", metric)
	require.False(c.t, math.IsNaN(v) || math.IsInf(v, 0), "value %v", v)
	require.NotEmpty(c.t, tags)
	require.Equal(c.t, "device", string(tags[0].Key))
	for _, tg := range tags {
		require.Truef(c.t, ingest.ValidTagKey(tg.Key), "tag key %q", tg.Key)
	}
	for _, tg := range tags[1:] {
		require.Falsef(c.t, reservedTagKey(tg.Key), "reserved tag key %q", tg.Key)
	}
}

func (c *checkingSink) Invalid(why ingest.Reason, err error) {
	c.invalid++
	require.NotEqual(c.t, ingest.ReasonNone, why)
	require.Less(c.t, int(why), ingest.NumReasons)
	require.Error(c.t, err)
}

// countSink counts calls and keeps nothing, so that it does not allocate.
type countSink struct {
	ingest.TagHolder
	samples, invalid int
	sum              float64
}

func (c *countSink) Sample(_ []byte, _ int64, v float64) {
	c.samples++
	c.sum += v
}

func (c *countSink) Invalid(ingest.Reason, error) { c.invalid++ }
