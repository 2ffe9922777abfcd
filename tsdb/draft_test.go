package tsdb

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/stretchr/testify/require"
)

// draftFiles returns the draft parts in db's data directory.
func draftFiles(t testing.TB, db *DB) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(db.opts.Dir, partsDirName, "*", "*"+draftSuffix+"*"))
	require.NoError(t, err)
	return m
}

var anyName = labels.MustNewMatcher(labels.MatchRegexp, "__name__", ".+")

// Merges of a partition still being written encode without entropy
// coding, as drafts; its final merge rewrites every draft in full. A day
// merged while it was written must end with the same samples and the same
// bytes on disk as a day merged only once it was over, and no draft left,
// also when the hot merges left a single part.
func TestDraftMergesAreRewrittenInFull(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a simulated day")
	}
	const devices = 20
	hot := simDayStart.Add(12 * time.Hour)
	for _, tc := range []struct {
		name       string
		flushSlots int
	}{
		{"many parts", 360}, // 24 flushes: drafts beside flushed parts
		{"one draft", 1728}, // 5 flushes: merged while hot into one draft
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref := openManual(t, t.TempDir())
			defer ref.Close()
			n := simDay(t, ref, 0, devices, 10*time.Second, tc.flushSlots)

			db := openManual(t, t.TempDir())
			defer db.Close()
			require.Equal(t, n, writeSimDay(t, db, 0, devices, 10*time.Second, tc.flushSlots, hot))
			require.NotEmpty(t, draftFiles(t, db), "hot merges write drafts")
			if tc.name == "one draft" {
				require.Equal(t, db.Stats().Partitions, db.Stats().Parts)
			}
			mint, maxt := simDayStart.UnixMilli(), simDayStart.Add(25*time.Hour).UnixMilli()
			want := selectAll(t, ref, mint, maxt, anyName)
			require.Equal(t, want, selectAll(t, db, mint, maxt, anyName), "samples of the drafts")

			for db.mergeOnce(farFuture()) {
			}
			require.Empty(t, draftFiles(t, db), "the final merge leaves no draft")
			st, rst := db.Stats(), ref.Stats()
			require.Equal(t, st.Partitions, st.Parts, "one part a day")
			require.Equal(t, rst.PartSamples, st.PartSamples)
			require.Equal(t, rst.PartBytes, st.PartBytes, "bytes on disk of the day")
			require.Equal(t, want, selectAll(t, db, mint, maxt, anyName), "samples after the final merge")
		})
	}
}

// A crash between a draft's full rewrite and the draft's removal leaves
// both under the same sequence range: the store keeps the rewrite.
func TestRewriteWinsOverItsDraftAfterACrash(t *testing.T) {
	dir := t.TempDir()
	db := openManual(t, dir)
	n := writeSimDay(t, db, 0, 4, time.Minute, 288, simDayStart.Add(12*time.Hour)) // 5 flushes
	drafts := draftFiles(t, db)
	require.Len(t, drafts, 1, "the hot merges left one draft")
	saved, err := os.ReadFile(drafts[0])
	require.NoError(t, err)
	for db.mergeOnce(farFuture()) {
	}
	require.Empty(t, draftFiles(t, db))
	db.stopForCrashTest()
	require.NoError(t, os.WriteFile(drafts[0], saved, 0o644)) // the draft is back

	db = openManual(t, dir)
	defer db.Close()
	require.Empty(t, draftFiles(t, db), "the draft is removed at open")
	st := db.Stats()
	require.Equal(t, st.Partitions, st.Parts)
	require.Equal(t, int64(n), st.PartSamples)
}
