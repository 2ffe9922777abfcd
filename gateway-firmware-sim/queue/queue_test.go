package queue

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

var quiet = slog.New(slog.DiscardHandler)

func open(t testing.TB, dir string, maxBytes, segBytes int64) *Queue {
	t.Helper()
	return openWith(t, Options{Dir: dir, MaxBytes: maxBytes, SegmentBytes: segBytes})
}

func openWith(t testing.TB, o Options) *Queue {
	t.Helper()
	o.Logger = quiet
	q, err := Open(o)
	require.NoError(t, err)
	return q
}

// payload returns a distinct payload of n bytes for record i.
func payload(i, n int) []byte {
	b := make([]byte, n)
	for j := range b {
		b[j] = byte(i*31 + j)
	}
	binary.LittleEndian.PutUint32(b, uint32(i))
	return b
}

func appendN(t testing.TB, q *Queue, from, n, size int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		_, _, err := q.Append(uint32(i+1), payload(i, size))
		require.NoError(t, err)
	}
	require.NoError(t, q.Sync())
}

// drain reads every record Next hands out and returns their ids.
func drain(t testing.TB, q *Queue, size int) []int {
	t.Helper()
	var got []int
	var buf []byte
	for {
		idx, w, p, ok, err := q.Next(buf)
		require.NoError(t, err)
		if !ok {
			return got
		}
		i := int(binary.LittleEndian.Uint32(p))
		require.Equal(t, payload(i, size), p, "record %d", idx)
		require.Equal(t, uint32(i+1), w)
		got = append(got, i)
	}
}

func seq(from, to int) []int {
	var s []int
	for i := from; i < to; i++ {
		s = append(s, i)
	}
	return s
}

func TestQueueSurvivesReopen(t *testing.T) {
	// NoSync changes when the bytes reach the disk, not what is written:
	// a queue reopened by a new process finds the same records.
	for _, noSync := range []bool{false, true} {
		t.Run(fmt.Sprintf("nosync=%v", noSync), func(t *testing.T) {
			dir := t.TempDir()
			o := Options{Dir: dir, MaxBytes: 1 << 20, SegmentBytes: 4096, NoSync: noSync}
			q := openWith(t, o)
			appendN(t, q, 0, 100, 100)
			require.NoError(t, q.Close())
			segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
			require.Greater(t, len(segs), 1, "the records span several segments")

			q = openWith(t, o)
			require.Equal(t, int64(100), q.Len())
			require.Equal(t, seq(0, 100), drain(t, q, 100))
			for i := uint64(0); i < 40; i++ {
				require.True(t, q.Ack(i))
			}
			require.NoError(t, q.Checkpoint())
			require.NoError(t, q.Close())

			q = openWith(t, o)
			require.Equal(t, seq(40, 100), drain(t, q, 100))
			require.Equal(t, int64(60), q.Stats().Records)
			require.Equal(t, int64((41+100)*60/2), q.Stats().Weight)
			require.NoError(t, q.Close())
		})
	}
}

func TestFullQueueDropsOldestWithExactCounts(t *testing.T) {
	const size = 100
	rec := int64(recordHeaderSize + size)
	q := open(t, t.TempDir(), 10*rec, 3*rec+segmentHeaderSize)
	appendN(t, q, 0, 10, size)
	require.Zero(t, q.Stats().DroppedRecords)

	var dropped Dropped
	for i := 10; i < 15; i++ {
		_, d, err := q.Append(uint32(i+1), payload(i, size))
		require.NoError(t, err)
		require.Equal(t, int64(1), d.Records)
		require.Equal(t, int64(i-10+1), d.Weight, "the oldest record goes")
		dropped.Records += d.Records
		dropped.Weight += d.Weight
		dropped.Below = d.Below
	}
	require.Equal(t, Dropped{Records: 5, Weight: 1 + 2 + 3 + 4 + 5, Below: 5}, dropped)
	st := q.Stats()
	require.Equal(t, int64(5), st.DroppedRecords)
	require.Equal(t, int64(15), st.DroppedWeight)
	require.Equal(t, int64(10), st.Records)
	require.Equal(t, 10*rec, st.Bytes)

	// A record twice the size drops two; an oversized one is refused.
	_, d, err := q.Append(99, make([]byte, 2*size+recordHeaderSize))
	require.NoError(t, err)
	require.Equal(t, int64(2), d.Records)
	require.Equal(t, int64(6+7), d.Weight)
	_, _, err = q.Append(1, make([]byte, 10*rec))
	require.ErrorIs(t, err, ErrTooLarge)

	require.NoError(t, q.Close())
	q = open(t, q.opts.Dir, 10*rec, 3*rec+segmentHeaderSize)
	var buf []byte
	var first uint64
	for n := 0; ; n++ {
		idx, _, _, ok, err := q.Next(buf)
		require.NoError(t, err)
		if !ok {
			require.Equal(t, 9, n, "8 small records and the big one remain")
			break
		}
		if n == 0 {
			first = idx
		}
	}
	require.Equal(t, uint64(7), first)
	require.NoError(t, q.Close())
}

