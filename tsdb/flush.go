package tsdb

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/quantrac/quantrac/internal/fsutil"
	"github.com/quantrac/quantrac/tsdb/part"
)

// flushLoop is the flusher goroutine. It rotates the head into a frozen head
// when the head is over its memory budget or its oldest sample has waited
// FlushInterval, writes the frozen head into parts, and then lets the WAL
// go. A failed flush keeps the frozen head (queries still see it, the WAL
// still holds it) and is retried.
func (db *DB) flushLoop() {
	defer close(db.flusherDone)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var failed *frozenHead
	for {
		select {
		case <-db.stop:
			return
		case <-db.flushKick:
		case <-tick.C:
		}
		db.flushMu.Lock()
		failed = db.flushStep(failed)
		db.flushMu.Unlock()
	}
}

// flushStep retries a failed flush, or flushes the head if it is due. It
// returns the frozen head whose flush failed, if any. Called with flushMu
// held.
func (db *DB) flushStep(failed *frozenHead) *frozenHead {
	if failed != nil {
		if err := db.flush(failed); err != nil {
			db.log.Error("flush failed again; will retry", "err", err)
			return failed
		}
	}
	if !db.flushDue(time.Now()) {
		return nil
	}
	fh, err := db.requestRotation()
	if err != nil || fh == nil {
		if err != nil && !errors.Is(err, ErrClosed) {
			db.log.Error("cannot rotate the head", "err", err)
		}
		return nil
	}
	if err := db.flush(fh); err != nil {
		db.log.Error("flush failed; the samples stay in memory and in the WAL", "err", err)
		return fh
	}
	return nil
}

// flushNow rotates and flushes the head at once, whatever its size.
func (db *DB) flushNow() error {
	db.flushMu.Lock()
	defer db.flushMu.Unlock()
	fh, err := db.requestRotation()
	if err != nil || fh == nil {
		return err
	}
	return db.flush(fh)
}

// flushThreshold returns the head size, in samples, that triggers a flush
// for n series with samples in the head.
func (db *DB) flushThreshold(n int64) int64 {
	return max(int64(db.opts.HeadMinFlushSamples), n*int64(db.opts.HeadSamplesPerSeries))
}

// flushDue reports whether the head should be flushed now.
func (db *DB) flushDue(now time.Time) bool {
	samples := db.head.samples.Load()
	if samples == 0 {
		return false
	}
	if samples >= db.flushThreshold(db.head.series.Load()) {
		return true
	}
	oldest := db.head.oldestNano.Load()
	return oldest != 0 && now.Sub(time.Unix(0, oldest)) >= db.opts.FlushInterval
}

// requestRotation asks the committer to cut the head between two groups,
// freezes what it cut and returns the frozen head, or nil if the head was
// empty.
func (db *DB) requestRotation() (*frozenHead, error) {
	reply := make(chan rotation, 1)
	select {
	case db.rotateReq <- reply:
	case <-db.stop:
		return nil, ErrClosed
	}
	r := <-reply
	if r.cut == nil {
		return nil, r.err
	}
	return db.freeze(*r.cut), nil
}

type rotation struct {
	cut *headCut // nil: the head was empty, or err
	err error
}

// flush writes a frozen head into parts, one per partition it touches,
// persists the series definitions the WAL segments it covers may hold,
// installs the parts, and removes those segments.
func (db *DB) flush(fh *frozenHead) error {
	defer func() { // a committer waiting for room looks again
		select {
		case db.flushed <- struct{}{}:
		default:
		}
	}()
	start := time.Now()
	parts, dropped, err := db.writeFrozen(fh)
	if err != nil {
		return err
	}
	if err := db.persistSeries(fh.maxRef); err != nil {
		for _, p := range parts {
			p.drop.Store(true)
			p.release()
		}
		return err
	}
	db.state.Lock()
	db.installFlushLocked(parts)
	db.state.Unlock()
	if err := db.wal.RemoveBefore(fh.walNext); err != nil {
		db.log.Warn("cannot remove flushed WAL segments; the next flush retries", "err", err)
	}
	db.stats.flushes.Add(1)
	db.stats.flushedSamples.Add(int64(fh.samples()))
	if dropped > 0 {
		db.stats.retentionDropped.Add(int64(dropped))
	}
	db.log.Debug("head flushed", "samples", fh.samples(), "series", len(fh.refs), "parts", len(parts),
		"dropped_by_retention", dropped, "duration", time.Since(start).Round(time.Millisecond))
	db.signalMerge()
	return nil
}

