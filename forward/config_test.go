package forward

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// exampleConfig is the example of docs/deployment.md.
const exampleConfig = `{
  "segment_bytes": "16MiB",
  "destinations": [
    {
      "name": "national",
      "url": "https://national.example.vn/api/v1/write",
      "bearer_token_file": "/etc/quantrac/national.token",
      "tls": {"ca_file": "/etc/quantrac/national-ca.pem"},
      "labels": {"region": "north"},
      "max_queue_bytes": "20GiB"
    },
    {
      "name": "mimir",
      "url": "https://mimir.example.vn/api/v1/push",
      "basic_auth": {"username": "north", "password_file": "/etc/quantrac/mimir.pass"},
      "headers": {"X-Scope-OrgID": "environment"},
      "match": ["{__name__=~\"air_.*|pm2_5_.*\"}", "{province=\"ha-noi\"}"],
      "labels": {"region": "north", "source": "quantrac"},
      "max_samples_per_send": 2000,
      "max_shards": 4,
      "timeout": "10s",
      "min_backoff": "200ms",
      "max_backoff": "1m"
    }
  ]
}`

func TestParseConfig(t *testing.T) {
	cfg, err := ParseConfig([]byte(exampleConfig))
	require.NoError(t, err)
	require.EqualValues(t, 16<<20, cfg.SegmentBytes)
	require.Len(t, cfg.Destinations, 2)
	n, m := cfg.Destinations[0], cfg.Destinations[1]
	require.Equal(t, "national", n.Name)
	require.Equal(t, "/etc/quantrac/national.token", n.BearerTokenFile)
	require.Equal(t, "/etc/quantrac/national-ca.pem", n.TLS.CAFile)
	require.EqualValues(t, 20<<30, n.MaxQueueBytes)
	require.Equal(t, &BasicAuth{Username: "north", PasswordFile: "/etc/quantrac/mimir.pass"}, m.BasicAuth)
	require.Equal(t, map[string]string{"X-Scope-OrgID": "environment"}, m.Headers)
	require.Len(t, m.Match, 2)
	require.Equal(t, 2000, m.MaxSamplesPerSend)
	require.Equal(t, 4, m.MaxShards)
	require.Equal(t, 10*time.Second, m.Timeout)
	require.Equal(t, 200*time.Millisecond, m.MinBackoff)
	require.Equal(t, time.Minute, m.MaxBackoff)

	opts := Options{Dir: t.TempDir(), Destinations: slices.Clone(cfg.Destinations), SegmentBytes: cfg.SegmentBytes}
	opts.setDefaults()
	require.NoError(t, opts.Validate())

	path := filepath.Join(t.TempDir(), "forward.json")
	require.NoError(t, os.WriteFile(path, []byte(exampleConfig), 0o600))
	loaded, err := LoadConfig(path)
	require.NoError(t, err)
	require.Equal(t, cfg, loaded)
}

func TestConfigErrorsSayWhat(t *testing.T) {
	for _, c := range []struct{ body, want string }{
		{`{"destinations":[{"url":"http://a/","bearer_token":"x"}]}`, `unknown field "bearer_token"`},
		{`{"destinations":[{"name":"x"}]}`, "destination 1 has no url"},
		{`{"destinations":[{"url":"http://a/","timeout":30}]}`, "want a string"},
		{`{"destinations":[{"url":"http://a/","max_queue_bytes":"lots"}]}`, "invalid size"},
		{`{"destinations":[]} {}`, "trailing data"},
	} {
		_, err := ParseConfig([]byte(c.body))
		require.ErrorContains(t, err, c.want, c.body)
	}
}

func TestValidate(t *testing.T) {
	ok := Destination{URL: "http://127.0.0.1:9490/api/v1/write"}
	for _, c := range []struct {
		mod  func(*Destination)
		want string
	}{
		{func(d *Destination) { d.URL = "ftp://x/" }, "not an http or https URL"},
		{func(d *Destination) { d.Name = "a b" }, "name"},
		{func(d *Destination) { d.Match = []string{"{province=}"} }, "cannot parse series selector"},
		{func(d *Destination) { d.Labels = map[string]string{"__x": "y"} }, "non-reserved"},
		{func(d *Destination) { d.Labels = map[string]string{"region": ""} }, "empty"},
		{func(d *Destination) { d.MaxQueueBytes = 1 << 20 }, "below two segments"},
		{func(d *Destination) { d.MinShards, d.MaxShards = 4, 2 }, "shards"},
		{func(d *Destination) { d.BearerTokenFile, d.BasicAuth = "t", &BasicAuth{Username: "u"} }, "both basic"},
		{func(d *Destination) { d.TLS.CertFile = "c.pem" }, "needs both"},
		{func(d *Destination) { d.Headers = map[string]string{"Content-Encoding": "gzip"} }, "set by the forwarder"},
	} {
		d := ok
		c.mod(&d)
		opts := Options{Dir: "q", Destinations: []Destination{d}}
		opts.setDefaults()
		require.ErrorContains(t, opts.Validate(), c.want)
	}
	opts := Options{Dir: "q", Destinations: []Destination{ok, ok}}
	opts.setDefaults()
	require.ErrorContains(t, opts.Validate(), "two destinations are named \"127-0-0-1-9490\"")
}

func TestURLAndSizeForms(t *testing.T) {
	name, u := ParseURL("national=https://n.example.vn/api/v1/write")
	require.Equal(t, "national", name)
	require.Equal(t, "https://n.example.vn/api/v1/write", u)
	name, u = ParseURL("https://n.example.vn/api/v1/write?a=b")
	require.Empty(t, name)
	require.Equal(t, "https://n.example.vn/api/v1/write?a=b", u)
	require.Equal(t, "n-example-vn-8443", DefaultName("https://n.example.vn:8443/api/v1/write"))

	for in, want := range map[string]int64{"1024": 1024, "64KiB": 64 << 10, "1.5GiB": 3 << 29, "2 GB": 2e9, "10B": 10} {
		got, err := ParseSize(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "-1", "1XB", "1e30"} {
		_, err := ParseSize(in)
		require.Error(t, err, in)
	}
}
