package tsdb

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quantrac/quantrac/gateway-firmware-sim/sensor"
	"github.com/quantrac/quantrac/province"
	"github.com/stretchr/testify/require"
)

// simDay writes one day of the gateway simulator's readings for the devices
// of one kind (all kinds if kind is 0) into db, through the ordinary write
// path: series per field, batches per slot, a flush every flushSlots slots
// as the head budget would, then merges until the partition is one part.
// It returns the samples written.
func simDay(t testing.TB, db *DB, kind sensor.Kind, devices int, interval time.Duration, flushSlots int) int {
	t.Helper()
	n := writeSimDay(t, db, kind, devices, interval, flushSlots, time.Time{})
	for db.mergeOnce(farFuture()) {
	}
	return n
}

// simDayStart is the first instant of the day simDay writes.
var simDayStart = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

// writeSimDay writes simDay's samples. When hot is set, it merges after
// every flush as the store does while the day is being written, with hot
// as the time, and leaves the day's final merge to the caller.
func writeSimDay(t testing.TB, db *DB, kind sensor.Kind, devices int, interval time.Duration, flushSlots int, hot time.Time) int {
	t.Helper()
	p, ok := province.Lookup("ha-noi")
	require.True(t, ok)
	site, err := sensor.NewSite(20260101, p, 7, devices, interval)
	require.NoError(t, err)
	start := simDayStart.UnixMilli()
	first := site.FirstSlot(start)
	slots := int((24 * time.Hour) / interval)

	// Series are created device by device, field by field, as the ingest
	// path creates them from a reading.
	refs := make([][]SeriesRef, devices)
	var r sensor.Reading
	for i := range devices {
		k, num := site.Device(i)
		if kind != 0 && k != kind {
			continue
		}
		dev := string(sensor.AppendDeviceID(nil, k, num))
		for _, f := range k.Fields() {
			refs[i] = append(refs[i], metric(t, db, f.Metric, "province", "ha-noi", "gateway", site.Gateway(),
				"device", dev, "kind", k.String()))
		}
	}
	n := 0
	var batch Batch
	for s := range slots {
		for i := range devices {
			if refs[i] == nil {
				continue
			}
			site.Read(first+int64(s), i, &r)
			// Keep the day's partition: a reading near midnight may carry a
			// timestamp a few ms into the next day.
			for f := range refs[i] {
				batch.Add(refs[i][f], r.TS, r.Float(f))
			}
		}
		if (s+1)%flushSlots == 0 || s == slots-1 {
			n += batch.Len()
			appendWait(t, db, &batch)
			batch.Reset()
			require.NoError(t, db.flushNow())
			for !hot.IsZero() && db.mergeOnce(hot) {
			}
		}
	}
	return n
}

// TestBytesPerSample holds the store's compression of the simulator's data
// to its target: one simulated day of a gateway with 60 devices of every
// kind, each field one series, sampled every 10 s with the devices'
// scheduling jitter and clock drift, written through the ordinary path and
// merged. The whole day must take at most 1 byte per sample on disk, every
// byte of the part files counted. The test logs the figure per kind of
// device and per sensor (metric), attributing each shared timestamp column
// to the series that use it and the index and footer evenly, and the same
// day stored without timestamp sharing. The data set is fixed (seeded), so
// the figures are reproducible.
func TestBytesPerSample(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a simulated day")
	}
	const devices, flushSlots = 60, 360 // a flush every hour of data
	measure := func(noShare bool) (*DB, int) {
		opts := manualOptions(t.TempDir())
		opts.NoSharedTimestamps = noShare
		db, err := Open(opts)
		require.NoError(t, err)
		t.Cleanup(func() { db.Close() })
		n := simDay(t, db, 0, devices, 10*time.Second, flushSlots)
		st := db.Stats()
		require.Equal(t, int64(n), st.PartSamples)
		require.Equal(t, st.Partitions, st.Parts, "each day merged into one part")
		return db, n
	}
	db, n := measure(false)
	plain, _ := measure(true)
	total := float64(db.Stats().PartBytes) / float64(n)
	t.Logf("all kinds: %d samples, %.3f bytes/sample (%.3f without timestamp sharing)",
		n, total, float64(plain.Stats().PartBytes)/float64(n))
	// Per kind of device, the bound the figure must stay under. A device's
	// fields share its timestamps, so kinds with many fields pay least; a
	// single-field soil probe pays its whole timestamp column, whose
	// scheduling jitter (up to 40 ms, uniform) has an entropy near 5 bits a
	// sample on its own. Air quality and agri are over 1.0: see
	// docs/storage.md, "Compression".
	bounds := map[string]float64{
		"kind hydromet": 0.50, "kind power": 0.65, "kind air_quality": 1.05, "kind agri": 1.10,
	}
	for _, row := range attributeBytes(t, db) {
		t.Logf("  %-34s %8d samples  %.3f bytes/sample  (timestamps %.3f, values %.3f)",
			row.name, row.samples, row.total(), row.ts/float64(row.samples), row.vals/float64(row.samples))
		if b, ok := bounds[row.name]; ok {
			require.LessOrEqual(t, row.total(), b, row.name)
		}
	}
	require.LessOrEqual(t, total, 1.0)
}

// byteShare is what a group of series costs on disk.
type byteShare struct {
	name          string
	samples       int
	ts, vals, idx float64
}

func (b byteShare) total() float64 { return (b.ts + b.vals + b.idx) / float64(b.samples) }

// attributeBytes splits the bytes of db's parts between kinds of device and
// metrics: a timestamp column is shared equally by the blocks that point at
// it, value columns belong to their series, and everything else in a part
// file (index blocks, metaindex, header, footer) is spread over its samples.
func attributeBytes(t testing.TB, db *DB) []byteShare {
	t.Helper()
	groups := map[string]*byteShare{}
	group := func(name string) *byteShare {
		g := groups[name]
		if g == nil {
			g = &byteShare{name: name}
			groups[name] = g
		}
		return g
	}
	db.state.RLock()
	defer db.state.RUnlock()
	for _, ps := range db.state.partitions {
		for _, p := range ps {
			users := map[int64]int{}
			cur := p.r.NewCursor()
			for cur.Next() {
				for _, b := range cur.At().Blocks {
					users[b.TSOff]++
				}
			}
			require.NoError(t, cur.Err())
			overhead := float64(p.info.Size) - float64(p.info.TSBytes+p.info.ValBytes)
			cur = p.r.NewCursor()
			for cur.Next() {
				sb := cur.At()
				lset := db.series.get(SeriesRef(sb.Ref)).lset
				for _, g := range []*byteShare{group("kind " + lset.Get("kind")), group(lset.Get("__name__"))} {
					for _, b := range sb.Blocks {
						g.samples += b.Count
						g.ts += float64(b.TSLen) / float64(users[b.TSOff])
						g.vals += float64(b.ValLen)
						g.idx += overhead * float64(b.Count) / float64(p.info.Samples)
					}
				}
			}
		}
	}
	out := make([]byteShare, 0, len(groups))
	for _, g := range groups {
		out = append(out, *g)
	}
	slices.SortFunc(out, func(a, b byteShare) int { return strings.Compare(a.name, b.name) })
	return out
}
