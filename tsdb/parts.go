package tsdb

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/quantrac/quantrac/tsdb/part"
)

// Parts live in time partitions of one UTC day each:
// <Dir>/parts/<YYYYMMDD>/<min seq>-<max seq>.part. A part's sequence range
// names the flushes its samples came from; within a partition the ranges
// never overlap, and a higher range holds later writes.
const (
	partsDirName    = "parts"
	partitionMillis = 24 * 60 * 60 * 1000
	partitionLayout = "20060102"
)

// partitionOf returns the partition (days since the Unix epoch, UTC) of a
// timestamp.
func partitionOf(ts int64) int64 {
	d := ts / partitionMillis
	if ts%partitionMillis < 0 {
		d--
	}
	return d
}

func partitionName(day int64) string {
	return time.UnixMilli(day * partitionMillis).UTC().Format(partitionLayout)
}

func parsePartitionName(name string) (int64, bool) {
	t, err := time.Parse(partitionLayout, name)
	if err != nil || t.Format(partitionLayout) != name {
		return 0, false
	}
	return partitionOf(t.UnixMilli()), true
}

// partitionBounds returns the first and last millisecond of a partition.
func partitionBounds(day int64) (int64, int64) {
	return day * partitionMillis, (day+1)*partitionMillis - 1
}

// draftSuffix marks the file name of a draft part: one written by a merge
// of a partition still being written, without entropy coding
// (encoding.Codec.Draft). The partition's final merge rewrites every draft
// part in full, even one left alone in its partition.
const draftSuffix = ".draft"

func partFileName(minSeq, maxSeq uint64, draft bool) string {
	d := ""
	if draft {
		d = draftSuffix
	}
	return fmt.Sprintf("%012d-%012d%s%s", minSeq, maxSeq, d, part.Extension)
}

// parsePartFileName returns the sequence range of a part's file name and
// whether it is a draft.
func parsePartFileName(name string) (lo, hi uint64, draft, ok bool) {
	base, ok := strings.CutSuffix(name, part.Extension)
	if !ok {
		return 0, 0, false, false
	}
	base, draft = strings.CutSuffix(base, draftSuffix)
	a, b, ok := strings.Cut(base, "-")
	lo, err1 := strconv.ParseUint(a, 10, 64)
	hi, err2 := strconv.ParseUint(b, 10, 64)
	if !ok || err1 != nil || err2 != nil || lo > hi {
		return 0, 0, false, false
	}
	return lo, hi, draft, true
}

// partRef is an open part shared by the part set, queries and merges. It is
// reference counted: the set holds one reference while the part is in it,
// and each query or merge that reads it holds one more. The part is closed,
// and its file deleted if it was dropped, when the last reference goes.
type partRef struct {
	day  int64
	r    *part.Reader
	info part.Info
	refs atomic.Int64
	drop atomic.Bool // delete the file on the last release
	log  *slog.Logger

	merging bool // a merge has taken it; guarded by DB.state
	draft   bool // written without entropy coding (draftSuffix)
}

func newPartRef(day int64, r *part.Reader, draft bool, log *slog.Logger) *partRef {
	p := &partRef{day: day, r: r, info: r.Info(), draft: draft, log: log}
	p.refs.Store(1)
	return p
}

func (p *partRef) acquire() { p.refs.Add(1) }

func (p *partRef) release() {
	n := p.refs.Add(-1)
	if n > 0 {
		return
	}
	if n < 0 {
		panic("BUG: tsdb: part released more often than acquired")
	}
	path := p.r.Path()
	if err := p.r.Close(); err != nil {
		p.log.Warn("cannot close part", "part", path, "err", err)
	}
	if p.drop.Load() {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			p.log.Warn("cannot remove dropped part", "part", path, "err", err)
		}
		// The partition's last part takes the directory with it; any other
		// part keeps it (the removal fails on a directory that is not empty).
		os.Remove(filepath.Dir(path))
	}
}

