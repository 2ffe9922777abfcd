package tsdb

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/prometheus/prometheus/promql"
	"github.com/quantrac/quantrac/gateway-firmware-sim/sensor"
	"github.com/quantrac/quantrac/province"
	"github.com/stretchr/testify/require"
)

// Benchmarks of the store's hot paths. Each reports samples/s; run them on
// one core with -cpu 1 to read the figure per core (docs/storage.md,
// "Measured figures", gives the commands and the results).

// benchSeries creates n series shaped like the ingest path's.
func benchSeries(b *testing.B, db *DB, n int) []SeriesRef {
	refs := make([]SeriesRef, n)
	for i := range refs {
		refs[i] = metric(b, db, "air_temperature_celsius", "province", "ha-noi",
			"gateway", fmt.Sprintf("hn-gw-%03d", i/100), "device", fmt.Sprintf("aws-%05d", i))
	}
	return refs
}

// fillRound adds one reading per series at slot s: 10 s apart, a few ms of
// jitter, decimal values with one digit after the point.
func fillRound(batch *Batch, refs []SeriesRef, s int64) {
	base := int64(1_750_000_000_000) + s*10_000
	for i, ref := range refs {
		batch.Add(ref, base+int64(i*7%23), float64(250+int64(i%40)+s%9)/10)
	}
}

func reportSamplesPerSecond(b *testing.B, samples int64) {
	b.ReportMetric(float64(samples)/b.Elapsed().Seconds(), "samples/s")
}

// BenchmarkAppend measures the whole write path of one commit group: Append
// copies the batch into the group, the committer encodes it as a WAL record,
// writes and fsyncs it and adds it to the head, and Wait returns. Groups
// hold one reading of every series. The head is flushed (untimed) every 16
// groups, as the head budget would, so that the benchmark measures the
// steady state in which the series' head buffers already have room.
func BenchmarkAppend(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("samples_per_group=%d", n), func(b *testing.B) {
			db := openManual(b, b.TempDir())
			defer db.Close()
			refs := benchSeries(b, db, n)
			var batch Batch
			var s, samples int64
			round := func() {
				batch.Reset()
				fillRound(&batch, refs, s)
				s++
				c, err := db.Append(&batch)
				if err != nil {
					b.Fatal(err)
				}
				if err := c.Wait(); err != nil {
					b.Fatal(err)
				}
			}
			for range 16 {
				round()
			}
			require.NoError(b, db.flushNow())
			b.ReportAllocs()
			var flushCPU time.Duration
			cpu := cpuTime()
			for b.Loop() {
				round()
				samples += int64(n)
				if s%16 == 0 {
					b.StopTimer()
					fc := cpuTime()
					require.NoError(b, db.flushNow())
					flushCPU += cpuTime() - fc
					b.StartTimer()
				}
			}
			reportSamplesPerSecond(b, samples)
			reportPerCPUSecond(b, samples, cpu+flushCPU)
		})
	}
}

// BenchmarkWALCommit measures the WAL's share of a commit: encoding a group
// of samples into a record, writing it and the fsync. The sim case is two
// readings of 2 000 simulated devices of every kind (about 11 000 samples).
func BenchmarkWALCommit(b *testing.B) {
	for _, n := range []int{100, 10_000, 0} {
		name := fmt.Sprintf("samples_per_group=%d", n)
		if n == 0 {
			name = "sim"
		}
		b.Run(name, func(b *testing.B) {
			db := openManual(b, b.TempDir())
			defer db.Close()
			var batch Batch
			if n == 0 {
				newSimFleet(b, db, 2_000).fill(&batch, 2)
			} else {
				fillRound(&batch, benchSeries(b, db, n), 0)
			}
			g := newPending()
			g.refs, g.ts, g.vals = batch.Refs, batch.Ts, batch.Vals
			var samples, bytes int64
			b.ReportAllocs()
			cpu := cpuTime()
			for b.Loop() {
				if err := db.writeGroup(g); err != nil {
					b.Fatal(err)
				}
				samples += int64(batch.Len())
				bytes += int64(len(g.rec))
			}
			reportSamplesPerSecond(b, samples)
			reportPerCPUSecond(b, samples, cpu)
			b.ReportMetric(float64(bytes)/float64(samples), "WAL-bytes/sample")
		})
	}
}

