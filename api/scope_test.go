package api

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestTokenNeverSeesAnotherProvince tries every way we know to reach around
// a one-province token's scope, through the HTTP endpoints an analyst has.
// None of the answers may mention the other province or its gateway.
func TestTokenNeverSeesAnotherProvince(t *testing.T) {
	f := newFixture(t, false)
	tok := f.addToken(t, "hanoi-analyst", []string{"ha-noi"}, true)
	end := base.Add(59 * time.Minute)
	at := "&time=" + sec(end)
	q := func(expr string) string { return "/api/v1/query?query=" + url.QueryEscape(expr) + at }
	attempts := []struct{ name, path string }{
		{"name the other province", q(`air_temperature_celsius{province="hue"}`)},
		{"regex matching everything", q(`{province=~".*"}`)},
		{"negative matcher", q(`air_temperature_celsius{province!="ha-noi"}`)},
		{"negative regex", q(`{__name__=~".+",province!~"ha-noi"}`)},
		{"or", q(`air_temperature_celsius{province="ha-noi"} or relative_humidity_percent{province="hue"}`)},
		{"label_replace", q(`label_replace(air_temperature_celsius, "province", "ha-noi", "province", "hue")`)},
		{"count by province", q(`count by (province, gateway) ({__name__=~".+"})`)},
		{"group without", q(`group without (device) ({gateway="hu-gw-001"})`)},
		{"subquery and offset", q(`max_over_time(air_temperature_celsius{gateway="hu-gw-001"}[30m:1m] offset 5m)`)},
		{"range query", "/api/v1/query_range?query=" + url.QueryEscape(`sum by (province) (relative_humidity_percent)`) +
			"&start=" + sec(base) + "&end=" + sec(end) + "&step=300"},
		{"series endpoint", "/api/v1/series?match[]=" + url.QueryEscape(`{province="hue"}`) + "&match[]=" + url.QueryEscape(`{__name__=~".+"}`)},
		{"label values endpoint", "/api/v1/label/province/values"},
		{"gateway values endpoint", "/api/v1/label/gateway/values?match[]=" + url.QueryEscape(`{province=~"h.*"}`)},
		{"label names endpoint", "/api/v1/labels?match[]=" + url.QueryEscape(`{province="hue"}`)},
		{"export as CSV", "/api/v1/export?format=csv&match[]=" + url.QueryEscape(`{__name__=~".+"}`)},
		{"export as JSON lines", "/api/v1/export?format=jsonl&match[]=" + url.QueryEscape(`{province="hue"}`)},
	}
	sawHanoi := 0
	for _, a := range attempts {
		t.Run(a.name, func(t *testing.T) {
			status, body := f.get(t, tok, a.path)
			s := string(body)
			require.NotContains(t, s, "hue", "status %d", status)
			require.NotContains(t, s, "hu-gw-001", "status %d", status)
			if strings.Contains(s, "ha-noi") || strings.Contains(s, "hn-gw-001") {
				sawHanoi++
			}
		})
	}
	// absent() echoes the labels of its own matchers, so it names "hue"
	// back; what matters is that it answers as for a province with no data
	// at all, revealing nothing about whether hue has any.
	_, hue := f.get(t, tok, q(`absent(air_temperature_celsius{province="hue"})`))
	_, empty := f.get(t, tok, q(`absent(air_temperature_celsius{province="ca-mau"})`))
	require.Contains(t, string(hue), `"value":[`)
	require.Equal(t, strings.ReplaceAll(string(empty), "ca-mau", "hue"), string(hue))

	// The token does read its own province: the restriction is not simply
	// refusing everything.
	require.GreaterOrEqual(t, sawHanoi, 8)
	status, body := f.get(t, tok, q(`count(air_temperature_celsius)`))
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, string(body), `"2"`) // two ha-noi devices, not four
}

func TestReadsNeedAValidToken(t *testing.T) {
	f := newFixture(t, false)
	noExport := f.addToken(t, "viewer", []string{"hue"}, false)
	query := "/api/v1/query?query=up"
	for _, tok := range []string{"", "qtr_not-a-real-token"} {
		status, body := f.get(t, tok, query)
		require.Equal(t, http.StatusUnauthorized, status, string(body))
		require.Contains(t, string(body), `"errorType":"unauthorized"`)
	}
	status, body := f.get(t, noExport, "/api/v1/export?format=csv&match[]=up")
	require.Equal(t, http.StatusForbidden, status, string(body))
	status, _ = f.get(t, noExport, query)
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, f.audit.String(), `"status":"denied"`)
	require.Contains(t, f.audit.String(), `"token":"viewer"`)
}