func TestAcknowledgedRecordsAreNotCountedAsDropped(t *testing.T) {
	const size = 50
	rec := int64(recordHeaderSize + size)
	q := open(t, t.TempDir(), 4*rec, 0)
	appendN(t, q, 0, 4, size)
	require.True(t, q.Ack(1)) // out of order: record 0 still holds the head
	require.Equal(t, uint64(0), q.Head())
	_, d, err := q.Append(5, payload(4, size))
	require.NoError(t, err)
	// Only 3 records are live; room for the new one without dropping.
	require.Zero(t, d.Records)
	_, d, err = q.Append(6, payload(5, size))
	require.NoError(t, err)
	// Record 0 is dropped; record 1 was acknowledged and leaves uncounted.
	require.Equal(t, Dropped{Records: 1, Weight: 1, Below: 2}, d)
	require.Equal(t, []int{2, 3, 4, 5}, drain(t, q, size))
	require.NoError(t, q.Close())
}

func TestSegmentsRotateAndAreDeleted(t *testing.T) {
	dir := t.TempDir()
	q := open(t, dir, 1<<20, 1024)
	appendN(t, q, 0, 200, 64)
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	require.Greater(t, len(segs), 10)
	got := drain(t, q, 64)
	require.Equal(t, seq(0, 200), got)
	for i := range uint64(200) {
		require.True(t, q.Ack(i))
	}
	require.False(t, q.Ack(3), "already gone")
	segs, _ = filepath.Glob(filepath.Join(dir, "*.seg"))
	require.Len(t, segs, 1, "only the active segment is kept")
	require.NoError(t, q.Close())

	q = open(t, dir, 1<<20, 1024)
	require.Zero(t, q.Len())
	idx, _, err := q.Append(1, []byte("x"))
	require.NoError(t, err)
	require.Equal(t, uint64(200), idx, "indices keep growing across restarts")
	require.NoError(t, q.Close())
}

func TestRewindResendsUnacknowledged(t *testing.T) {
	q := open(t, t.TempDir(), 1<<20, 0)
	appendN(t, q, 0, 6, 10)
	require.Equal(t, seq(0, 6), drain(t, q, 10))
	require.True(t, q.Ack(0))
	require.True(t, q.Ack(2))
	q.Rewind()
	require.Equal(t, []int{1, 3, 4, 5}, drain(t, q, 10))
	require.NoError(t, q.Close())
}

