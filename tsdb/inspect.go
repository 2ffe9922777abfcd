package tsdb

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/quantrac/quantrac/tsdb/part"
)

// Report describes a data directory: what `quantrac inspect` prints. It is
// read without opening the store, so it works on a directory no server
// holds, and reads a held one without disturbing it (InUse says so, and the
// figures may then be moving).
type Report struct {
	Dir   string `json:"dir"`
	InUse bool   `json:"in_use"` // a store (a running server) holds the directory

	Series      int   `json:"series"`       // series defined in series files
	SeriesFiles int   `json:"series_files"` // files they are in
	WALSegments int   `json:"wal_segments"`
	WALBytes    int64 `json:"wal_bytes"` // samples not in parts yet, compressed

	Partitions []PartitionReport `json:"partitions"`

	Parts          int     `json:"parts"`
	Samples        uint64  `json:"samples"` // samples in parts
	Bytes          int64   `json:"bytes"`   // bytes of parts on disk
	BytesPerSample float64 `json:"bytes_per_sample"`
	// Broken lists files that could not be read, with why.
	Broken []string `json:"broken,omitempty"`
}

// PartitionReport describes one day's partition.
type PartitionReport struct {
	Name           string       `json:"name"` // YYYYMMDD, UTC
	Start          time.Time    `json:"start"`
	Series         int          `json:"series"` // distinct series in its parts
	Samples        uint64       `json:"samples"`
	Bytes          int64        `json:"bytes"`
	BytesPerSample float64      `json:"bytes_per_sample"`
	MinTime        time.Time    `json:"min_time"`
	MaxTime        time.Time    `json:"max_time"`
	Parts          []PartReport `json:"parts"`
}

// PartReport describes one part file.
type PartReport struct {
	Name           string    `json:"name"`
	MinSeq         uint64    `json:"min_seq"`
	MaxSeq         uint64    `json:"max_seq"`
	Series         uint64    `json:"series"`
	Blocks         uint64    `json:"blocks"`
	Samples        uint64    `json:"samples"`
	Bytes          int64     `json:"bytes"`
	TimestampBytes uint64    `json:"timestamp_bytes"`
	ValueBytes     uint64    `json:"value_bytes"`
	BytesPerSample float64   `json:"bytes_per_sample"`
	MinTime        time.Time `json:"min_time"`
	MaxTime        time.Time `json:"max_time"`
}

// Inspect reads the data directory dir and reports what it holds. It only
// reads; files a running store deletes meanwhile are skipped.
func Inspect(dir string) (*Report, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("cannot inspect %s: %w", dir, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("cannot inspect %s: not a directory", dir)
	}
	rep := &Report{Dir: dir}
	if rep.InUse, err = DirInUse(dir); err != nil {
		return nil, err
	}
	if err := inspectSeries(dir, rep); err != nil {
		return nil, err
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "wal", "*.wal"))
	for _, s := range segs {
		if fi, err := os.Stat(s); err == nil {
			rep.WALSegments++
			rep.WALBytes += fi.Size()
		}
	}
	codec, err := part.NewCodec()
	if err != nil {
		return nil, err
	}
	defer codec.Close()
	days, _ := os.ReadDir(filepath.Join(dir, partsDirName))
	for _, d := range days {
		day, ok := parsePartitionName(d.Name())
		if !ok || !d.IsDir() {
			continue
		}
		pr := inspectPartition(filepath.Join(dir, partsDirName, d.Name()), day, codec, rep)
		if len(pr.Parts) == 0 {
			continue
		}
		rep.Partitions = append(rep.Partitions, pr)
		rep.Parts += len(pr.Parts)
		rep.Samples += pr.Samples
		rep.Bytes += pr.Bytes
	}
	rep.BytesPerSample = perSample(rep.Bytes, rep.Samples)
	return rep, nil
}

func perSample(bytes int64, samples uint64) float64 {
	if samples == 0 {
		return 0
	}
	return float64(bytes) / float64(samples)
}

