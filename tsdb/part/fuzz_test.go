package part

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzPart opens arbitrary bytes as a part, scans its index and decodes
// every block: a damaged or hostile part must give errors, never a panic, a
// hang or a huge allocation.
func FuzzPart(f *testing.F) {
	c, err := NewCodec()
	if err != nil {
		f.Fatal(err)
	}
	defer c.Close()
	dir := f.TempDir()
	path := filepath.Join(dir, "seed"+Extension)
	w, err := Create(path, c, WriterOptions{MinSeq: 1, MaxSeq: 2})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range genSeries(4, 40, 2) {
		if err := w.WriteSeries(s.ref, s.ts, s.vals); err != nil {
			f.Fatal(err)
		}
	}
	if _, err := w.Finish(); err != nil {
		f.Fatal(err)
	}
	good, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add(good[len(good)-footerSize:])

	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "f"+Extension)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := Open(p, c)
		if err != nil {
			return
		}
		defer r.Close()
		var buf BlockBuffer
		cur := r.NewCursor()
		for cur.Next() {
			sb := cur.At()
			for _, b := range sb.Blocks {
				if err := r.ReadBlock(b, &buf); err != nil {
					continue
				}
				if len(buf.TS) != b.Count || len(buf.Vals) != b.Count {
					t.Fatalf("block decoded to %d samples, index says %d", len(buf.TS), b.Count)
				}
			}
			if blocks, err := r.NewCursor().Find(sb.Ref); err == nil && len(blocks) != len(sb.Blocks) {
				t.Fatalf("Find(%d) found %d blocks, the scan %d", sb.Ref, len(blocks), len(sb.Blocks))
			}
		}
	})
}