func TestTornTailIsCutOff(t *testing.T) {
	dir := t.TempDir()
	q := open(t, dir, 1<<20, 0)
	appendN(t, q, 0, 3, 40)
	require.NoError(t, q.Close())
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	require.Len(t, segs, 1)
	// A crash in the middle of writing the fourth record.
	f, err := os.OpenFile(segs[0], os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.Write(appendRecord(nil, 4, payload(3, 40))[:30])
	require.NoError(t, err)
	require.NoError(t, f.Close())

	q = open(t, dir, 1<<20, 0)
	require.Equal(t, int64(1), q.Stats().Corrupt)
	appendN(t, q, 3, 2, 40)
	require.Equal(t, seq(0, 5), drain(t, q, 40))
	require.NoError(t, q.Close())
	q = open(t, dir, 1<<20, 0)
	require.Zero(t, q.Stats().Corrupt)
	require.Equal(t, int64(5), q.Len())
	require.NoError(t, q.Close())
}

func TestCorruptRecordInOlderSegment(t *testing.T) {
	dir := t.TempDir()
	const size = 100
	rec := recordHeaderSize + size
	q := open(t, dir, 1<<20, int64(segmentHeaderSize+4*rec))
	appendN(t, q, 0, 12, size) // three segments of four
	require.NoError(t, q.Close())
	// Flip a payload byte of record 5 (second segment, second record).
	path := filepath.Join(dir, fmt.Sprintf("%020d.seg", 4))
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	data[segmentHeaderSize+rec+recordHeaderSize+7] ^= 0xff
	require.NoError(t, os.WriteFile(path, data, 0o644))

	q = open(t, dir, 1<<20, int64(segmentHeaderSize+4*rec))
	require.Equal(t, int64(1), q.Stats().Corrupt)
	// Record 4 survives; 5..7 cannot be framed any more; 8.. are intact.
	require.Equal(t, append(seq(0, 5), seq(8, 12)...), drain(t, q, size))
	for _, i := range append(seq(0, 5), seq(8, 12)...) {
		require.True(t, q.Ack(uint64(i)), "ack %d", i)
	}
	require.Zero(t, q.Len())
	require.Equal(t, uint64(12), q.Head())
	require.NoError(t, q.Close())
}

func TestTornCursorSlotFallsBackToTheOther(t *testing.T) {
	dir := t.TempDir()
	q := open(t, dir, 1<<20, 0)
	appendN(t, q, 0, 10, 10)
	drain(t, q, 10)
	require.True(t, q.Ack(0))
	require.NoError(t, q.Checkpoint()) // generation 1, head 1
	require.True(t, q.Ack(1))
	require.True(t, q.Ack(2))
	require.NoError(t, q.Checkpoint()) // generation 2, head 3
	require.NoError(t, q.Close())

	path := filepath.Join(dir, cursorName)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	data[0+20] ^= 0x01 // generation 2 lives in slot 0
	require.NoError(t, os.WriteFile(path, data, 0o644))

	q = open(t, dir, 1<<20, 0)
	require.Equal(t, uint64(1), q.Head(), "older head: records 1 and 2 are replayed")
	require.Equal(t, seq(1, 10), drain(t, q, 10))
	require.NoError(t, q.Close())
}

func TestQueueIsLocked(t *testing.T) {
	dir := t.TempDir()
	q := open(t, dir, 0, 0)
	_, err := Open(Options{Dir: dir})
	require.ErrorIs(t, err, ErrLocked)
	require.NoError(t, q.Close())
	q = open(t, dir, 0, 0)
	require.NoError(t, q.Close())
}

func TestOptionsValidate(t *testing.T) {
	for _, o := range []Options{{}, {Dir: "x", MaxBytes: 5}, {Dir: "x", SegmentBytes: 10}} {
		require.Error(t, o.Validate())
	}
	require.NoError(t, (&Options{Dir: "x"}).Validate())
}

// FuzzOpenSegment opens a queue whose only segment has arbitrary content
// after a valid header: Open must recover without panicking, and the queue
// must then work.
func FuzzOpenSegment(f *testing.F) {
	f.Add(appendRecord(appendRecord(nil, 1, []byte("hello")), 2, []byte("world")))
	f.Add([]byte{0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add(appendRecord(nil, 3, nil)[:5])
	f.Fuzz(func(t *testing.T, body []byte) {
		dir := t.TempDir()
		hdr := make([]byte, segmentHeaderSize)
		copy(hdr, segmentMagic)
		hdr[4] = segmentVersion
		require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("%020d.seg", 0)), append(hdr, body...), 0o644))
		q, err := Open(Options{Dir: dir, MaxBytes: 1 << 16, Logger: quiet})
		require.NoError(t, err)
		n := q.Len()
		var buf []byte
		for {
			idx, _, _, ok, err := q.Next(buf)
			require.NoError(t, err)
			if !ok {
				break
			}
			require.True(t, q.Ack(idx))
			n--
		}
		require.Zero(t, n)
		_, _, err = q.Append(1, []byte("after"))
		require.NoError(t, err)
		require.NoError(t, q.Close())
	})
}

func BenchmarkAppendSync(b *testing.B) {
	q := open(b, b.TempDir(), 1<<30, 0)
	p := payload(1, 1500)
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	for range b.N {
		if _, _, err := q.Append(100, p); err != nil {
			b.Fatal(err)
		}
		if err := q.Sync(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*100/b.Elapsed().Seconds(), "readings/s")
	require.NoError(b, q.Close())
}
