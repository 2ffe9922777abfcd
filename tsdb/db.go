// Package tsdb is Quantrac's time-series store: a write-ahead log with group
// commit in front of an in-memory head, immutable series-major parts in
// daily time partitions, background merges, retention, a persisted series
// registry with an inverted index, and a storage.Queryable for the
// Prometheus query engine.
//
// Writes: the ingest pipeline resolves each reading's labels to a SeriesRef
// with GetOrCreate, fills a Batch, and calls Append, which queues the batch
// into the current commit group and returns a Commit. One committer goroutine
// takes whole groups, writes each as one compressed WAL record, fsyncs once
// for the group, applies it to the head, and only then completes the group's
// Commit. A caller that acknowledges a reading (an MQTT PUBACK, an HTTP 204)
// waits for its Commit first, so an acknowledged reading is always in the
// fsynced log.
//
// Background: a flusher turns the head into parts when it outgrows its
// memory budget or its oldest sample has waited FlushInterval, then deletes
// the WAL segments the parts cover; merge workers combine small parts into
// large ones; retention drops whole partitions.
//
// docs/storage.md describes the design and docs/storage-format.md the bytes.
package tsdb

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/quantrac/quantrac/tsdb/index"
	"github.com/quantrac/quantrac/tsdb/part"
	"github.com/quantrac/quantrac/tsdb/wal"
)

// Options configure a DB. The zero value of each field means its default.
type Options struct {
	// Dir is the data directory. Required.
	Dir string
	// Logger receives lifecycle events and warnings. Default slog.Default().
	Logger *slog.Logger
	// MaxPendingSamples bounds the samples queued for the next commit group.
	// Append blocks while the queue is full, which is how a store that falls
	// behind slows its writers down. Default 256 Ki samples (~6 MiB), about
	// 0.1 s of input at a million readings a second: a deeper queue adds
	// latency and memory, not throughput. At most MaxPendingLimit, so that
	// a commit group fits one WAL record.
	MaxPendingSamples int
	// WALSegmentSize is the size of one WAL segment file. Default 64 MiB.
	WALSegmentSize int64
	// Retention is how long samples are kept: a partition (one UTC day) is
	// dropped whole once its last millisecond is older than Retention. Zero
	// keeps everything.
	Retention time.Duration
	// FlushInterval bounds how long a sample waits in the head (and the WAL)
	// before it is flushed into a part. Default 10 minutes.
	FlushInterval time.Duration
	// HeadSamplesPerSeries is the head's memory budget: the head is flushed
	// once it holds this many samples per series with samples in it, on
	// average. Default 24, which keeps the head under 1 KiB per active
	// series (docs/storage.md, "Head memory"). While a flush runs, the head
	// takes at most twice the budget: commits then wait for the flush, and
	// Append blocks once MaxPendingSamples are queued.
	HeadSamplesPerSeries int
	// HeadMinFlushSamples is the fewest samples the budget above ever asks a
	// flush for, so that a store of few series flushes by FlushInterval
	// rather than every few samples. Default 256 Ki (4 MiB of samples).
	HeadMinFlushSamples int
	// MergeConcurrency is how many merges may run at once. Default 1.
	// Negative disables background merges and retention (tests and tools
	// that drive them by hand).
	MergeConcurrency int
	// MergeBytesPerSecond bounds the write rate of all merges together.
	// Default 32 MiB/s; negative means unbounded.
	MergeBytesPerSecond int64
	// NoSharedTimestamps makes parts store every timestamp column, even one
	// identical to another series' (a device's fields). Only for measuring
	// what sharing saves.
	NoSharedTimestamps bool
}

func (o *Options) setDefaults() {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxPendingSamples == 0 {
		o.MaxPendingSamples = 256 << 10
	}
	if o.FlushInterval == 0 {
		o.FlushInterval = 10 * time.Minute
	}
	if o.HeadSamplesPerSeries == 0 {
		o.HeadSamplesPerSeries = 24
	}
	if o.HeadMinFlushSamples == 0 {
		o.HeadMinFlushSamples = 256 << 10
	}
	if o.MergeConcurrency == 0 {
		o.MergeConcurrency = 1
	}
	if o.MergeBytesPerSecond == 0 {
		o.MergeBytesPerSecond = 32 << 20
	}
}