// BenchmarkWALRecord measures encoding one commit group of the simulator's
// data as a WAL record, without the write: the packed layout the store
// writes, and the same compressed by zstd at its fastest level (the
// alternative docs/storage.md weighs against it).
func BenchmarkWALRecord(b *testing.B) {
	db := openManual(b, b.TempDir())
	defer db.Close()
	var batch Batch
	newSimFleet(b, db, 2_000).fill(&batch, 2)
	g := newPending()
	g.refs, g.ts, g.vals = batch.Refs, batch.Ts, batch.Vals
	zenc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithEncoderConcurrency(1), zstd.WithLowerEncoderMem(true))
	require.NoError(b, err)
	defer zenc.Close()
	for _, compress := range []bool{false, true} {
		name := "packed"
		if compress {
			name = "packed+zstd-fastest"
		}
		b.Run(name, func(b *testing.B) {
			var rec, z []byte
			b.ReportAllocs()
			cpu := cpuTime()
			for b.Loop() {
				rec = db.codec.encode(rec[:0], g)
				if compress {
					z = zenc.EncodeAll(rec, z[:0])
				}
			}
			samples := int64(b.N) * int64(batch.Len())
			reportSamplesPerSecond(b, samples)
			reportPerCPUSecond(b, samples, cpu)
			size := len(rec)
			if compress {
				size = len(z)
			}
			b.ReportMetric(float64(size)/float64(batch.Len()), "WAL-bytes/sample")
		})
	}
}

// BenchmarkFlush measures turning a full head into a part: the rotation,
// sorting, block encoding of every series, the part file's write, fsync and
// rename, and the removal of the WAL segments it covers. The head holds
// 10 000 series of 24 samples each, the default budget's size.
// samples/cpu-s counts the CPU time of the flushes alone.
func BenchmarkFlush(b *testing.B) {
	const series, perSeries = 10_000, 24
	db := openManual(b, b.TempDir())
	defer db.Close()
	refs := benchSeries(b, db, series)
	var batch Batch
	var s int64
	benchFlushes(b, db, func() *Batch {
		batch.Reset()
		for range perSeries {
			fillRound(&batch, refs, s)
			s++
		}
		return &batch
	})
}

// BenchmarkFlushSim is BenchmarkFlush on the gateway simulator's data: 2 000
// devices of every kind (about 5 500 series), their jittered timestamps
// shared by a device's fields and their decimal values, 24 readings of
// each at 10 s per flush.
func BenchmarkFlushSim(b *testing.B) {
	db := openManual(b, b.TempDir())
	defer db.Close()
	fleet := newSimFleet(b, db, 2_000)
	var batch Batch
	benchFlushes(b, db, func() *Batch {
		batch.Reset()
		fleet.fill(&batch, 24)
		return &batch
	})
}

// BenchmarkMergeSim measures merging four parts as flushes of the
// simulator's data leave them (2 000 devices of every kind, 24 readings of
// each at 10 s per part) into one, without the merge throttle: every series
// is in every part, so all samples are decoded, merged and encoded again.
// Each round writes a day of its own, so that it merges only its four
// parts. samples/cpu-s counts the CPU time of the merges alone.
func BenchmarkMergeSim(b *testing.B) {
	opts := manualOptions(b.TempDir())
	opts.MergeBytesPerSecond = -1
	db, err := Open(opts)
	require.NoError(b, err)
	defer db.Close()
	fleet := newSimFleet(b, db, 2_000)
	first := fleet.slot
	var batch Batch
	var samples int64
	var mergeCPU time.Duration
	b.ReportAllocs()
	for day := int64(0); b.Loop(); day++ {
		b.StopTimer()
		fleet.slot = first + day*8_640 + 60 // 10 min into the day
		for range 4 {
			batch.Reset()
			fleet.fill(&batch, 24)
			appendWait(b, db, &batch)
			require.NoError(b, db.flushNow())
			samples += int64(batch.Len())
		}
		b.StartTimer()
		cpu := cpuTime()
		if !db.mergeOnce(farFuture()) {
			b.Fatal("no merge ran")
		}
		mergeCPU += cpuTime() - cpu
	}
	reportSamplesPerSecond(b, samples)
	if mergeCPU > 0 {
		b.ReportMetric(float64(samples)/mergeCPU.Seconds(), "samples/cpu-s")
	}
}

// simFleet is a gateway simulator site whose devices' fields are series of
// a store, created device by device and field by field as the ingest path
// creates them.
type simFleet struct {
	site *sensor.Site
	refs [][]SeriesRef // by device, by field
	slot int64
}

func newSimFleet(b *testing.B, db *DB, devices int) *simFleet {
	p, ok := province.Lookup("ha-noi")
	require.True(b, ok)
	site, err := sensor.NewSite(20260101, p, 7, devices, 10*time.Second)
	require.NoError(b, err)
	f := &simFleet{site: site, refs: make([][]SeriesRef, devices)}
	for i := range devices {
		k, num := site.Device(i)
		dev := string(sensor.AppendDeviceID(nil, k, num))
		for _, fl := range k.Fields() {
			f.refs[i] = append(f.refs[i], metric(b, db, fl.Metric, "province", "ha-noi",
				"gateway", site.Gateway(), "device", dev, "kind", k.String()))
		}
	}
	f.slot = site.FirstSlot(time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC).UnixMilli())
	return f
}

