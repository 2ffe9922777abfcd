package access

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestWriteTokens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.json")
	now := time.Now()
	gwTok, _, err := AddToken(path, AddRequest{Name: "hn-gw-009", Provinces: []string{"ha-noi"},
		Write: &WriteGrant{Gateway: "hn-gw-009"}}, now)
	require.NoError(t, err)
	relayTok, _, err := AddToken(path, AddRequest{Name: "north-node", Provinces: []string{"ha-noi", "lao-cai"},
		Write: &WriteGrant{Relay: true}}, now)
	require.NoError(t, err)
	readTok, _, err := AddToken(path, AddRequest{Name: "reader", Provinces: []string{"*"}}, now)
	require.NoError(t, err)

	bad := []AddRequest{
		{Name: "two-provinces", Provinces: []string{"ha-noi", "hue"}, Write: &WriteGrant{Gateway: "g"}},
		{Name: "all-provinces", Provinces: []string{"*"}, Write: &WriteGrant{Gateway: "g"}},
		{Name: "both", Provinces: []string{"hue"}, Write: &WriteGrant{Gateway: "g", Relay: true}},
		{Name: "neither", Provinces: []string{"hue"}, Write: &WriteGrant{}},
		{Name: "bad-id", Provinces: []string{"hue"}, Write: &WriteGrant{Gateway: "a/b"}},
		{Name: "exporter", Provinces: []string{"hue"}, Export: true, Write: &WriteGrant{Relay: true}},
	}
	for _, req := range bad {
		_, _, err := AddToken(path, req, now)
		require.Error(t, err, req.Name)
	}

	a, err := NewAuthenticator(path, nil)
	require.NoError(t, err)
	w, err := a.AuthenticateWriter(gwTok)
	require.NoError(t, err)
	require.Equal(t, Writer{Name: "hn-gw-009", Province: "ha-noi", Gateway: "hn-gw-009", scope: w.scope}, w)
	w, err = a.AuthenticateWriter(relayTok)
	require.NoError(t, err)
	require.True(t, w.Relay)
	require.True(t, w.Allows("lao-cai"))
	require.False(t, w.Allows("hue"))

	// Writing and reading are separate: neither token opens the other door.
	_, err = a.Authenticate(gwTok)
	require.ErrorIs(t, err, ErrUnauthenticated)
	_, err = a.Authenticate(relayTok)
	require.ErrorIs(t, err, ErrUnauthenticated)
	_, err = a.AuthenticateWriter(readTok)
	require.ErrorIs(t, err, ErrUnauthenticated)
	_, err = a.Authenticate(readTok)
	require.NoError(t, err)
}
