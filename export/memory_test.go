package export

import (
	"context"
	"os"
	"runtime"
	"runtime/metrics"
	"testing"

	"github.com/stretchr/testify/require"
)

// heapProbe records two peaks above a baseline taken after a full
// collection: the live heap as of the last GC mark (what the export
// retains), and HeapInuse (what it retains plus garbage the collector has not
// reclaimed yet, which GC pacing lets grow to about twice the live heap). It
// samples from inside the export: before every 16th series and on every 8th
// write to the destination, which is where the encoders hold the most.
type heapProbe struct {
	baseLive, baseInuse uint64
	live, inuse         uint64
	writes              int
	bytes               int64
	metric              []metrics.Sample
}

func newHeapProbe() *heapProbe {
	runtime.GC()
	runtime.GC() // the second one empties sync.Pools' victim caches
	p := &heapProbe{metric: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	p.baseLive, p.baseInuse = p.read()
	return p
}

func (p *heapProbe) read() (live, inuse uint64) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	metrics.Read(p.metric)
	return p.metric[0].Value.Uint64(), ms.HeapInuse
}

func (p *heapProbe) sample() {
	live, inuse := p.read()
	if live > p.baseLive {
		p.live = max(p.live, live-p.baseLive)
	}
	if inuse > p.baseInuse {
		p.inuse = max(p.inuse, inuse-p.baseInuse)
	}
}

func (p *heapProbe) Write(b []byte) (int, error) {
	p.writes++
	p.bytes += int64(len(b))
	if p.writes%8 == 0 {
		p.sample()
	}
	return len(b), nil
}

// exportPeak exports rows generated on the fly (1,000 samples per series)
// and returns the probe with its peaks.
func exportPeak(t *testing.T, f Format, rows int) *heapProbe {
	t.Helper()
	probe := newHeapProbe()
	set := &genSet{series: rows / 1000, perSeries: 1000, onNext: func(i int) {
		if i%16 == 0 {
			probe.sample()
		}
	}}
	st, err := Export(context.Background(), probe, set, Options{Format: f, Columns: genColumns})
	require.NoError(t, err)
	require.Equal(t, int64(rows), st.Rows)
	require.Equal(t, st.Bytes, probe.bytes)
	probe.sample()
	return probe
}

// TestExportMemoryBounded exports ten times more rows than a reference run
// and requires the peak live heap to stay where the reference run's was:
// memory depends on the batch size, not on the number of rows. HeapInuse,
// which includes uncollected garbage, is held under an absolute ceiling.
//
// The default run compares 200 k with 2 M rows per format (about 5 s on two
// cores). QUANTRAC_EXPORT_BIG=1 compares 2 M with 20 M rows (about 25 s).
func TestExportMemoryBounded(t *testing.T) {
	small, big := 200_000, 2_000_000
	if os.Getenv("QUANTRAC_EXPORT_BIG") == "1" {
		small, big = 2_000_000, 20_000_000
	}
	if testing.Short() {
		small, big = 100_000, 1_000_000
	}
	// The Parquet runs' live heap is mostly arrow-go's process-wide pool of
	// zstd encoders (about 8 MiB of history each, emptied by collections),
	// so how many of them a sample catches varies by a few encoders. Keeping
	// every row of the big run would take over 16 bytes per row (32 MiB at
	// 2 M rows), which both limits catch.
	const (
		slack      = 24 << 20
		liveLimit  = 64 << 20  // one 64 Ki-row batch, the encoders and their pools
		inuseLimit = 256 << 20 // the same plus garbage awaiting collection
	)
	// One P keeps sync.Pool (and so the encoder pool) to one local slot.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	mib := func(n uint64) float64 { return float64(n) / (1 << 20) }
	for _, f := range allFormats {
		t.Run(f.String(), func(t *testing.T) {
			ref := exportPeak(t, f, small)
			got := exportPeak(t, f, big)
			t.Logf("%s: peak live heap %.1f MiB (in use %.1f MiB) for %d rows; %.1f MiB (in use %.1f MiB) for %d rows",
				f, mib(ref.live), mib(ref.inuse), small, mib(got.live), mib(got.inuse), big)
			require.Less(t, got.live, uint64(liveLimit))
			require.Less(t, got.inuse, uint64(inuseLimit))
			require.Less(t, got.live, ref.live+slack, "live heap grew with the number of rows")
		})
	}
}
