package sessionlog

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func contents(l *Log) map[string]string {
	m := map[string]string{}
	l.Scan("", func(k string, v []byte) { m[k] = string(v) })
	return m
}

func TestPutDeleteSurviveReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mqtt", "sessions")
	l, err := Open(path, Options{})
	require.NoError(t, err)
	require.NoError(t, l.Put("CL_a", []byte("client a")))
	require.NoError(t, l.Put("SUB_a:x/#", []byte("sub")))
	require.NoError(t, l.Put("CL_b", []byte("client b")))
	require.NoError(t, l.Put("CL_a", []byte("client a v2")))
	require.NoError(t, l.Delete("CL_b"))
	require.NoError(t, l.Delete("never-there"))
	require.True(t, l.Has("CL_a"))
	require.False(t, l.Has("CL_b"))
	require.NoError(t, l.Close())
	require.ErrorIs(t, l.Put("x", nil), ErrClosed)

	l, err = Open(path, Options{})
	require.NoError(t, err)
	defer l.Close()
	require.Equal(t, map[string]string{"CL_a": "client a v2", "SUB_a:x/#": "sub"}, contents(l))
	var subs []string
	l.Scan("SUB_", func(k string, _ []byte) { subs = append(subs, k) })
	require.Equal(t, []string{"SUB_a:x/#"}, subs)
}

func TestTornTailIsCutOff(t *testing.T) {
	for _, tc := range []struct {
		name string
		cut  func(data []byte) []byte
	}{
		{"half a record", func(d []byte) []byte { return d[:len(d)-3] }},
		{"flipped byte in last record", func(d []byte) []byte { d[len(d)-1] ^= 0xff; return d }},
		{"garbage appended", func(d []byte) []byte { return append(d, 1, 2, 3, 4, 5, 6, 7, 8, 9) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "sessions")
			l, err := Open(path, Options{})
			require.NoError(t, err)
			require.NoError(t, l.Put("a", []byte("1")))
			require.NoError(t, l.Put("b", []byte("2")))
			require.NoError(t, l.Close())
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(path, tc.cut(data), 0o600))

			l, err = Open(path, Options{})
			require.NoError(t, err)
			got := contents(l)
			require.Equal(t, "1", got["a"], "the record before the damage is kept")
			// The log stays writable after the repair, and what is written
			// after it is read back.
			require.NoError(t, l.Put("c", []byte("3")))
			require.NoError(t, l.Close())
			l, err = Open(path, Options{})
			require.NoError(t, err)
			defer l.Close()
			require.Equal(t, "3", contents(l)["c"])
			require.Equal(t, got["b"], contents(l)["b"])
		})
	}
}

func TestBadHeaderIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions")
	require.NoError(t, os.WriteFile(path, []byte("not a session log at all"), 0o600))
	_, err := Open(path, Options{})
	require.ErrorContains(t, err, "bad magic")
}

func TestCompactionBoundsTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions")
	l, err := Open(path, Options{CompactMinBytes: 4096})
	require.NoError(t, err)
	val := bytes.Repeat([]byte("v"), 100)
	for i := range 500 {
		require.NoError(t, l.Put(fmt.Sprintf("IFM_gw:%d", i%10), val))
	}
	st, err := os.Stat(path)
	require.NoError(t, err)
	// 500 puts of ~120 bytes would be 60 kB without compaction.
	require.Less(t, st.Size(), int64(2*10*120+4096+200))
	require.NoError(t, l.Close())
	l, err = Open(path, Options{})
	require.NoError(t, err)
	defer l.Close()
	require.Equal(t, 10, l.Len())
}

func TestConcurrentWritersAreAllDurable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions")
	l, err := Open(path, Options{})
	require.NoError(t, err)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				if err := l.Put(fmt.Sprintf("k%d-%d", g, i), []byte{byte(i)}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	// Read the file as it is, without Close, as after a crash.
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	rest, err := checkHeader(data)
	require.NoError(t, err)
	seen := map[string]bool{}
	good := Replay(rest, func(op byte, key, _ []byte) { seen[string(key)] = op == opPut })
	require.Equal(t, len(rest), good)
	require.Len(t, seen, 400)
	require.NoError(t, l.Close())
}

// FuzzReplay holds that no file content crashes the replay, that it never
// reports more good bytes than it was given, and that re-encoding what it
// decoded gives back exactly the good prefix.
func FuzzReplay(f *testing.F) {
	f.Add(appendRecord(appendRecord(nil, opPut, "CL_a", []byte(`{"id":"a"}`)), opDelete, "CL_a", nil))
	f.Add(appendRecord(nil, opPut, "", nil))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		var again []byte
		good := Replay(data, func(op byte, key, value []byte) {
			again = appendRecord(again, op, string(key), value)
		})
		if good < 0 || good > len(data) {
			t.Fatalf("good = %d of %d bytes", good, len(data))
		}
		if !bytes.Equal(again, data[:good]) {
			t.Fatalf("re-encoded records differ from the good prefix")
		}
	})
}