// loadParts opens every part under dir/parts. It finishes what a crash
// interrupted: temporary files are removed, and a part whose sequence range
// lies inside another's (the inputs of a merge whose output was already
// renamed into place) is deleted. A part that does not open is renamed to
// <name>.broken and reported, never deleted.
func (db *DB) loadParts() (map[int64][]*partRef, error) {
	root := filepath.Join(db.opts.Dir, partsDirName)
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create parts directory: %w", err)
	}
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("cannot list parts directory: %w", err)
	}
	out := make(map[int64][]*partRef)
	for _, e := range ents {
		day, ok := parsePartitionName(e.Name())
		if !ok || !e.IsDir() {
			continue
		}
		parts, err := db.loadPartition(filepath.Join(root, e.Name()), day)
		if err != nil {
			for _, ps := range out {
				for _, p := range ps {
					p.release()
				}
			}
			return nil, err
		}
		if len(parts) > 0 {
			out[day] = parts
		} else {
			os.Remove(filepath.Join(root, e.Name())) // empty: retention or merges emptied it
		}
	}
	return out, nil
}

func (db *DB) loadPartition(dir string, day int64) ([]*partRef, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("cannot list partition %s: %w", dir, err)
	}
	var parts []*partRef
	for _, e := range ents {
		name := filepath.Join(dir, e.Name())
		if strings.HasSuffix(e.Name(), part.TempSuffix) {
			db.log.Info("removing unfinished part", "file", name)
			os.Remove(name)
			continue
		}
		lo, hi, draft, ok := parsePartFileName(e.Name())
		if !ok {
			continue
		}
		r, err := part.Open(name, db.partCodec)
		if err == nil && (r.Info().MinSeq != lo || r.Info().MaxSeq != hi) {
			r.Close()
			err = fmt.Errorf("part %s: %w", name, part.ErrCorrupt)
		}
		if err != nil {
			db.log.Error("part does not open; set aside and not served", "part", name, "err", err)
			if rerr := os.Rename(name, name+".broken"); rerr != nil {
				return nil, fmt.Errorf("cannot set aside broken part: %w", rerr)
			}
			db.stats.brokenParts.Add(1)
			continue
		}
		parts = append(parts, newPartRef(day, r, draft, db.log))
	}
	slices.SortFunc(parts, func(a, b *partRef) int {
		if c := cmp.Compare(a.info.MinSeq, b.info.MinSeq); c != 0 {
			return c
		}
		if c := cmp.Compare(b.info.MaxSeq, a.info.MaxSeq); c != 0 {
			return c // the widest first
		}
		// A draft and its full rewrite (a crash came between them): the
		// rewrite first, so that the draft is the one removed.
		switch {
		case a.draft == b.draft:
			return 0
		case b.draft:
			return -1
		}
		return 1
	})
	keep := parts[:0]
	for _, p := range parts {
		if n := len(keep); n > 0 && p.info.MaxSeq <= keep[n-1].info.MaxSeq {
			db.log.Info("removing part already merged into another", "part", p.r.Path(), "into", keep[n-1].r.Path())
			p.drop.Store(true)
			p.release()
			continue
		}
		keep = append(keep, p)
	}
	return keep, nil
}

// snapshotParts returns the parts of every partition that overlaps [mint,
// maxt], acquired, oldest partition first and within one in sequence
// order. Called with the state lock held.
func (db *DB) snapshotPartsLocked(mint, maxt int64, dst []*partRef) []*partRef {
	for day, ps := range db.state.partitions {
		lo, hi := partitionBounds(day)
		if hi < mint || lo > maxt {
			continue
		}
		for _, p := range ps {
			if p.info.MaxT < mint || p.info.MinT > maxt {
				continue
			}
			p.acquire()
			dst = append(dst, p)
		}
	}
	slices.SortFunc(dst, func(a, b *partRef) int {
		if c := cmp.Compare(a.day, b.day); c != 0 {
			return c
		}
		return cmp.Compare(a.info.MinSeq, b.info.MinSeq)
	})
	return dst
}

// installParts adds freshly flushed parts to their partitions and clears
// the frozen head they came from, in one step under the state lock.
func (db *DB) installFlushLocked(parts []*partRef) {
	for _, p := range parts {
		db.state.partitions[p.day] = append(db.state.partitions[p.day], p)
	}
	db.state.frozen = nil
}
