package access

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/stretchr/testify/require"
)

func TestAuthenticate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.json")
	hanoi, _, err := AddToken(path, AddRequest{Name: "moet-hanoi", Provinces: []string{"ha-noi", "hai-phong"}, Export: true}, now)
	require.NoError(t, err)
	all, _, err := AddToken(path, AddRequest{Name: "national", Provinces: []string{"*"}}, now)
	require.NoError(t, err)

	var logs bytes.Buffer
	a, err := NewAuthenticator(path, slog.New(slog.NewTextHandler(&logs, nil)))
	require.NoError(t, err)
	require.Equal(t, 2, a.Len())

	s, err := a.Authenticate(hanoi)
	require.NoError(t, err)
	require.Equal(t, "moet-hanoi", s.Token())
	require.Equal(t, []string{"ha-noi", "hai-phong"}, s.Provinces())
	require.True(t, s.CanExport())
	require.False(t, s.All())

	s, err = a.Authenticate(all)
	require.NoError(t, err)
	require.True(t, s.All())
	require.False(t, s.CanExport())

	for _, bad := range []string{"", hanoi[:len(hanoi)-1], hanoi + "x", strings.ToUpper(hanoi), "Bearer " + hanoi} {
		_, err := a.Authenticate(bad)
		require.ErrorIs(t, err, ErrUnauthenticated, "%q", bad)
	}

	// Revocation takes effect at the next reload, not before.
	require.NoError(t, RevokeToken(path, "moet-hanoi"))
	_, err = a.Authenticate(hanoi)
	require.NoError(t, err)
	require.NoError(t, a.Reload())
	_, err = a.Authenticate(hanoi)
	require.ErrorIs(t, err, ErrUnauthenticated)

	// A broken file keeps the tokens loaded before in force.
	require.NoError(t, os.WriteFile(path, []byte(`{"version":1,"tokens":[{"name":"x"}]}`), 0o600))
	require.Error(t, a.Reload())
	_, err = a.Authenticate(all)
	require.NoError(t, err)

	// A file readable by others is loaded, with a warning.
	require.NoError(t, SaveTokens(path, nil))
	require.NoError(t, os.Chmod(path, 0o644))
	require.NoError(t, a.Reload())
	require.Contains(t, logs.String(), "readable by other users")
	require.Equal(t, 0, a.Len())

	_, err = NewAuthenticator(filepath.Join(t.TempDir(), "missing.json"), nil)
	require.Error(t, err)
}

func TestBearerToken(t *testing.T) {
	for header, want := range map[string]string{
		"Bearer qtr_abc":   "qtr_abc",
		"bearer qtr_abc":   "qtr_abc",
		"BEARER  qtr_abc ": "qtr_abc",
		"Basic dXNlcg==":   "",
		"Bearer":           "",
		"Bearer ":          "",
		"qtr_abc":          "",
		"":                 "",
	} {
		got, ok := BearerToken(header)
		require.Equal(t, want, got, header)
		require.Equal(t, want != "", ok, header)
	}
}

func TestScope(t *testing.T) {
	s, err := NewScope("t", []string{"hue", "da-nang"}, false)
	require.NoError(t, err)
	require.Equal(t, []string{"da-nang", "hue"}, s.Provinces())
	m := s.Matcher()
	require.Equal(t, `province=~"da-nang|hue"`, m.String())
	for v, want := range map[string]bool{"hue": true, "da-nang": true, "": false, "hue2": false, "xhue": false, "da-nang|hue": false, "da": false} {
		require.Equal(t, want, m.Matches(v), "matcher on %q", v)
		require.Equal(t, want, s.Allows(v), "Allows(%q)", v)
		require.Equal(t, want, s.AllowsLabels(labels.FromStrings("__name__", "x", "province", v)), "AllowsLabels(%q)", v)
	}
	require.False(t, s.AllowsLabels(labels.FromStrings("__name__", "x")), "series without a province")

	one, err := NewScope("t", []string{"hue"}, true)
	require.NoError(t, err)
	require.Equal(t, `province="hue"`, one.Matcher().String())
	require.Contains(t, one.String(), "provinces=hue export=true")

	full := FullScope("op")
	require.Nil(t, full.Matcher())
	require.True(t, full.AllowsLabels(labels.FromStrings("__name__", "x")))
	require.Contains(t, full.String(), "provinces=*")

	var zero Scope
	for _, v := range []string{"", "hue", "ha-noi", "\x00", "é"} {
		require.False(t, zero.Matcher().Matches(v), "the zero scope's matcher on %q", v)
		require.False(t, zero.Allows(v))
	}
	require.False(t, zero.CanExport())
}

// TestAllowsLabelsNoAlloc holds the per-series check of Restrict to zero
// allocations: it runs once for every series a query touches.
func TestAllowsLabelsNoAlloc(t *testing.T) {
	s, err := NewScope("t", []string{"hue", "da-nang", "ha-noi"}, false)
	require.NoError(t, err)
	lset := labels.FromStrings("__name__", "air_temperature_celsius", "device", "aws-1", "gateway", "hn-gw-1", "province", "ha-noi")
	allocs := testing.AllocsPerRun(1000, func() {
		if !s.AllowsLabels(lset) {
			t.Fatal("ha-noi refused")
		}
	})
	require.Zero(t, allocs)
}

func BenchmarkAllowsLabels(b *testing.B) {
	s, err := NewScope("t", []string{"hue", "da-nang", "ha-noi"}, false)
	require.NoError(b, err)
	lset := labels.FromStrings("__name__", "air_temperature_celsius", "device", "aws-1", "gateway", "hn-gw-1", "province", "ha-noi")
	b.ReportAllocs()
	for b.Loop() {
		s.AllowsLabels(lset)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "series/s")
}

func BenchmarkAuthenticate(b *testing.B) {
	path := filepath.Join(b.TempDir(), "tokens.json")
	var secret string
	for i := range 50 {
		s, _, err := AddToken(path, AddRequest{Name: "t" + strconv.Itoa(i), Provinces: []string{"hue"}}, now)
		require.NoError(b, err)
		secret = s
	}
	a, err := NewAuthenticator(path, nil)
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Authenticate(secret); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "auths/s")
}