// Validate reports whether the options can open a store.
func (o *Options) Validate() error {
	switch {
	case o.Dir == "":
		return errors.New("tsdb: data directory is not set")
	case o.MaxPendingSamples < 0, o.WALSegmentSize < 0, o.Retention < 0, o.FlushInterval < 0,
		o.HeadSamplesPerSeries < 0, o.HeadMinFlushSamples < 0:
		return errors.New("tsdb: negative option")
	case o.MaxPendingSamples > MaxPendingLimit:
		return fmt.Errorf("tsdb: MaxPendingSamples %d is over the limit of %d", o.MaxPendingSamples, MaxPendingLimit)
	}
	return nil
}

// MaxPendingLimit is the largest MaxPendingSamples: at up to 22 bytes a
// sample in a record (a ref delta of 5 bytes, a timestamp delta of 8, a
// value of 9), a group this large still fits one WAL record
// (wal.MaxRecordSize) with room for the series it defines.
const MaxPendingLimit = 8 << 20

// ErrClosed is returned by writes to a store that is closing or closed.
var ErrClosed = errors.New("tsdb: store is closed")

// ErrOutOfBounds is returned by Append for a sample the store cannot hold: a
// timestamp outside years 1 to 9999, or a ref GetOrCreate did not return.
var ErrOutOfBounds = errors.New("tsdb: sample out of bounds")

// Timestamps the store holds, in Unix milliseconds: years 1 to 9999 UTC,
// which every partition name can spell.
var (
	MinTimestamp = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	MaxTimestamp = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli() - 1
)

// DB is an open store. All methods are safe for concurrent use.
type DB struct {
	opts      Options
	log       *slog.Logger
	lock      *dirLock
	wal       *wal.WAL
	series    *seriesSet
	index     *index.Index
	codec     *recordCodec
	partCodec *part.Codec
	// flushCodec is partCodec.Quick(): the head flush's blocks are
	// rewritten by merges, so it spends less effort on them.
	flushCodec *part.Codec
	// draftCodec is partCodec.Draft(), for merges of a partition still
	// being written: the partition's final merge encodes its samples in
	// full, so the merges before it spend no effort on entropy coding.
	draftCodec *part.Codec
	seriesEnc  *zstd.Encoder
	seriesDec  *zstd.Decoder

	// mu guards the commit group being filled and the ref counter.
	mu struct {
		sync.Mutex
		cur     *pending
		spare   *pending // buffers of the last committed group, for reuse
		nextRef SeriesRef
		closed  bool
		failed  error // a WAL write or fsync failed; no write succeeds after
	}
	space       *sync.Cond // signalled when the committer takes a group
	emptyCommit *Commit    // already done: what Append returns for an empty batch

	// head is the committer's bookkeeping of what the head holds.
	head struct {
		dirty      []*memSeries // series with samples in the head; committer only
		spareDirty []*memSeries // the list freeze emptied, for the next cut
		samples    atomic.Int64
		series     atomic.Int64
		oldestNano atomic.Int64 // when the oldest head sample was appended; 0 if none
	}

	// state is what queries snapshot: the parts of every partition and the
	// frozen head being flushed. Partition slices are ordered by sequence.
	state struct {
		sync.RWMutex
		partitions map[int64][]*partRef
		frozen     *frozenHead
	}

	seriesFiles struct {
		sync.Mutex
		files     []seriesFile
		persisted SeriesRef // every series up to here is in a series file
	}

	flushMu       sync.Mutex    // one rotation and flush at a time
	nextSeq       atomic.Uint64 // sequence number of the next flush
	mergeThrottle *throttle

	kick        chan struct{}
	rotateReq   chan chan rotation
	flushKick   chan struct{}
	flushed     chan struct{} // signalled after each flush attempt
	mergeKick   chan struct{}
	stop        chan struct{} // closed by Close: background work ends
	commitStop  chan struct{} // closed by Close after stop: the committer ends
	stopped     chan struct{} // closed by the committer when it returns
	flusherDone chan struct{}
	mergersDone sync.WaitGroup

	stats stats
}

