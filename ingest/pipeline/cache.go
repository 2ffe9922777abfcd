package pipeline

import (
	"hash/maphash"
	"sync"
	"sync/atomic"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/quantrac/quantrac/tsdb"
)

// cacheShards is the number of independently locked parts of the series
// cache. Lookups take a read lock, so contention only comes from new series;
// 64 shards keep even a burst of new series (a gateway's first message) from
// serialising publishers on two cores or on sixty-four.
const cacheShards = 64

// seriesCache maps a series' canonical key bytes to its ref. The key is
// province, gateway, metric and the sorted tags, each followed by a zero byte
// (docs/ingest.md). A hit compares the whole key, so a hash collision costs a
// comparison, never a wrong series.
type seriesCache struct {
	seed   maphash.Seed
	shards [cacheShards]cacheShard
}

type cacheShard struct {
	mu sync.RWMutex
	m  map[uint64]*cacheEntry
	_  [40]byte // keep neighbouring shards' locks off one cache line
}

type cacheEntry struct {
	hash uint64
	key  string
	ref  tsdb.SeriesRef
	lset labels.Labels // for forwarding, which sends labels, not refs
	next *cacheEntry   // another key with the same hash
}

func newSeriesCache() *seriesCache {
	c := &seriesCache{seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].m = make(map[uint64]*cacheEntry)
	}
	return c
}

func (c *seriesCache) hash(key []byte) uint64 { return maphash.Bytes(c.seed, key) }

// get returns the entry for key, or nil. It does not allocate. Entries are
// immutable once published.
func (c *seriesCache) get(h uint64, key []byte) *cacheEntry {
	sh := &c.shards[h%cacheShards]
	sh.mu.RLock()
	e := sh.m[h]
	for e != nil && e.key != string(key) {
		e = e.next
	}
	sh.mu.RUnlock()
	return e
}

// put records key's series and returns the entry in the cache (another
// goroutine's, if it won a race for the same key); it copies key.
func (c *seriesCache) put(h uint64, key []byte, ref tsdb.SeriesRef, lset labels.Labels) *cacheEntry {
	sh := &c.shards[h%cacheShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	for e := sh.m[h]; e != nil; e = e.next {
		if e.key == string(key) {
			return e
		}
	}
	e := &cacheEntry{hash: h, key: string(key), ref: ref, lset: lset, next: sh.m[h]}
	sh.m[h] = e
	return e
}

// memoSlots is the size of a gateway's series memo. A gateway writes the
// same few hundred series message after message (100 devices of up to 5
// fields); 1024 slots keep most of them, at 8 KiB per gateway that has
// published (80 MiB for 10 000 gateways).
const memoSlots = 1024

// seriesMemo is a gateway's direct-mapped memo of cache entries, indexed by
// the key's hash. It saves the shared cache's shard lock and map probe on
// the hot path: a slot is read and written with one atomic operation, and
// a hit still compares the whole key. Entries are immutable, so a slot
// overwritten by another connection of the same gateway is only a miss.
type seriesMemo [memoSlots]atomic.Pointer[cacheEntry]

func (m *seriesMemo) get(h uint64, key []byte) *cacheEntry {
	e := m[h%memoSlots].Load()
	if e != nil && e.hash == h && e.key == string(key) {
		return e
	}
	return nil
}

func (m *seriesMemo) put(e *cacheEntry) { m[e.hash%memoSlots].Store(e) }
