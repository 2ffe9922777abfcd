package pipeline

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/quantrac/quantrac/ingest/internal/simbench"
	"github.com/quantrac/quantrac/tsdb"
)

// mapStore is an in-memory store with a map of series, for benchmarks with
// hundreds of thousands of them.
type mapStore struct {
	mu      sync.Mutex
	refs    map[string]tsdb.SeriesRef
	samples tsdb.Batch
	done    *tsdb.Commit
}

func (m *mapStore) GetOrCreate(l labels.Labels) (tsdb.SeriesRef, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := l.String()
	if r, ok := m.refs[k]; ok {
		return r, nil
	}
	r := tsdb.SeriesRef(len(m.refs) + 1)
	m.refs[k] = r
	return r, nil
}

func (m *mapStore) Append(b *tsdb.Batch) (*tsdb.Commit, error) {
	m.samples.Reset()
	return m.done, nil
}

// BenchmarkIngestManyGateways is the pipeline as a busy node sees it: 1000
// gateways of 100 devices (the simulator's mix, 275 series each, 275 000 in
// all) take turns, so each message finds its gateway's series cold in the
// CPU caches, unlike BenchmarkIngestSim's single gateway. One op is one
// 100-reading JSON message.
func BenchmarkIngestManyGateways(b *testing.B) {
	const gateways = 1000
	st := &mapStore{refs: map[string]tsdb.SeriesRef{}, done: doneCommit(b)}
	p := newTestPipeline(b, st)
	start := now.Add(-20 * 24 * time.Hour).UnixMilli()
	payload := simbench.JSON(simbench.Readings(100, simbench.Mixes[1].Kind, start))
	msgs := make([]*Message, gateways)
	for i := range msgs {
		msgs[i] = &Message{Identity: Identity{simbench.Province, fmt.Sprintf("hn-gw-%03d", i)},
			Format: FormatJSON, Payload: payload}
		if res, err := p.Ingest(msgs[i], false); err != nil || res.Rejected != 0 {
			b.Fatalf("warm-up: %v, %+v", err, res)
		}
	}
	b.SetBytes(int64(len(payload)))
	r := simbench.Start(b)
	i := 0
	for b.Loop() {
		if _, err := p.Ingest(msgs[i], false); err != nil {
			b.Fatal(err)
		}
		if i++; i == gateways {
			i = 0
		}
	}
	r.Report(int64(100*b.N), int64(275*b.N))
}
