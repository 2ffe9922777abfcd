package wal

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func writeRecords(t *testing.T, dir string, opts Options, recs ...string) {
	t.Helper()
	w, err := Open(dir, opts)
	require.NoError(t, err)
	for _, r := range recs {
		require.NoError(t, w.Write([]byte(r)))
	}
	require.NoError(t, w.Sync())
	require.NoError(t, w.Close())
}

func replayAll(t *testing.T, dir string, opts Options) ([]string, ReplayStats) {
	t.Helper()
	w, err := Open(dir, opts)
	require.NoError(t, err)
	var got []string
	st, err := w.Replay(func(rec []byte) error {
		got = append(got, string(rec))
		return nil
	})
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return got, st
}

func TestWriteReplayAcrossSegments(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentSize: 64, Logger: quiet()}
	var want []string
	for i := range 20 {
		want = append(want, fmt.Sprintf("record-%02d-%s", i, "xxxxxxxxxxxxxxxx"))
	}
	writeRecords(t, dir, opts, want...)
	segs, err := listSegments(dir)
	require.NoError(t, err)
	require.Greater(t, len(segs), 5, "records should spread over several segments")

	got, st := replayAll(t, dir, opts)
	require.Equal(t, want, got)
	require.False(t, st.Dropped())
	require.Equal(t, len(segs), st.Segments)
}

func TestReplayTornTail(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Logger: quiet()}
	writeRecords(t, dir, opts, "alpha", "bravo", "charlie")
	name := segmentName(dir, 1)
	fi, err := os.Stat(name)
	require.NoError(t, err)
	require.NoError(t, os.Truncate(name, fi.Size()-3)) // tear the last record

	got, st := replayAll(t, dir, opts)
	require.Equal(t, []string{"alpha", "bravo"}, got)
	require.Equal(t, int64(frameSize+len("charlie")-3), st.TruncatedBytes)

	// The torn tail was cut off: a second replay finds a clean log.
	got, st = replayAll(t, dir, opts)
	require.Equal(t, []string{"alpha", "bravo"}, got)
	require.False(t, st.Dropped())
}

func TestReplayFlippedByte(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Logger: quiet()}
	writeRecords(t, dir, opts, "alpha", "bravo", "charlie")
	name := segmentName(dir, 1)
	buf, err := os.ReadFile(name)
	require.NoError(t, err)
	// Flip one byte inside "bravo"'s body.
	off := headerSize + frameSize + len("alpha") + frameSize + 2
	buf[off] ^= 0x40
	require.NoError(t, os.WriteFile(name, buf, 0o644))

	got, st := replayAll(t, dir, opts)
	require.Equal(t, []string{"alpha", "charlie"}, got)
	require.Equal(t, 1, st.CorruptRecords)
}

func TestReplayBadHeader(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Logger: quiet()}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "00000000000000000001.wal"), []byte("QW"), 0o644))
	writeRecords(t, dir, opts, "after")

	got, st := replayAll(t, dir, opts)
	require.Equal(t, []string{"after"}, got)
	require.Equal(t, int64(2), st.TruncatedBytes)
}

func TestRemoveBefore(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentSize: 32, Logger: quiet()}
	w, err := Open(dir, opts)
	require.NoError(t, err)
	for range 6 {
		require.NoError(t, w.Write([]byte("0123456789abcdef")))
	}
	require.NoError(t, w.Sync())
	cur := w.Current()
	require.NoError(t, w.RemoveBefore(cur))
	require.Equal(t, []int{cur}, w.Segments())
	require.NoError(t, w.Close())
	segs, err := listSegments(dir)
	require.NoError(t, err)
	require.Equal(t, []int{cur}, segs)
}

func TestCutThenRemove(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(dir, Options{Logger: quiet()})
	require.NoError(t, err)
	require.NoError(t, w.Write([]byte("before the cut")))
	require.NoError(t, w.Sync())
	next, err := w.Cut()
	require.NoError(t, err)
	require.Equal(t, w.Current()+1, next)

	// The cut segment is closed, so it goes even though it was the last one
	// written.
	require.NoError(t, w.RemoveBefore(next))
	require.Empty(t, w.Segments())
	require.NoError(t, w.Write([]byte("after the cut")))
	require.NoError(t, w.Sync())
	require.Equal(t, []int{next}, w.Segments())
	require.NoError(t, w.Close())

	got, st := replayAll(t, dir, Options{Logger: quiet()})
	require.Equal(t, []string{"after the cut"}, got)
	require.False(t, st.Dropped())
}

// TestReplayFlippedLength damages the length field of a record in the
// middle of a segment, the one place a flipped byte loses the framing: the
// replay must find the next intact record and keep everything after it.
func TestReplayFlippedLength(t *testing.T) {
	recs := []string{"alpha", "bravo", "charlie", "delta", "echo"}
	bravo := headerSize + frameSize + len("alpha") // bravo's frame
	for name, flip := range map[string]func([]byte){
		"longer":       func(b []byte) { b[bravo] += 3 },     // runs into charlie
		"past the end": func(b []byte) { b[bravo+3] = 0x40 }, // 1 GiB
		"zero":         func(b []byte) { b[bravo] = 0 },
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			opts := Options{Logger: quiet()}
			writeRecords(t, dir, opts, recs...)
			seg := segmentName(dir, 1)
			buf, err := os.ReadFile(seg)
			require.NoError(t, err)
			flip(buf)
			require.NoError(t, os.WriteFile(seg, buf, 0o644))

			got, st := replayAll(t, dir, opts)
			require.Equal(t, []string{"alpha", "charlie", "delta", "echo"}, got)
			require.Equal(t, 1, st.CorruptRecords)
			require.Equal(t, int64(frameSize+len("bravo")), st.SkippedBytes)
			require.Zero(t, st.TruncatedBytes, "intact records after the damage are not cut")

			got, _ = replayAll(t, dir, opts)
			require.Equal(t, []string{"alpha", "charlie", "delta", "echo"}, got, "a second replay finds the same")
		})
	}
}

// TestReplayZeroTail appends the tail of zeros a file system may leave
// after a crash (the size was extended, the data never written): it is a
// torn tail, cut off, and no empty record reaches the callback.
func TestReplayZeroTail(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Logger: quiet()}
	writeRecords(t, dir, opts, "alpha", "bravo")
	seg := segmentName(dir, 1)
	f, err := os.OpenFile(seg, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.Write(make([]byte, 4096))
	require.NoError(t, err)
	require.NoError(t, f.Close())

	got, st := replayAll(t, dir, opts)
	require.Equal(t, []string{"alpha", "bravo"}, got)
	require.Equal(t, int64(4096), st.TruncatedBytes)
	require.Zero(t, st.CorruptRecords)
}

func TestWriteRefusesEmptyRecord(t *testing.T) {
	w, err := Open(t.TempDir(), Options{Logger: quiet()})
	require.NoError(t, err)
	defer w.Close()
	require.Error(t, w.Write(nil))
}
