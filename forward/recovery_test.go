package forward

import (
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// segmentFiles returns the log's segment files, oldest first.
func segmentFiles(t *testing.T, dir string) []string {
	t.Helper()
	nums, err := listSegments(filepath.Join(dir, "log"))
	require.NoError(t, err)
	var out []string
	for _, n := range nums {
		out = append(out, segmentPath(filepath.Join(dir, "log"), n))
	}
	return out
}

// A crash in the middle of a write leaves a torn record at the end of the
// newest segment: it is cut off, and the records before it are delivered,
// exactly, after the restart.
func TestTornTailIsCutOffAndTheRestDelivered(t *testing.T) {
	down := newReceiver(t, func(int) int { return 503 })
	dir := t.TempDir()
	opts := testOptions(dir, Destination{Name: "national", URL: down.url()})
	f, err := Open(opts)
	require.NoError(t, err)
	for i := range 10 {
		appendWait(t, f, genSamples(100, int64(i)*100))
	}
	require.NoError(t, f.Close())
	segs := segmentFiles(t, dir)
	last := segs[len(segs)-1]
	st, err := os.Stat(last)
	require.NoError(t, err)
	require.NoError(t, os.Truncate(last, st.Size()-7)) // the tenth record, torn

	rcv := newReceiver(t, nil)
	logs := &syncBuffer{}
	opts.Destinations[0].URL = rcv.url()
	opts.Logger = newTextLogger(logs)
	f = openForwarder(t, opts)
	require.EqualValues(t, 900, stat(f, 0).QueueSamples)
	require.Eventually(t, func() bool { return stat(f, 0).QueueSamples == 0 }, 10*time.Second, 5*time.Millisecond)
	distinct, total, _ := rcv.counts()
	require.Equal(t, 900, distinct)
	require.Equal(t, 900, total)
	require.Contains(t, logs.String(), "torn tail")

	// Appends continue after the cut, with the sequence numbers that follow.
	appendWait(t, f, genSamples(100, 5000))
	require.Eventually(t, func() bool { d, _, _ := rcv.counts(); return d == 1000 }, 10*time.Second, 5*time.Millisecond)
	require.EqualValues(t, 1000, f.LogStats().Samples)
}

// A damaged record in the middle of the queue is skipped and counted; the
// records around it are delivered.
func TestDamagedRecordIsSkippedAndCounted(t *testing.T) {
	down := newReceiver(t, func(int) int { return 503 })
	dir := t.TempDir()
	opts := testOptions(dir, Destination{Name: "national", URL: down.url()})
	f, err := Open(opts)
	require.NoError(t, err)
	for i := range 3 {
		appendWait(t, f, genSamples(100, int64(i)*100))
	}
	require.NoError(t, f.Close())
	seg := segmentFiles(t, dir)[0]
	b, err := os.ReadFile(seg)
	require.NoError(t, err)
	b[len(b)*1/2] ^= 0xff // inside the second record
	require.NoError(t, os.WriteFile(seg, b, 0o644))

	rcv := newReceiver(t, nil)
	opts.Destinations[0].URL = rcv.url()
	f = openForwarder(t, opts)
	require.Eventually(t, func() bool { d, _, _ := rcv.counts(); return d == 200 }, 10*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool { return stat(f, 0).QueueSamples == 0 }, 10*time.Second, 5*time.Millisecond)
	// Met twice: by the recovery scan, and by the one destination's reader.
	require.EqualValues(t, 2, f.LogStats().CorruptRecords)
}

func FuzzScanSegment(f *testing.F) {
	c := genSamples(3, 1_700_000_000_000)
	enc := newRecordEncoder()
	seg := appendSegHeader(nil, 5)
	for range 2 {
		rec := append([]byte{0, 0, 0, 0, 0, 0, 0, 0}, enc.encode(nil, 5, 1, c.lsets, c.ts, c.vals)...)
		putFrame(rec)
		seg = append(seg, rec...)
	}
	f.Add(seg)
	f.Add(seg[:len(seg)-3])
	f.Add(appendSegHeader(nil, 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		first, err := parseSegHeader(b)
		if err != nil {
			return
		}
		res := scanSegment(b, first)
		require.GreaterOrEqual(t, res.end, int64(segHeaderSize))
		require.LessOrEqual(t, res.end, int64(len(b)))
		require.GreaterOrEqual(t, res.nextSeq, first)
		// What the scan kept scans the same again: recovery is idempotent.
		require.Equal(t, res, scanSegment(b[:res.end], first))
	})
}

// copyDir copies the queue's files as they are on disk now: what a machine
// that lost power at this moment would find, every append being fsynced.
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	require.NoError(t, filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	}))
}

// After a crash (the queue's files taken while the forwarder runs, never
// closed), a forwarder on those files delivers exactly what had not been
// delivered when the cursor was last persisted.
func TestCrashResumesFromThePersistedCursor(t *testing.T) {
	var accept atomic.Bool
	accept.Store(true)
	first := newReceiver(t, func(int) int {
		if accept.Load() {
			return http.StatusNoContent
		}
		return http.StatusServiceUnavailable
	})
	dir := t.TempDir()
	opts := testOptions(dir, Destination{Name: "national", URL: first.url()})
	f := openForwarder(t, opts)
	appendWait(t, f, genSamples(5000, 0))
	require.Eventually(t, func() bool { return stat(f, 0).QueueSamples == 0 }, 10*time.Second, 5*time.Millisecond)
	saved := filepath.Join(dir, "cursors", "national")
	require.Eventually(t, func() bool {
		p, err := newCursorFile(filepath.Dir(saved), "national").load()
		return err == nil && p.Seq == 5000
	}, 5*time.Second, 5*time.Millisecond, "the delivered position is persisted within SyncInterval")
	accept.Store(false)
	appendWait(t, f, genSamples(2000, 5000))

	crashed := t.TempDir()
	copyDir(t, dir, crashed)
	second := newReceiver(t, nil)
	opts2 := testOptions(crashed, Destination{Name: "national", URL: second.url()})
	g := openForwarder(t, opts2)
	require.Eventually(t, func() bool { return stat(g, 0).QueueSamples == 0 }, 10*time.Second, 5*time.Millisecond)
	distinct, total, _ := second.counts()
	require.Equal(t, 2000, distinct)
	require.Equal(t, 2000, total, "nothing delivered before the persisted cursor is sent again")
}
