package index

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/stretchr/testify/require"
)

// testSeries returns n series shaped like the store's: a metric name, a
// province, a gateway, a device and, on a third of them, a unit label.
func testSeries(n int) []labels.Labels {
	metrics := []string{"air_temperature_celsius", "relative_humidity_percent", "rainfall_mm", "voltage_volts"}
	provinces := []string{"ha-noi", "hue", "da-nang", "ho-chi-minh", "can-tho"}
	out := make([]labels.Labels, n)
	for i := range n {
		b := labels.NewScratchBuilder(5)
		b.Add("__name__", metrics[i%len(metrics)])
		b.Add("province", provinces[i/7%len(provinces)])
		b.Add("gateway", fmt.Sprintf("gw-%03d", i/40))
		b.Add("device", fmt.Sprintf("aws-%04d", i/4))
		if i%3 == 0 {
			b.Add("unit", "si")
		}
		b.Sort()
		out[i] = b.Labels()
	}
	return out
}

func bruteForce(series []labels.Labels, ms []*labels.Matcher) []uint64 {
	var out []uint64
	for i, ls := range series {
		ok := true
		for _, m := range ms {
			if !m.Matches(ls.Get(m.Name)) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, uint64(i+1))
		}
	}
	return out
}

func TestSelectAgreesWithBruteForce(t *testing.T) {
	series := testSeries(2000)
	ix := New()
	// Out of order on purpose: the store may meet refs again while loading.
	perm := rand.New(rand.NewPCG(1, 2)).Perm(len(series))
	for _, i := range perm {
		ix.Add(uint64(i+1), series[i])
	}
	ix.Add(5, series[4]) // a repeat changes nothing
	require.Equal(t, len(series), ix.Len())

	mm := labels.MustNewMatcher
	cases := map[string][]*labels.Matcher{
		"equal":                {mm(labels.MatchEqual, "__name__", "rainfall_mm")},
		"one device":           {mm(labels.MatchEqual, "__name__", "voltage_volts"), mm(labels.MatchEqual, "device", "aws-0123")},
		"absent value":         {mm(labels.MatchEqual, "device", "nope")},
		"absent name":          {mm(labels.MatchEqual, "colour", "red")},
		"not equal":            {mm(labels.MatchEqual, "__name__", "rainfall_mm"), mm(labels.MatchNotEqual, "province", "ha-noi")},
		"not equal only":       {mm(labels.MatchNotEqual, "province", "ha-noi")},
		"regexp":               {mm(labels.MatchRegexp, "province", "h.*")},
		"regexp set":           {mm(labels.MatchRegexp, "province", "hue|can-tho"), mm(labels.MatchEqual, "__name__", "rainfall_mm")},
		"not regexp":           {mm(labels.MatchEqual, "__name__", "voltage_volts"), mm(labels.MatchNotRegexp, "gateway", "gw-00.")},
		"empty means absent":   {mm(labels.MatchEqual, "unit", ""), mm(labels.MatchEqual, "province", "hue")},
		"not empty":            {mm(labels.MatchNotEqual, "unit", "")},
		"regexp matches empty": {mm(labels.MatchRegexp, "unit", "si|"), mm(labels.MatchEqual, "device", "aws-0001")},
		"dot star":             {mm(labels.MatchRegexp, "colour", ".*")},
		"dot plus":             {mm(labels.MatchRegexp, "unit", ".+"), mm(labels.MatchEqual, "gateway", "gw-002")},
		"contradiction":        {mm(labels.MatchEqual, "province", "hue"), mm(labels.MatchEqual, "province", "ha-noi")},
		// A small selection is checked against large postings by probing.
		"device then regexp":      {mm(labels.MatchEqual, "device", "aws-0123"), mm(labels.MatchRegexp, "province", "h.*|da-nang")},
		"device then regexp miss": {mm(labels.MatchEqual, "device", "aws-0123"), mm(labels.MatchRegexp, "province", "can-.*")},
		"device then not equal":   {mm(labels.MatchEqual, "device", "aws-0124"), mm(labels.MatchNotEqual, "province", "hue")},
		"device then not regexp":  {mm(labels.MatchRegexp, "device", "aws-01[0-3]."), mm(labels.MatchNotRegexp, "province", "h.*")},
		"gateway then unit set":   {mm(labels.MatchEqual, "gateway", "gw-007"), mm(labels.MatchNotEqual, "unit", "")},
		"gateway then unit unset": {mm(labels.MatchEqual, "gateway", "gw-007"), mm(labels.MatchEqual, "unit", "")},
	}
	for name, ms := range cases {
		t.Run(name, func(t *testing.T) {
			got := ix.Select(ms...)
			want := bruteForce(series, ms)
			if len(want) == 0 {
				require.Empty(t, got)
				return
			}
			require.Equal(t, want, got)
		})
	}
}

func TestNamesAndValues(t *testing.T) {
	ix := New()
	for i, ls := range testSeries(50) {
		ix.Add(uint64(i+1), ls)
	}
	require.Equal(t, []string{"__name__", "device", "gateway", "province", "unit"}, ix.Names())
	require.Equal(t, []string{"gw-000", "gw-001"}, ix.Values("gateway"))
	require.Nil(t, ix.Values("colour"))
	ix.Add(51, labels.FromStrings("gateway", "gw-000a"))
	require.Equal(t, []string{"gw-000", "gw-000a", "gw-001"}, ix.Values("gateway"))
}

func TestAddRefusesBadRefs(t *testing.T) {
	ix := New()
	require.Panics(t, func() { ix.Add(0, labels.FromStrings("a", "b")) })
	require.Panics(t, func() { ix.Add(MaxRef+1, labels.FromStrings("a", "b")) })
}

// BenchmarkSelectOneOfMillion picks one series out of a million, the query
// an analyst's dashboard panel makes, with each kind of matcher. The cost
// follows the postings and the label values the matchers name, not the
// number of series: a scan of a million series would take milliseconds.
func BenchmarkSelectOneOfMillion(b *testing.B) {
	ix := New()
	for i, ls := range testSeries(1_000_000) {
		ix.Add(uint64(i+1), ls)
	}
	mm := labels.MustNewMatcher
	name := mm(labels.MatchEqual, "__name__", "voltage_volts")
	device := mm(labels.MatchEqual, "device", "aws-123456")
	for _, bc := range []struct {
		name string
		ms   []*labels.Matcher
	}{
		{"equal", []*labels.Matcher{name, device}},
		{"not_equal", []*labels.Matcher{name, device, mm(labels.MatchNotEqual, "province", "ha-noi")}},
		{"regexp_set", []*labels.Matcher{name, mm(labels.MatchRegexp, "device", "aws-123456|aws-nope")}},
		{"regexp_on_province", []*labels.Matcher{name, device, mm(labels.MatchRegexp, "province", "h.*")}},
		{"not_regexp", []*labels.Matcher{name, device, mm(labels.MatchNotRegexp, "province", "can-.*|da-.*")}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if got := ix.Select(bc.ms...); len(got) != 1 {
					b.Fatalf("got %d series", len(got))
				}
			}
		})
	}
}
