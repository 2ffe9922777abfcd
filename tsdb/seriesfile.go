package tsdb

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/quantrac/quantrac/internal/fsutil"
	"github.com/quantrac/quantrac/tsdb/part"
)

// Series files persist series definitions (ref -> labels) so that deleting
// WAL segments never loses a series. Each file covers a range of refs and is
// named <first>-<last>.series in <Dir>/series. Layout:
//
//	"QSER" u8 version 3 zero bytes
//	zstd frame of:
//	  uvarint series count
//	  per series: uvarint ref - previous ref (the first from 0),
//	              uvarint label count, per label: uvarint len, name,
//	              uvarint len, value
//	u32 little endian CRC-32C of every byte before it
//	"QSER"
const (
	seriesDirName     = "series"
	seriesExt         = ".series"
	seriesMagic       = "QSER"
	seriesVersion     = 1
	maxSeriesFileBody = 1 << 30

	// seriesCompactAt is the number of series files that triggers rewriting
	// them as one: each flush that saw new series adds a file.
	seriesCompactAt = 16
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errSeriesFile is wrapped by errors about a damaged series file.
var errSeriesFile = errors.New("damaged series file")

type seriesFile struct {
	name        string
	first, last SeriesRef
}

func listSeriesFiles(dir string) ([]seriesFile, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("cannot list series directory: %w", err)
	}
	var out []seriesFile
	for _, e := range ents {
		name := e.Name()
		if strings.HasSuffix(name, part.TempSuffix) {
			os.Remove(filepath.Join(dir, name)) // a write that never finished
			continue
		}
		base, ok := strings.CutSuffix(name, seriesExt)
		if !ok {
			continue
		}
		a, b, ok := strings.Cut(base, "-")
		first, err1 := strconv.ParseUint(a, 10, 64)
		last, err2 := strconv.ParseUint(b, 10, 64)
		if !ok || err1 != nil || err2 != nil || first > last {
			continue
		}
		out = append(out, seriesFile{name: filepath.Join(dir, name), first: SeriesRef(first), last: SeriesRef(last)})
	}
	slices.SortFunc(out, func(a, b seriesFile) int {
		if c := cmp.Compare(a.first, b.first); c != 0 {
			return c
		}
		return cmp.Compare(b.last, a.last)
	})
	return out, nil
}

// writeSeriesFile writes the definitions of series (ascending refs) to a new
// series file, durably.
func writeSeriesFile(dir string, enc *zstd.Encoder, series []*memSeries) (seriesFile, error) {
	first, last := series[0].ref, series[len(series)-1].ref
	b := encodeSeriesFile(enc, series)
	sf := seriesFile{name: filepath.Join(dir, fmt.Sprintf("%d-%d%s", first, last, seriesExt)), first: first, last: last}
	if err := writeFileDurably(sf.name, b); err != nil {
		return seriesFile{}, err
	}
	return sf, nil
}

// encodeSeriesFile returns the bytes of a series file holding series.
func encodeSeriesFile(enc *zstd.Encoder, series []*memSeries) []byte {
	raw := binary.AppendUvarint(nil, uint64(len(series)))
	var prev SeriesRef
	for _, s := range series {
		raw = binary.AppendUvarint(raw, uint64(s.ref-prev))
		prev = s.ref
		raw = binary.AppendUvarint(raw, uint64(s.lset.Len()))
		s.lset.Range(func(l labels.Label) {
			raw = binary.AppendUvarint(raw, uint64(len(l.Name)))
			raw = append(raw, l.Name...)
			raw = binary.AppendUvarint(raw, uint64(len(l.Value)))
			raw = append(raw, l.Value...)
		})
	}
	b := []byte{seriesMagic[0], seriesMagic[1], seriesMagic[2], seriesMagic[3], seriesVersion, 0, 0, 0}
	b = enc.EncodeAll(raw, b)
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	return append(b, seriesMagic...)
}

// writeFileDurably writes b under a temporary name, fsyncs it, renames it to
// name and fsyncs the directory.
func writeFileDurably(name string, b []byte) error {
	tmp := name + part.TempSuffix
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("cannot create %s: %w", tmp, err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, name)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("cannot write %s: %w", name, err)
	}
	return fsutil.SyncDir(filepath.Dir(name))
}

// readSeriesFile calls fn for every series in the file, in ref order.
func readSeriesFile(name string, dec *zstd.Decoder, fn func(SeriesRef, labels.Labels)) error {
	b, err := os.ReadFile(name)
	if err != nil {
		return fmt.Errorf("cannot read series file: %w", err)
	}
	return decodeSeriesFile(name, b, dec, fn)
}

// decodeSeriesFile calls fn for every series in b, the bytes of the series
// file name, in ref order.
func decodeSeriesFile(name string, b []byte, dec *zstd.Decoder, fn func(SeriesRef, labels.Labels)) error {
	n := len(b)
	if n < 16 || string(b[:4]) != seriesMagic || string(b[n-4:]) != seriesMagic {
		return fmt.Errorf("%w %s: bad magic", errSeriesFile, name)
	}
	if b[4] != seriesVersion {
		return fmt.Errorf("series file %s has format version %d, this build reads %d", name, b[4], seriesVersion)
	}
	if crc32.Checksum(b[:n-8], castagnoli) != binary.LittleEndian.Uint32(b[n-8:]) {
		return fmt.Errorf("%w %s: checksum mismatch", errSeriesFile, name)
	}
	raw, err := dec.DecodeAll(b[8:n-8], nil)
	if err != nil {
		return fmt.Errorf("%w %s: %w", errSeriesFile, name, err)
	}
	r := reader{b: raw}
	count := r.uvarint()
	var ref SeriesRef
	var lb labels.ScratchBuilder
	for i := uint64(0); i < count && r.err == nil; i++ {
		delta := r.uvarint()
		nl := r.uvarint()
		if delta == 0 || nl > uint64(len(r.b)) {
			return fmt.Errorf("%w %s: bad series entry", errSeriesFile, name)
		}
		ref += SeriesRef(delta)
		lb.Reset()
		for j := uint64(0); j < nl && r.err == nil; j++ {
			name, value := r.bytes(), r.bytes()
			lb.Add(string(name), string(value))
		}
		if r.err != nil {
			break
		}
		lb.Sort()
		fn(ref, lb.Labels())
	}
	if r.err != nil || len(r.b) != 0 {
		return fmt.Errorf("%w %s: truncated or trailing bytes", errSeriesFile, name)
	}
	return nil
}
