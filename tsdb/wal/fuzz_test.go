package wal

import (
	"hash/crc32"
	"os"
	"testing"
)

// FuzzReplay feeds arbitrary segment contents to Replay: it must never panic,
// must hand out only records whose checksum matches, and must leave a segment
// that a second replay reads without damage.
func FuzzReplay(f *testing.F) {
	seg := []byte{'Q', 'W', 'A', 'L', formatVersion, 0, 0, 0}
	rec := func(body string) []byte {
		var fr [frameSize]byte
		putU32(fr[0:4], uint32(len(body)))
		putU32(fr[4:8], crc32.Checksum([]byte(body), castagnoli))
		return append(fr[:], body...)
	}
	good := append(append(append([]byte{}, seg...), rec("alpha")...), rec("bravo")...)
	f.Add(good)
	f.Add(good[:len(good)-2])
	f.Add(seg)
	f.Add([]byte("QWAL"))
	f.Add(append(append([]byte{}, seg...), 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0))
	f.Add(append(append([]byte{}, good...), make([]byte, 64)...)) // a tail of zeros
	longer := append([]byte{}, good...)
	longer[headerSize] += 2 // alpha's length runs into bravo
	f.Add(longer)

	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(segmentName(dir, 1), data, 0o644); err != nil {
			t.Fatal(err)
		}
		w, err := Open(dir, Options{Logger: quiet()})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		if _, err := w.Replay(func(rec []byte) error { n++; return nil }); err != nil && len(data) >= headerSize && data[4] >= minReadVersion && data[4] <= formatVersion {
			t.Fatalf("replay of a current-version segment failed: %v", err)
		}
		w2, err := Open(dir, Options{Logger: quiet()})
		if err != nil {
			t.Fatal(err)
		}
		m := 0
		st, err := w2.Replay(func(rec []byte) error { m++; return nil })
		if err == nil && st.TruncatedBytes != 0 {
			t.Fatalf("second replay still cut %d bytes", st.TruncatedBytes)
		}
		if err == nil && m != n {
			t.Fatalf("second replay found %d records, first %d", m, n)
		}
	})
}
