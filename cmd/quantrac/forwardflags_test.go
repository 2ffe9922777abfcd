package main

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quantrac/quantrac/forward"
)

func parseForwardFlags(t *testing.T, args ...string) (forward.Options, error) {
	t.Helper()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var o forward.Options
	finish := forwardFlags(fs, &o)
	require.NoError(t, fs.Parse(args))
	return o, finish()
}

func TestForwardFlags(t *testing.T) {
	o, err := parseForwardFlags(t)
	require.NoError(t, err)
	require.Empty(t, o.Destinations, "no --forward-url: no forwarding")

	o, err = parseForwardFlags(t, "--forward-url", "national=https://n.example.vn/api/v1/write",
		"--forward-url", "http://127.0.0.1:8428/api/v1/write",
		"--forward-bearer-token-file", "/etc/t", "--forward-label", "region=north",
		"--forward-match", `{province="ha-noi"}`, "--forward-max-queue-bytes", "4GiB")
	require.NoError(t, err)
	require.Len(t, o.Destinations, 2)
	d := o.Destinations[0]
	require.Equal(t, "national", d.Name)
	require.Equal(t, "https://n.example.vn/api/v1/write", d.URL)
	require.Equal(t, "/etc/t", d.BearerTokenFile)
	require.Equal(t, map[string]string{"region": "north"}, d.Labels)
	require.Equal(t, []string{`{province="ha-noi"}`}, d.Match)
	require.EqualValues(t, 4<<30, d.MaxQueueBytes)
	require.Empty(t, o.Destinations[1].Name, "named from its URL when opened")

	cfg := filepath.Join(t.TempDir(), "forward.json")
	require.NoError(t, os.WriteFile(cfg, []byte(`{"destinations":[{"name":"mimir","url":"http://127.0.0.1:9009/api/v1/push"}]}`), 0o600))
	o, err = parseForwardFlags(t, "--forward-config", cfg, "--forward-url", "http://127.0.0.1:8428/api/v1/write")
	require.NoError(t, err)
	require.Len(t, o.Destinations, 2)
	require.Equal(t, "mimir", o.Destinations[0].Name)

	_, err = parseForwardFlags(t, "--forward-label", "region=north")
	require.ErrorContains(t, err, "need a --forward-url")
	_, err = parseForwardFlags(t, "--forward-url", "http://a/", "--forward-label", "region")
	require.ErrorContains(t, err, "want name=value")
}
