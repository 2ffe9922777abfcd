package access

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzParseTokens feeds arbitrary documents to the tokens file decoder. It
// must never panic, and whatever it accepts must be valid, survive a save
// and load unchanged, and give every entry a scope.
func FuzzParseTokens(f *testing.F) {
	f.Add([]byte(`{"version":1,"tokens":[]}`))
	f.Add([]byte(`{"version":1,"tokens":[{"name":"a","sha256":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08","provinces":["*"],"export":true,"created":"2026-01-01T00:00:00Z"}]}`))
	f.Add([]byte(`{"version":1,"tokens":[{"name":"a","sha256":"","provinces":[],"export":false,"created":"0001-01-01T00:00:00Z"}]}`))
	f.Add([]byte(`{"version":1,"tokens":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tokens, err := ParseTokens(data)
		if err != nil {
			return
		}
		for _, tok := range tokens {
			require.NoError(t, tok.validate())
			_, err := NewScope(tok.Name, tok.Provinces, tok.Export)
			require.NoError(t, err)
		}
		path := filepath.Join(t.TempDir(), "tokens.json")
		require.NoError(t, SaveTokens(path, tokens))
		again, err := LoadTokens(path)
		require.NoError(t, err)
		require.Equal(t, len(tokens), len(again))
		for i := range tokens {
			require.Equal(t, tokens[i].Name, again[i].Name)
			require.Equal(t, tokens[i].SHA256, again[i].SHA256)
			require.Equal(t, tokens[i].Provinces, again[i].Provinces)
			require.Equal(t, tokens[i].Export, again[i].Export)
			require.True(t, tokens[i].Created.Equal(again[i].Created))
		}
	})
}

// FuzzBearerToken checks the Authorization header parser: it never panics,
// and what it returns is non-empty, trimmed and found in the header.
func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"Bearer qtr_abc", "bearer  x ", "Basic Zm9v", "", "Bearer", "Bearer \t"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		tok, ok := BearerToken(header)
		if !ok {
			require.Empty(t, tok)
			return
		}
		require.NotEmpty(t, tok)
		require.Contains(t, header, tok)
	})
}
