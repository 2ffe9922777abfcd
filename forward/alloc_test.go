package forward

import (
	"hash/maphash"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/stretchr/testify/require"
)

// The per-sample paths allocate nothing once their buffers have grown: the
// committer encoding a group into a record, and a destination's reader
// turning a record into a remote-write request.
func TestSteadyPathsDoNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	c := benchSamples(2000, 1_700_000_000_000)
	enc := newRecordEncoder()
	var body []byte
	allocs := testing.AllocsPerRun(20, func() {
		body = enc.encode(body[:0], 1, 2, c.lsets, c.ts, c.vals)
	})
	require.Zero(t, allocs, "record encoding")

	d := &destination{external: newExtLabels(labels.FromStrings("region", "north"))}
	sels, err := parseSelectors([]string{`{province=~"p-0.*"}`, `{__name__="rainfall_millimeters"}`})
	require.NoError(t, err)
	d.selectors = sels
	seed := maphash.MakeSeed()
	bt := newBatch()
	var (
		rec     record
		s       sample
		scratch []byte
		n       int
	)
	allocs = testing.AllocsPerRun(20, func() {
		bt.reset()
		n = 0
		if err := rec.decode(body); err != nil {
			t.Fatal(err)
		}
		for {
			ok, err := rec.next(&s)
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				break
			}
			if !d.selected(&rec, &s) {
				continue
			}
			n++
			scratch = d.appendLabels(scratch[:0], &rec, &s)
			bt.add(Position{}, 0, scratch, maphash.Bytes(seed, scratch), 0, s.ts, s.val)
		}
		bt.encode()
	})
	require.Zero(t, allocs, "reading, selecting, relabelling, batching and compressing")
	want := 0
	for _, ls := range c.lsets {
		if strings.HasPrefix(ls.Get("province"), "p-0") || ls.Get("__name__") == "rainfall_millimeters" {
			want++
		}
	}
	require.Equal(t, want, n, "the selectors picked the expected samples")
}
