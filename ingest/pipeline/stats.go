package pipeline

import (
	"sort"
	"sync"
	"sync/atomic"

	"github.com/quantrac/quantrac/ingest"
)

// GatewayStats are one gateway's ingest counters.
type GatewayStats struct {
	Province, Gateway string
	Messages          atomic.Int64 // messages decoded, whole or in part
	Readings          atomic.Int64 // samples accepted
	Rejected          [ingest.NumReasons]atomic.Int64
	RefusedMessages   atomic.Int64 // messages refused whole

	memoHolder
}

// statsTable holds every gateway's counters. Lookup by the topic's bytes does
// not allocate once the gateway is known.
type statsTable struct {
	mu sync.RWMutex
	m  map[string]*GatewayStats // key: province "/" gateway
}

func (t *statsTable) get(key []byte, id Identity) *GatewayStats {
	t.mu.RLock()
	s := t.m[string(key)]
	t.mu.RUnlock()
	if s != nil {
		return s
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if s = t.m[string(key)]; s == nil {
		s = &GatewayStats{Province: id.Province, Gateway: id.Gateway}
		t.m[string(key)] = s
	}
	return s
}

// all returns every gateway's counters, ordered by province and gateway.
func (t *statsTable) all() []*GatewayStats {
	t.mu.RLock()
	out := make([]*GatewayStats, 0, len(t.m))
	for _, s := range t.m {
		out = append(out, s)
	}
	t.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Province != out[j].Province {
			return out[i].Province < out[j].Province
		}
		return out[i].Gateway < out[j].Gateway
	})
	return out
}
