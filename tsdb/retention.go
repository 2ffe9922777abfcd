package tsdb

import (
	"math"
	"os"
	"time"
)

// retentionCutoff returns the first partition kept at time now: every
// partition before it ends more than Retention ago. With no retention it is
// the smallest day.
func (db *DB) retentionCutoff(now time.Time) int64 {
	if db.opts.Retention <= 0 {
		return math.MinInt64
	}
	return partitionOf(now.UnixMilli() - db.opts.Retention.Milliseconds())
}

// applyRetention drops every partition that ends before now - Retention:
// its parts leave the part set at once and their files go when the last
// query reading them finishes. It returns the number of partitions dropped.
func (db *DB) applyRetention(now time.Time) int {
	cutoff := db.retentionCutoff(now)
	var dropped []*partRef
	var dirs []string
	db.state.Lock()
	for day, ps := range db.state.partitions {
		if day >= cutoff {
			continue
		}
		dropped = append(dropped, ps...)
		dirs = append(dirs, db.partitionDir(day))
		delete(db.state.partitions, day)
	}
	db.state.Unlock()
	for _, p := range dropped {
		p.drop.Store(true)
		p.release()
	}
	for _, dir := range dirs {
		// Fails while a query still holds a part; the next Open removes the
		// empty directory then.
		os.Remove(dir)
		db.log.Info("partition dropped by retention", "partition", dir, "retention", db.opts.Retention)
	}
	db.stats.partitionsDropped.Add(int64(len(dirs)))
	return len(dirs)
}