// writeFrozen writes fh into new parts. Samples older than the retention
// are not written; their count is returned.
func (db *DB) writeFrozen(fh *frozenHead) (parts []*partRef, dropped int, err error) {
	if fh.samples() == 0 {
		return nil, 0, nil
	}
	seq := db.nextSeq.Add(1) - 1
	writers := map[int64]*part.Writer{}
	defer func() {
		if err != nil {
			for _, w := range writers {
				w.Abort()
			}
			for _, p := range parts {
				p.drop.Store(true)
				p.release()
			}
			parts = nil
		}
	}()
	cutoff := db.retentionCutoff(time.Now())
	for i, ref := range fh.refs {
		ts := fh.ts[fh.starts[i]:fh.starts[i+1]]
		vals := fh.vals[fh.starts[i]:fh.starts[i+1]]
		for len(ts) > 0 {
			day := partitionOf(ts[0])
			_, hi := partitionBounds(day)
			n, _ := slices.BinarySearch(ts, hi+1)
			if day < cutoff {
				dropped += n
			} else {
				w, err := db.partitionWriter(writers, day, seq)
				if err != nil {
					return nil, 0, err
				}
				if err := w.WriteSeries(uint64(ref), ts[:n], vals[:n]); err != nil {
					return nil, 0, err
				}
			}
			ts, vals = ts[n:], vals[n:]
		}
	}
	days := make([]int64, 0, len(writers))
	for day := range writers {
		days = append(days, day)
	}
	slices.Sort(days)
	for _, day := range days {
		w := writers[day]
		delete(writers, day)
		if _, err := w.Finish(); err != nil {
			return nil, 0, err
		}
		p, err := db.openPart(day, seq, seq, false)
		if err != nil {
			return nil, 0, err
		}
		parts = append(parts, p)
	}
	return parts, dropped, nil
}

func (db *DB) partitionDir(day int64) string {
	return filepath.Join(db.opts.Dir, partsDirName, partitionName(day))
}

func (db *DB) partitionWriter(writers map[int64]*part.Writer, day int64, seq uint64) (*part.Writer, error) {
	if w := writers[day]; w != nil {
		return w, nil
	}
	dir := db.partitionDir(day)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create partition directory: %w", err)
	}
	if err := fsutil.SyncDir(filepath.Dir(dir)); err != nil {
		return nil, err
	}
	w, err := part.Create(filepath.Join(dir, partFileName(seq, seq, false)), db.flushCodec,
		part.WriterOptions{MinSeq: seq, MaxSeq: seq, NoSharedTimestamps: db.opts.NoSharedTimestamps})
	if err != nil {
		return nil, err
	}
	writers[day] = w
	return w, nil
}

func (db *DB) openPart(day int64, minSeq, maxSeq uint64, draft bool) (*partRef, error) {
	r, err := part.Open(filepath.Join(db.partitionDir(day), partFileName(minSeq, maxSeq, draft)), db.partCodec)
	if err != nil {
		return nil, err
	}
	return newPartRef(day, r, draft, db.log), nil
}

// persistSeries makes every series definition up to maxRef durable in a
// series file, so that the WAL segments that defined them can go.
func (db *DB) persistSeries(maxRef SeriesRef) error {
	db.seriesFiles.Lock()
	defer db.seriesFiles.Unlock()
	from := db.seriesFiles.persisted + 1
	if from > maxRef {
		return nil
	}
	batch := make([]*memSeries, 0, maxRef-from+1)
	for ref := from; ref <= maxRef; ref++ {
		if s := db.series.get(ref); s != nil {
			batch = append(batch, s)
		}
	}
	dir := filepath.Join(db.opts.Dir, seriesDirName)
	if len(batch) > 0 {
		sf, err := writeSeriesFile(dir, db.seriesEnc, batch)
		if err != nil {
			return err
		}
		db.seriesFiles.files = append(db.seriesFiles.files, sf)
	}
	db.seriesFiles.persisted = maxRef
	if len(db.seriesFiles.files) >= seriesCompactAt {
		if err := db.compactSeriesFilesLocked(); err != nil {
			db.log.Warn("cannot compact series files; they stay as they are", "err", err)
		}
	}
	return nil
}

// compactSeriesFilesLocked rewrites all series files as one. The new file
// is durable before the old ones are removed; a crash in between leaves
// overlapping files, which loading tolerates. Called with seriesFiles
// held.
func (db *DB) compactSeriesFilesLocked() error {
	all := make([]*memSeries, 0, db.seriesFiles.persisted)
	for ref := SeriesRef(1); ref <= db.seriesFiles.persisted; ref++ {
		if s := db.series.get(ref); s != nil {
			all = append(all, s)
		}
	}
	if len(all) == 0 {
		return nil
	}
	sf, err := writeSeriesFile(filepath.Join(db.opts.Dir, seriesDirName), db.seriesEnc, all)
	if err != nil {
		return err
	}
	for _, old := range db.seriesFiles.files {
		if old.name != sf.name {
			os.Remove(old.name)
		}
	}
	db.seriesFiles.files = []seriesFile{sf}
	return fsutil.SyncDir(filepath.Join(db.opts.Dir, seriesDirName))
}
