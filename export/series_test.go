package export

import (
	"fmt"
	"math"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/util/annotations"
)

// testSeries is one series held in memory. Samples whose index is in hist
// are presented as native histograms, which the exporter must skip. Its
// iterator is Prometheus' own list iterator.
type testSeries struct {
	lset labels.Labels
	ts   []int64
	vs   []float64
	hist map[int]bool
}

func (s *testSeries) Labels() labels.Labels { return s.lset }

func (s *testSeries) Iterator(it chunkenc.Iterator) chunkenc.Iterator {
	samples := make([]chunks.Sample, len(s.ts))
	for i := range s.ts {
		samples[i] = testSample{t: s.ts[i], f: s.vs[i], hist: s.hist[i]}
	}
	return storage.NewListSeries(s.lset, samples).Iterator(it)
}

// testSample implements chunks.Sample for testSeries.
type testSample struct {
	t    int64
	f    float64
	hist bool
}

func (s testSample) T() int64   { return s.t }
func (s testSample) ST() int64  { return 0 }
func (s testSample) F() float64 { return s.f }
func (s testSample) H() *histogram.Histogram {
	if !s.hist {
		return nil
	}
	return &histogram.Histogram{Count: 1, Sum: s.f}
}
func (s testSample) FH() *histogram.FloatHistogram { return nil }
func (s testSample) Type() chunkenc.ValueType {
	if s.hist {
		return chunkenc.ValHistogram
	}
	return chunkenc.ValFloat
}
func (s testSample) Copy() chunks.Sample { return s }

// listSet is a storage.SeriesSet over testSeries, optionally failing at
// the end with err.
type listSet struct {
	series []*testSeries
	i      int
	err    error
	warn   annotations.Annotations
}

func newListSet(series []*testSeries) *listSet { return &listSet{series: series, i: -1} }

func (s *listSet) Next() bool {
	s.i++
	return s.i < len(s.series)
}
func (s *listSet) At() storage.Series                { return s.series[s.i] }
func (s *listSet) Err() error                        { return s.err }
func (s *listSet) Warnings() annotations.Annotations { return s.warn }

// genSet produces series on the fly: nothing is held but the current
// series' labels, so it stands for a store far larger than memory. Each of
// its series has perSeries samples at a 1 s interval with a little jitter.
type genSet struct {
	series, perSeries int
	i                 int
	cur               genSeries
	onNext            func(i int) // called before each series, if set
}

func (g *genSet) Next() bool {
	if g.i >= g.series {
		return false
	}
	if g.onNext != nil {
		g.onNext(g.i)
	}
	g.cur = genSeries{
		lset: labels.FromStrings(
			model.MetricNameLabel, "air_temperature_celsius",
			"province", fmt.Sprintf("province-%02d", g.i%34),
			"gateway", fmt.Sprintf("gw-%04d", g.i/8),
			"device", fmt.Sprintf("dev-%06d", g.i),
		),
		id: g.i,
		n:  g.perSeries,
	}
	g.i++
	return true
}

func (g *genSet) At() storage.Series                { return &g.cur }
func (g *genSet) Err() error                        { return nil }
func (g *genSet) Warnings() annotations.Annotations { return nil }

type genSeries struct {
	lset labels.Labels
	id   int
	n    int
}

func (s *genSeries) Labels() labels.Labels { return s.lset }

// Iterator encodes the series into a Gorilla (XOR) chunk, as the store
// hands out, and returns the chunk's iterator.
func (s *genSeries) Iterator(it chunkenc.Iterator) chunkenc.Iterator {
	c := chunkenc.NewXORChunk()
	app, err := c.Appender()
	if err != nil {
		panic(err)
	}
	for i := range s.n {
		t, v := genSample(s.id, i)
		app.Append(0, t, v)
	}
	return c.Iterator(it)
}

// genSample is the deterministic sample i of series id, shaped like a
// gateway's temperature readings: one per second with a clock jitter of up
// to ±20 ms, and a value with one decimal that follows a daily curve plus
// sensor noise.
func genSample(id, i int) (int64, float64) {
	h := mix(uint64(id)<<32 | uint64(i))
	jitter := int64(h%41) - 20
	noise := float64(h>>32%1000)/1000 - 0.5
	t := int64(1767225600000) + int64(i)*1000 + jitter
	v := math.Round((25+8*math.Sin(float64(i)/13751)+float64(id%10)+noise)*10) / 10
	return t, v
}

// mix is SplitMix64's finaliser: a cheap, well-spread hash.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// genColumns are the label names genSet's series carry.
var genColumns = []string{model.MetricNameLabel, "province", "gateway", "device"}