func inspectSeries(dir string, rep *Report) error {
	files, err := listSeriesFilesReadOnly(filepath.Join(dir, seriesDirName))
	if err != nil {
		return err
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxSeriesFileBody))
	if err != nil {
		return fmt.Errorf("cannot create zstd decoder: %w", err)
	}
	defer dec.Close()
	seen := map[SeriesRef]struct{}{}
	for _, sf := range files {
		err := readSeriesFile(sf.name, dec, func(ref SeriesRef, _ labels.Labels) { seen[ref] = struct{}{} })
		switch {
		case errors.Is(err, os.ErrNotExist):
			continue // compacted away while we looked
		case err != nil:
			rep.Broken = append(rep.Broken, err.Error())
			continue
		}
		rep.SeriesFiles++
	}
	rep.Series = len(seen)
	return nil
}

// listSeriesFilesReadOnly lists series files without removing leftovers.
func listSeriesFilesReadOnly(dir string) ([]seriesFile, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cannot list series directory: %w", err)
	}
	var out []seriesFile
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), seriesExt) {
			out = append(out, seriesFile{name: filepath.Join(dir, e.Name())})
		}
	}
	return out, nil
}

func inspectPartition(dir string, day int64, codec *part.Codec, rep *Report) PartitionReport {
	lo, _ := partitionBounds(day)
	pr := PartitionReport{Name: partitionName(day), Start: time.UnixMilli(lo).UTC()}
	ents, _ := os.ReadDir(dir)
	var readers []*part.Reader
	defer func() {
		for _, r := range readers {
			r.Close()
		}
	}()
	for _, e := range ents {
		if _, _, _, ok := parsePartFileName(e.Name()); !ok {
			continue
		}
		r, err := part.Open(filepath.Join(dir, e.Name()), codec)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			rep.Broken = append(rep.Broken, err.Error())
			continue
		}
		readers = append(readers, r)
		info := r.Info()
		pr.Parts = append(pr.Parts, PartReport{
			Name: e.Name(), MinSeq: info.MinSeq, MaxSeq: info.MaxSeq,
			Series: info.Series, Blocks: info.Blocks, Samples: info.Samples, Bytes: info.Size,
			TimestampBytes: info.TSBytes, ValueBytes: info.ValBytes,
			BytesPerSample: perSample(info.Size, info.Samples),
			MinTime:        time.UnixMilli(info.MinT).UTC(), MaxTime: time.UnixMilli(info.MaxT).UTC(),
		})
		pr.Samples += info.Samples
		pr.Bytes += info.Size
		if len(pr.Parts) == 1 || info.MinT < pr.MinTime.UnixMilli() {
			pr.MinTime = time.UnixMilli(info.MinT).UTC()
		}
		if len(pr.Parts) == 1 || info.MaxT > pr.MaxTime.UnixMilli() {
			pr.MaxTime = time.UnixMilli(info.MaxT).UTC()
		}
	}
	slices.SortFunc(pr.Parts, func(a, b PartReport) int { return cmp.Compare(a.MinSeq, b.MinSeq) })
	pr.BytesPerSample = perSample(pr.Bytes, pr.Samples)
	n, err := distinctSeries(readers)
	if err != nil {
		rep.Broken = append(rep.Broken, err.Error())
	}
	pr.Series = n
	return pr
}

// distinctSeries counts the series present in any of the parts, walking
// their indexes together in ref order.
func distinctSeries(readers []*part.Reader) (int, error) {
	cursors := make([]*part.Cursor, 0, len(readers))
	for _, r := range readers {
		c := r.NewCursor()
		if c.Next() {
			cursors = append(cursors, c)
		} else if err := c.Err(); err != nil {
			return 0, err
		}
	}
	n := 0
	for len(cursors) > 0 {
		ref := cursors[0].At().Ref
		for _, c := range cursors[1:] {
			ref = min(ref, c.At().Ref)
		}
		n++
		live := cursors[:0]
		for _, c := range cursors {
			if c.At().Ref == ref && !c.Next() {
				if err := c.Err(); err != nil {
					return n, err
				}
				continue
			}
			live = append(live, c)
		}
		cursors = live
	}
	return n, nil
}
