package tsdb

import (
	"slices"
	"testing"

	"github.com/quantrac/quantrac/tsdb/part"
)

// simulateMerges feeds a hot partition flushes of equal size, merging
// whenever the policy finds a merge, and returns how many times each
// flushed byte was written again by merges and the parts left.
func simulateMerges(flushes int) (rewrites float64, parts int) {
	var ps []*partRef
	var flushed, merged int64
	for range flushes {
		ps = append(ps, &partRef{info: part.Info{Size: 1000}})
		flushed += 1000
		for {
			c, ok := pickInPartition(0, ps, false)
			if !ok {
				break
			}
			out := &partRef{}
			for _, p := range c.parts {
				out.info.Size += p.info.Size
			}
			merged += out.info.Size
			i := slices.Index(ps, c.parts[0])
			ps = slices.Replace(ps, i, i+len(c.parts), out)
		}
	}
	return float64(merged) / float64(flushed), len(ps)
}

// A day of flushes must not have its samples rewritten over and over: the
// policy merges parts of about the same size, so each sample is rewritten
// about log_4 of the number of flushes times, and a hot partition keeps a
// bounded number of parts for queries to read.
func TestMergePolicyRewritesEachSampleFewTimes(t *testing.T) {
	for _, tc := range []struct {
		flushes     int
		maxRewrites float64
	}{{100, 2.5}, {1000, 3.5}, {3000, 4.5}} {
		rewrites, parts := simulateMerges(tc.flushes)
		t.Logf("%d flushes: each byte rewritten %.2f times, %d parts left", tc.flushes, rewrites, parts)
		if rewrites > tc.maxRewrites {
			t.Errorf("%d flushes: each byte rewritten %.2f times, want at most %.1f", tc.flushes, rewrites, tc.maxRewrites)
		}
		if parts > 16 {
			t.Errorf("%d flushes: %d parts left in a hot partition, want at most 16", tc.flushes, parts)
		}
	}
}
