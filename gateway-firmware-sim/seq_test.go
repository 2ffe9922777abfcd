package gwsim

import (
	"os"
	"path/filepath"
	"testing"

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

func readSeq(t testing.TB, rec []byte) uint64 {
	var b batch.Batch
	_, err := batch.Decode(rec, &b)
	require.NoError(t, err)
	return b.Seq
}
