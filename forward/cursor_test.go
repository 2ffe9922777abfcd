package forward

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCursorFile(t *testing.T) {
	dir := t.TempDir()
	c := newCursorFile(dir, "national")
	_, err := c.load()
	require.ErrorIs(t, err, errNoCursor)

	for _, p := range []Position{{1, segHeaderSize, 0}, {7, 1 << 20, 123456789}} {
		require.NoError(t, c.store(p))
		got, err := c.load()
		require.NoError(t, err)
		require.Equal(t, p, got)
	}
	_, err = os.Stat(filepath.Join(dir, "national.tmp"))
	require.ErrorIs(t, err, os.ErrNotExist, "the temporary file is renamed away")

	b, err := os.ReadFile(filepath.Join(dir, "national"))
	require.NoError(t, err)
	for i := range b {
		bad := append([]byte(nil), b...)
		bad[i] ^= 0x40
		_, err := decodeCursor(bad)
		require.Error(t, err, "flipped byte %d", i)
	}
}

func FuzzCursorDecode(f *testing.F) {
	f.Add(appendCursor(nil, Position{3, 4096, 99}))
	f.Add([]byte("QFCR"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodeCursor(b)
		if err != nil {
			return
		}
		require.Equal(t, b, appendCursor(nil, p), "a cursor that decodes encodes back to the same bytes")
	})
}
