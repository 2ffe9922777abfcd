package access

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var now = time.Date(2026, 12, 3, 9, 30, 15, 123_000_000, time.UTC)

func TestAddListRevoke(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.json")

	secret, tok, err := AddToken(path, AddRequest{Name: "moet-hanoi", Provinces: []string{"ha-noi"}, Export: true}, now)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(secret, TokenPrefix))
	require.Len(t, secret, len(TokenPrefix)+43, "256 bits in unpadded base64url")
	sum := sha256.Sum256([]byte(secret))
	require.Equal(t, hex.EncodeToString(sum[:]), tok.SHA256)
	require.Equal(t, now.Truncate(time.Second), tok.Created)

	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NotContains(t, string(data), secret, "the file never holds the token")
	require.NotContains(t, string(data), strings.TrimPrefix(secret, TokenPrefix))

	secret2, _, err := AddToken(path, AddRequest{Name: "research", Provinces: []string{"*"}}, now)
	require.NoError(t, err)
	require.NotEqual(t, secret, secret2)

	_, _, err = AddToken(path, AddRequest{Name: "moet-hanoi", Provinces: []string{"hue"}}, now)
	require.ErrorIs(t, err, ErrTokenExists)

	tokens, err := LoadTokens(path)
	require.NoError(t, err)
	require.Len(t, tokens, 2)
	require.Equal(t, tok, tokens[0])
	require.Equal(t, []string{"*"}, tokens[1].Provinces)
	require.False(t, tokens[1].Export)

	require.NoError(t, RevokeToken(path, "moet-hanoi"))
	require.ErrorIs(t, RevokeToken(path, "moet-hanoi"), ErrNoSuchToken)
	tokens, err = LoadTokens(path)
	require.NoError(t, err)
	require.Len(t, tokens, 1)
	require.Equal(t, "research", tokens[0].Name)

	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	for _, e := range entries {
		require.False(t, strings.Contains(e.Name(), ".tmp-"), "temporary file %s left behind", e.Name())
	}
}

func TestAddRejects(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.json")
	tests := []struct {
		name string
		req  AddRequest
	}{
		{"empty name", AddRequest{Provinces: []string{"ha-noi"}}},
		{"name with space", AddRequest{Name: "a b", Provinces: []string{"ha-noi"}}},
		{"long name", AddRequest{Name: strings.Repeat("a", 65), Provinces: []string{"ha-noi"}}},
		{"no provinces", AddRequest{Name: "a"}},
		{"unknown province", AddRequest{Name: "a", Provinces: []string{"sai-gon"}}},
		{"star and more", AddRequest{Name: "a", Provinces: []string{"*", "hue"}}},
		{"duplicate province", AddRequest{Name: "a", Provinces: []string{"hue", "hue"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := AddToken(path, tt.req, now)
			require.Error(t, err)
			_, err = os.Stat(path)
			require.True(t, errors.Is(err, fs.ErrNotExist), "a refused add writes nothing")
		})
	}
}

// TestAddConcurrent runs adds from several goroutines at once; the file
// lock must keep every one of them.
func TestAddConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.json")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			_, _, err := AddToken(path, AddRequest{Name: "t" + string(rune('a'+i)), Provinces: []string{"hue"}}, now)
			require.NoError(t, err)
		})
	}
	wg.Wait()
	tokens, err := LoadTokens(path)
	require.NoError(t, err)
	require.Len(t, tokens, 8)
}

func TestParseTokens(t *testing.T) {
	const hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	entry := func(fields string) string {
		return `{"version":1,"tokens":[{` + fields + `}]}`
	}
	ok := `"name":"a","sha256":"` + hash + `","provinces":["hue"],"export":false,"created":"2026-01-01T00:00:00Z"`
	tests := []struct {
		name, doc, wantErr string
	}{
		{"ok", entry(ok), ""},
		{"empty list", `{"version":1,"tokens":[]}`, ""},
		{"version", `{"version":2,"tokens":[]}`, "version 2"},
		{"unknown field", entry(ok + `,"exports":true`), "unknown field"},
		{"short hash", entry(strings.Replace(ok, hash, hash[:10], 1)), "64 hex"},
		{"bad name", entry(strings.Replace(ok, `"name":"a"`, `"name":"a/b"`, 1)), "only letters"},
		{"no created", entry(strings.Replace(ok, `,"created":"2026-01-01T00:00:00Z"`, "", 1)), "created"},
		{"bad province", entry(strings.Replace(ok, `"hue"`, `"atlantis"`, 1)), "unknown province"},
		{"trailing", `{"version":1,"tokens":[]} {}`, "after the document"},
		{"duplicate", `{"version":1,"tokens":[{` + ok + `},{` + ok + `}]}`, "used twice"},
		{"not json", `name=a`, "cannot parse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseTokens([]byte(tt.doc))
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestLoadMissing(t *testing.T) {
	_, err := LoadTokens(filepath.Join(t.TempDir(), "nope.json"))
	require.ErrorIs(t, err, fs.ErrNotExist)
}
