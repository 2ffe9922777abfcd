package tsdb

import (
	"fmt"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/quantrac/quantrac/tsdb/wal"
)

// ReplayStats is what the last start's WAL replay found.
type ReplayStats struct {
	wal           wal.ReplayStats
	samples       int
	badRecords    int       // records intact on disk but not decodable
	orphanSamples int       // samples whose series definition was lost
	maxRef        SeriesRef // highest ref met, defined or not
	conflicts     int       // WAL series definitions that disagree with a series file
}

// Samples returns the number of samples replayed into the head.
func (r ReplayStats) Samples() int { return r.samples }

// Records returns the number of intact WAL records replayed.
func (r ReplayStats) Records() int { return r.wal.Records }

// DroppedRecords returns the number of damaged stretches of WAL skipped
// between intact records, plus the records intact on disk that did not
// decode.
func (r ReplayStats) DroppedRecords() int { return r.wal.CorruptRecords + r.badRecords }

// SkippedBytes returns the bytes of the damaged stretches skipped.
func (r ReplayStats) SkippedBytes() int64 { return r.wal.SkippedBytes }

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

// replay reads every WAL segment into the head. Damage is skipped and
// counted (the WAL cuts torn tails and skips records whose checksum fails;
// a record that does not decode is skipped here), never fatal.
func (db *DB) replay() (ReplayStats, error) {
	var rs ReplayStats
	var g decodedGroup
	now := time.Now().UnixNano()
	ws, err := db.wal.Replay(func(rec []byte) error {
		if err := db.codec.decode(rec, &g); err != nil {
			rs.badRecords++
			db.log.Warn("WAL record does not decode; skipped", "err", err)
			return nil
		}
		for _, ds := range g.series {
			rs.maxRef = max(rs.maxRef, ds.ref)
			if s := db.series.get(ds.ref); s != nil {
				if !labels.Equal(s.lset, ds.lset) {
					rs.conflicts++
				}
				continue
			}
			db.defineSeries(ds.ref, ds.lset)
		}
		db.series.mu.RLock()
		for i, ref := range g.refs {
			rs.maxRef = max(rs.maxRef, ref)
			s := db.series.getLocked(ref)
			if s == nil || !checkTimestamp(g.ts[i]) {
				rs.orphanSamples++
				continue
			}
			db.applyLocked(s, g.ts[i], g.vals[i])
			rs.samples++
		}
		db.series.mu.RUnlock()
		return nil
	})
	rs.wal = ws
	if err != nil {
		return rs, fmt.Errorf("cannot replay WAL: %w", err)
	}
	if rs.samples > 0 {
		db.head.samples.Add(int64(rs.samples))
		db.head.oldestNano.Store(now)
	}
	if rs.conflicts > 0 {
		db.log.Error("WAL series definitions disagree with the series files; the files win", "series", rs.conflicts)
	}
	return rs, nil
}

// applyLocked adds one sample to the head and notes a series that now has
// samples there; the caller adds to head.samples. Called by the committer
// (or the replay, before it starts) with db.series.mu held for reading.
func (db *DB) applyLocked(s *memSeries, t int64, v float64) {
	if s.append(t, v) == 1 {
		db.head.dirty = append(db.head.dirty, s)
		db.head.series.Add(1)
	}
}