// Open opens the store in opts.Dir, creating it if needed: it takes the
// directory's lock, loads the series definitions and the parts, and replays
// the write-ahead log into the head.
func Open(opts Options) (_ *DB, err error) {
	opts.setDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	start := time.Now()
	if err := os.MkdirAll(filepath.Join(opts.Dir, seriesDirName), 0o755); err != nil {
		return nil, fmt.Errorf("cannot create data directory %s: %w", opts.Dir, err)
	}
	lock, err := lockDir(opts.Dir)
	if err != nil {
		return nil, err
	}
	db := &DB{
		opts:          opts,
		log:           opts.Logger,
		lock:          lock,
		series:        newSeriesSet(),
		index:         index.New(),
		mergeThrottle: newThrottle(opts.MergeBytesPerSecond),
		kick:          make(chan struct{}, 1),
		rotateReq:     make(chan chan rotation),
		flushKick:     make(chan struct{}, 1),
		flushed:       make(chan struct{}, 1),
		mergeKick:     make(chan struct{}, 1),
		stop:          make(chan struct{}),
		commitStop:    make(chan struct{}),
		stopped:       make(chan struct{}),
		flusherDone:   make(chan struct{}),
	}
	defer func() {
		if err != nil {
			db.releaseResources()
		}
	}()
	if err := db.openCodecs(); err != nil {
		return nil, err
	}
	db.space = sync.NewCond(&db.mu)
	db.mu.cur = newPending()
	db.emptyCommit = newCommit()
	close(db.emptyCommit.done)

	if err := db.loadSeries(); err != nil {
		return nil, err
	}
	if db.state.partitions, err = db.loadParts(); err != nil {
		return nil, err
	}
	var maxSeq uint64
	for _, ps := range db.state.partitions {
		for _, p := range ps {
			maxSeq = max(maxSeq, p.info.MaxSeq)
		}
	}
	db.nextSeq.Store(maxSeq + 1)

	db.wal, err = wal.Open(filepath.Join(opts.Dir, "wal"), wal.Options{SegmentSize: opts.WALSegmentSize, Logger: opts.Logger})
	if err != nil {
		return nil, fmt.Errorf("cannot open WAL: %w", err)
	}
	rs, err := db.replay()
	if err != nil {
		return nil, err
	}
	// A ref met only in samples whose definition was lost is never handed
	// out again: the WAL may still hold those samples.
	db.mu.nextRef = max(db.series.maxRef(), min(rs.maxRef, index.MaxRef)) + 1
	db.stats.replay.Store(&rs)
	db.logOpen(rs, time.Since(start))

	go db.commitLoop()
	go db.flushLoop()
	for i := range opts.MergeConcurrency {
		db.mergersDone.Add(1)
		go db.mergeLoop(i == 0)
	}
	return db, nil
}

func (db *DB) openCodecs() error {
	var err error
	if db.codec, err = newRecordCodec(); err != nil {
		return err
	}
	if db.partCodec, err = part.NewCodec(); err != nil {
		return err
	}
	db.flushCodec = db.partCodec.Quick()
	db.draftCodec = db.partCodec.Draft()
	if db.seriesEnc, err = zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithLowerEncoderMem(true)); err != nil {
		return fmt.Errorf("cannot create zstd encoder: %w", err)
	}
	if db.seriesDec, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxSeriesFileBody)); err != nil {
		return fmt.Errorf("cannot create zstd decoder: %w", err)
	}
	return nil
}

func (db *DB) logOpen(rs ReplayStats, took time.Duration) {
	parts := 0
	for _, ps := range db.state.partitions {
		parts += len(ps)
	}
	db.log.Info("store opened", "dir", db.opts.Dir, "series", db.series.count(),
		"partitions", len(db.state.partitions), "parts", parts,
		"samples_replayed", rs.samples, "wal_records", rs.wal.Records,
		"duration", took.Round(time.Millisecond))
	if rs.dropped() {
		db.log.Warn("WAL replay dropped damaged data",
			"corrupt_records", rs.wal.CorruptRecords, "skipped_bytes", rs.wal.SkippedBytes,
			"truncated_bytes", rs.wal.TruncatedBytes,
			"undecodable_records", rs.badRecords, "samples_of_unknown_series", rs.orphanSamples)
	}
}

