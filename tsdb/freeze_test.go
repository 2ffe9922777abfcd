package tsdb

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// cutNow asks the committer for a cut, as requestRotation does, without
// freezing it.
func cutNow(t *testing.T, db *DB) headCut {
	t.Helper()
	reply := make(chan rotation, 1)
	db.rotateReq <- reply
	r := <-reply
	require.NoError(t, r.err)
	require.NotNil(t, r.cut)
	return *r.cut
}

// Commits go on between the committer's cut of the head and the flusher's
// freeze of it. A sample committed in between to a series the cut holds
// goes into the frozen head, one to another series stays in the new head;
// either way every sample is seen exactly once, the head's count is exact,
// and a crash replays the late ones without doubling them.
func TestCommitsBetweenCutAndFreeze(t *testing.T) {
	dir := t.TempDir()
	db := openManual(t, dir)
	const base = int64(1_750_000_000_000)
	old := make([]SeriesRef, 10)
	fresh := make([]SeriesRef, 5)
	for i := range old {
		old[i] = metric(t, db, "m", "s", fmt.Sprint("old", i))
	}
	for i := range fresh {
		fresh[i] = metric(t, db, "m", "s", fmt.Sprint("new", i))
	}
	var b Batch
	for i, ref := range old {
		b.Add(ref, base, float64(i))
	}
	appendWait(t, db, &b)

	c := cutNow(t, db)
	require.Zero(t, db.head.samples.Load())
	b.Reset()
	for i, ref := range old {
		b.Add(ref, base+1000, float64(100+i)) // late: into the frozen head
	}
	for i, ref := range fresh {
		b.Add(ref, base+1000, float64(200+i)) // stays in the new head
	}
	appendWait(t, db, &b)
	require.Equal(t, int64(len(old)+len(fresh)), db.head.samples.Load(), "before the freeze")

	f := db.freeze(c)
	require.Equal(t, 2*len(old), f.samples(), "the late samples are frozen too")
	require.Equal(t, int64(len(fresh)), db.head.samples.Load(), "the head counts what it holds")
	require.Equal(t, int64(len(fresh)), db.head.series.Load())

	want := map[string][]sample{}
	for i := range old {
		want[fmt.Sprintf(`{__name__="m", s="old%d"}`, i)] = []sample{{base, float64(i)}, {base + 1000, float64(100 + i)}}
	}
	for i := range fresh {
		want[fmt.Sprintf(`{__name__="m", s="new%d"}`, i)] = []sample{{base + 1000, float64(200 + i)}}
	}
	require.Equal(t, want, selectAll(t, db, everything[0], everything[1], nameIs("m")), "frozen and head")
	require.NoError(t, db.flush(f))
	require.Equal(t, want, selectAll(t, db, everything[0], everything[1], nameIs("m")), "part and head")

	// The crash: the late samples are in the part and in the WAL after the
	// cut, and are replayed beside their copy.
	db.stopForCrashTest()
	db = openManual(t, dir)
	defer db.Close()
	require.Equal(t, want, selectAll(t, db, everything[0], everything[1], nameIs("m")), "after replay")
	require.NoError(t, db.flushNow())
	for db.mergeOnce(farFuture()) {
	}
	require.Equal(t, want, selectAll(t, db, everything[0], everything[1], nameIs("m")), "after the merge")
	require.Equal(t, int64(2*len(old)+len(fresh)), db.Stats().PartSamples, "each sample stored once")
}
