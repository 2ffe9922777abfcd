package gwsim

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quantrac/quantrac/gateway-firmware-sim/batch"
)

func TestSequenceNumbersNeverRepeat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seq")
	s, err := openSeq(path)
	require.NoError(t, err)
	for want := uint64(1); want <= 10; want++ {
		got, err := s.take()
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
	// A crash: no close. The rest of the block is skipped.
	s, err = openSeq(path)
	require.NoError(t, err)
	got, err := s.take()
	require.NoError(t, err)
	require.Equal(t, uint64(1+seqBlock), got)
	// A clean close continues exactly.
	require.NoError(t, s.close())
	s, err = openSeq(path)
	require.NoError(t, err)
	got, err = s.take()
	require.NoError(t, err)
	require.Equal(t, uint64(2+seqBlock), got)

	require.NoError(t, os.WriteFile(path, []byte("garbage"), 0o644))
	_, err = openSeq(path)
	require.Error(t, err)
}

// TestSequenceBlocksGrowWithTheRate: a gateway that uses up its blocks fast
// reserves larger ones, and a crash skips at most the current block.
func TestSequenceBlocksGrowWithTheRate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seq")
	s, err := openSeq(path)
	require.NoError(t, err)
	clock := time.Unix(1_700_000_000, 0)
	s.now = func() time.Time { return clock }
	take := func(n int) uint64 {
		var v uint64
		for range n {
			v, err = s.take()
			require.NoError(t, err)
		}
		return v
	}
	// Four blocks each used up at once: 1 024, 2 048, 4 096, 8 192.
	last := take(seqBlock + 2*seqBlock + 4*seqBlock + 1)
	require.Equal(t, uint64(7*seqBlock+1), last)
	require.Equal(t, uint64(8*seqBlock), s.block)

	// Slowly from here: the block stays.
	clock = clock.Add(seqRefill)
	take(8*seqBlock - 1)
	clock = clock.Add(seqRefill)
	last = take(1)
	require.Equal(t, uint64(8*seqBlock), s.block)

	// A crash skips the rest of the current block, no more.
	s, err = openSeq(path)
	require.NoError(t, err)
	got, err := s.take()
	require.NoError(t, err)
	require.Greater(t, got, last)
	require.LessOrEqual(t, got, last+8*seqBlock)
}

func readSeq(t testing.TB, rec []byte) uint64 {
	var b batch.Batch
	_, err := batch.Decode(rec, &b)
	require.NoError(t, err)
	return b.Seq
}
