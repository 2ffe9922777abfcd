// Package tsdb is Quantrac's time-series store: a write-ahead log with group
// commit in front of an in-memory head, with a series registry, served to the
// Prometheus query engine through storage.Queryable.
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
	// behind slows its writers down. Default 4 Mi samples (~100 MiB).
	MaxPendingSamples int
	// WALSegmentSize is the size of one WAL segment file. Default 64 MiB.
	WALSegmentSize int64
}

func (o *Options) setDefaults() {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxPendingSamples <= 0 {
		o.MaxPendingSamples = 4 << 20
	}
}

// Validate reports whether the options can open a store.
func (o *Options) Validate() error {
	if o.Dir == "" {
		return errors.New("tsdb: data directory is not set")
	}
	return nil
}

// ErrClosed is returned by writes to a store that is closing or closed.
var ErrClosed = errors.New("tsdb: store is closed")

// DB is an open store. All methods are safe for concurrent use.
type DB struct {
	opts   Options
	log    *slog.Logger
	wal    *wal.WAL
	series *seriesSet
	codec  *recordCodec

	// mu guards the commit group being filled and the ref counter.
	mu struct {
		sync.Mutex
		cur     *pending
		spare   *pending // buffers of the last committed group, for reuse
		nextRef SeriesRef
		closed  bool
		failed  error // a WAL write or fsync failed; no write succeeds after
	}
	space   *sync.Cond // signalled when the committer takes a group
	kick    chan struct{}
	stopped chan struct{}

	stats stats
}

// Open opens the store in opts.Dir, creating it if needed, and replays its
// write-ahead log into the head.
func Open(opts Options) (*DB, error) {
	opts.setDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create data directory %s: %w", opts.Dir, err)
	}
	w, err := wal.Open(filepath.Join(opts.Dir, "wal"), wal.Options{SegmentSize: opts.WALSegmentSize, Logger: opts.Logger})
	if err != nil {
		return nil, fmt.Errorf("cannot open WAL: %w", err)
	}
	codec, err := newRecordCodec()
	if err != nil {
		return nil, err
	}
	db := &DB{
		opts:    opts,
		log:     opts.Logger,
		wal:     w,
		series:  newSeriesSet(),
		codec:   codec,
		kick:    make(chan struct{}, 1),
		stopped: make(chan struct{}),
	}
	db.space = sync.NewCond(&db.mu)
	db.mu.cur = newPending()
	db.mu.nextRef = 1

	start := time.Now()
	rs, err := db.replay()
	if err != nil {
		codec.close()
		return nil, err
	}
	db.log.Info("store opened", "dir", opts.Dir, "series", db.series.count(),
		"samples_replayed", rs.samples, "wal_records", rs.wal.Records,
		"duration", time.Since(start).Round(time.Millisecond))
	if rs.dropped() {
		db.log.Warn("WAL replay dropped damaged data",
			"corrupt_records", rs.wal.CorruptRecords, "truncated_bytes", rs.wal.TruncatedBytes,
			"undecodable_records", rs.badRecords, "samples_of_unknown_series", rs.orphanSamples)
	}
	db.stats.replay.Store(&rs)
	go db.commitLoop()
	return db, nil
}

// Close stops accepting writes, commits what is queued, and closes the log.
func (db *DB) Close() error {
	db.mu.Lock()
	if db.mu.closed {
		db.mu.Unlock()
		return nil
	}
	db.mu.closed = true
	db.space.Broadcast()
	db.mu.Unlock()
	close(db.kick)
	<-db.stopped
	err := db.wal.Close()
	db.codec.close()
	return err
}

// SeriesCount returns the number of series the store knows.
func (db *DB) SeriesCount() int { return db.series.count() }

// ReplayStats is what the last start's WAL replay found.
type ReplayStats struct {
	wal           wal.ReplayStats
	samples       int
	badRecords    int // records intact on disk but not decodable
	orphanSamples int // samples whose series definition was lost
}

// Samples returns the number of samples replayed into the head.
func (r ReplayStats) Samples() int { return r.samples }

// DroppedRecords returns the number of WAL records that were damaged and
// skipped, whether the checksum or the decoding found the damage.
func (r ReplayStats) DroppedRecords() int { return r.wal.CorruptRecords + r.badRecords }

// TruncatedBytes returns the bytes cut from torn segment tails.
func (r ReplayStats) TruncatedBytes() int64 { return r.wal.TruncatedBytes }

// OrphanSamples returns the samples dropped because the record that defined
// their series was damaged.
func (r ReplayStats) OrphanSamples() int { return r.orphanSamples }

func (r ReplayStats) dropped() bool {
	return r.wal.Dropped() || r.badRecords > 0 || r.orphanSamples > 0
}

// LastReplay returns what the WAL replay at Open found.
func (db *DB) LastReplay() ReplayStats {
	if p := db.stats.replay.Load(); p != nil {
		return *p
	}
	return ReplayStats{}
}

func (db *DB) replay() (ReplayStats, error) {
	var rs ReplayStats
	var g decodedGroup
	maxRef := SeriesRef(0)
	ws, err := db.wal.Replay(func(rec []byte) error {
		if err := db.codec.decode(rec, &g); err != nil {
			rs.badRecords++
			db.log.Warn("WAL record does not decode; skipped", "err", err)
			return nil
		}
		db.series.mu.Lock()
		for _, ds := range g.series {
			if ds.ref == 0 || db.series.getLocked(ds.ref) != nil {
				continue
			}
			db.series.addLocked(newMemSeries(ds.ref, ds.lset), ds.lset.Hash())
			maxRef = max(maxRef, ds.ref)
		}
		db.series.mu.Unlock()
		for i, ref := range g.refs {
			s := db.series.get(ref)
			if s == nil {
				rs.orphanSamples++
				continue
			}
			s.append(g.ts[i], g.vals[i])
			rs.samples++
		}
		return nil
	})
	rs.wal = ws
	if err != nil {
		return rs, fmt.Errorf("cannot replay WAL: %w", err)
	}
	db.mu.nextRef = maxRef + 1
	return rs, nil
}

// stats are the store's counters, read by Stats.
type stats struct {
	samplesAppended atomic.Int64
	commits         atomic.Int64
	fsyncs          atomic.Int64
	fsyncSeconds    latencyHistogram
	walBytes        atomic.Int64
	replay          atomic.Pointer[ReplayStats]
}