// loadSeries reads every series file into the registry and the index. A
// damaged file is reported and skipped: its series' samples cannot be
// selected by label, but everything else is served.
func (db *DB) loadSeries() error {
	files, err := listSeriesFiles(filepath.Join(db.opts.Dir, seriesDirName))
	if err != nil {
		return err
	}
	for _, sf := range files {
		err := readSeriesFile(sf.name, db.seriesDec, func(ref SeriesRef, lset labels.Labels) {
			db.defineSeries(ref, lset)
		})
		if errors.Is(err, errSeriesFile) {
			db.log.Error("series file is damaged; its series are not served", "file", sf.name, "err", err)
			db.stats.brokenSeriesFiles.Add(1)
			continue
		}
		if err != nil {
			return err
		}
		db.seriesFiles.files = append(db.seriesFiles.files, sf)
		db.seriesFiles.persisted = max(db.seriesFiles.persisted, sf.last)
	}
	return nil
}

// defineSeries registers a series met while loading (from a series file or
// the WAL). A ref already defined is left as it is.
func (db *DB) defineSeries(ref SeriesRef, lset labels.Labels) {
	if ref == 0 || ref > index.MaxRef {
		return
	}
	db.series.mu.Lock()
	defer db.series.mu.Unlock()
	if s := db.series.getLocked(ref); s != nil {
		return
	}
	db.series.addLocked(newMemSeries(ref, lset), lset.Hash())
	db.index.Add(uint64(ref), lset)
}

// Close stops accepting writes, commits what is queued, stops background
// work (a merge in progress is abandoned), flushes the head into parts, and
// releases the directory.
func (db *DB) Close() error {
	db.mu.Lock()
	if db.mu.closed {
		db.mu.Unlock()
		return nil
	}
	db.mu.closed = true
	db.space.Broadcast()
	db.mu.Unlock()

	close(db.stop)
	<-db.flusherDone
	db.mergersDone.Wait()
	close(db.commitStop)
	<-db.stopped

	var errs []error
	db.state.RLock()
	pending := db.state.frozen
	db.state.RUnlock()
	db.mu.Lock()
	failed := db.mu.failed
	db.mu.Unlock()
	if pending == nil && failed == nil && db.head.samples.Load() > 0 {
		// The WAL has all of it; flushing now only makes the next start
		// faster, so a failure here loses nothing.
		c, err := db.cutHead()
		if err == nil {
			err = db.flush(db.freeze(c))
		}
		if err != nil {
			db.log.Warn("cannot flush the head at close; the WAL keeps it", "err", err)
		}
	}
	if err := db.wal.Close(); err != nil {
		errs = append(errs, err)
	}
	db.releaseResources()
	return errors.Join(errs...)
}

// releaseResources closes what Open opened, in reverse.
func (db *DB) releaseResources() {
	db.state.Lock()
	for _, ps := range db.state.partitions {
		for _, p := range ps {
			p.release()
		}
	}
	db.state.partitions = nil
	db.state.Unlock()
	if db.codec != nil {
		db.codec.close()
	}
	if db.partCodec != nil {
		db.partCodec.Close()
	}
	if db.seriesEnc != nil {
		db.seriesEnc.Close()
	}
	if db.seriesDec != nil {
		db.seriesDec.Close()
	}
	if err := db.lock.release(); err != nil {
		db.log.Warn("cannot release the data directory lock", "err", err)
	}
}

// SeriesCount returns the number of series the store knows.
func (db *DB) SeriesCount() int { return db.series.count() }

// checkTimestamp reports whether the store can hold a sample at ts.
func checkTimestamp(ts int64) bool { return ts >= MinTimestamp && ts <= MaxTimestamp }