// fill adds the next slots readings of every device to batch, a reading's
// fields side by side, as a message of the ingest path would.
func (f *simFleet) fill(batch *Batch, slots int) {
	var r sensor.Reading
	for range slots {
		for i, refs := range f.refs {
			f.site.Read(f.slot, i, &r)
			for fi, ref := range refs {
				batch.Add(ref, r.TS, r.Float(fi))
			}
		}
		f.slot++
	}
}

// benchFlushes times flushes of the heads fill builds (untimed), and
// reports samples/s and samples per CPU second of the flushes.
func benchFlushes(b *testing.B, db *DB, fill func() *Batch) {
	var samples int64
	var flushCPU time.Duration
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		batch := fill()
		appendWait(b, db, batch)
		b.StartTimer()
		cpu := cpuTime()
		if err := db.flushNow(); err != nil {
			b.Fatal(err)
		}
		flushCPU += cpuTime() - cpu
		samples += int64(batch.Len())
	}
	reportSamplesPerSecond(b, samples)
	if flushCPU > 0 {
		b.ReportMetric(float64(samples)/flushCPU.Seconds(), "samples/cpu-s")
	}
}

// BenchmarkReplay measures the start of a store whose head is only in the
// WAL: 1 000 series with 2 000 samples each (2 M samples in groups of 10 000),
// read back, decompressed and applied to the head.
func BenchmarkReplay(b *testing.B) {
	const series, rounds = 1_000, 2_000
	dir := b.TempDir()
	db := openManual(b, dir)
	refs := benchSeries(b, db, series)
	var batch Batch
	for s := range int64(rounds) {
		fillRound(&batch, refs, s)
		if batch.Len() >= 10_000 {
			appendWait(b, db, &batch)
			batch.Reset()
		}
	}
	appendWait(b, db, &batch)
	db.stopForCrashTest()
	var samples int64
	var closeCPU time.Duration
	b.ReportAllocs()
	cpu := cpuTime()
	for b.Loop() {
		db := openManual(b, dir)
		if got := db.LastReplay().Samples(); got != series*rounds {
			b.Fatalf("replayed %d samples, want %d", got, series*rounds)
		}
		samples += series * rounds
		b.StopTimer()
		cc := cpuTime()
		db.stopForCrashTest()
		closeCPU += cpuTime() - cc
		b.StartTimer()
	}
	reportSamplesPerSecond(b, samples)
	reportPerCPUSecond(b, samples, cpu+closeCPU)
}

// BenchmarkRangeQuery runs PromQL range queries over one day of 1 000
// series sampled every 10 s (8.64 M samples, flushed hourly and merged into
// one part) at a 1 minute step: 1 440 steps a series. samples/s counts the
// samples the queries cover.
func BenchmarkRangeQuery(b *testing.B) {
	const series = 1_000
	const slots = 24 * 360
	db := openManual(b, b.TempDir())
	defer db.Close()
	refs := benchSeries(b, db, series)
	var batch Batch
	for s := range int64(slots) {
		fillRound(&batch, refs, s)
		if (s+1)%60 == 0 {
			appendWait(b, db, &batch)
			batch.Reset()
		}
		if (s+1)%360 == 0 {
			require.NoError(b, db.flushNow())
		}
	}
	for db.mergeOnce(farFuture()) {
	}
	require.Equal(b, int64(series*slots), db.Stats().PartSamples)

	eng := promql.NewEngine(promql.EngineOpts{MaxSamples: 1e8, Timeout: time.Minute, LookbackDelta: 5 * time.Minute})
	start := time.UnixMilli(1_750_000_000_000)
	end := start.Add(24*time.Hour - time.Minute)
	for _, q := range []string{
		`air_temperature_celsius`,
		`avg_over_time(air_temperature_celsius[5m])`,
		`max by (gateway) (air_temperature_celsius)`,
	} {
		b.Run(q, func(b *testing.B) {
			b.ReportAllocs()
			var n int
			for b.Loop() {
				qry, err := eng.NewRangeQuery(context.Background(), db, nil, q, start, end, time.Minute)
				if err != nil {
					b.Fatal(err)
				}
				res := qry.Exec(context.Background())
				if res.Err != nil {
					b.Fatal(res.Err)
				}
				m, err := res.Matrix()
				if err != nil {
					b.Fatal(err)
				}
				if len(m) == 0 || len(m[0].Floats) != 1440 || math.IsNaN(m[0].Floats[0].F) {
					b.Fatalf("unexpected answer: %d series", len(m))
				}
				qry.Close()
				n++
			}
			reportSamplesPerSecond(b, int64(n)*series*slots)
		})
	}
}
