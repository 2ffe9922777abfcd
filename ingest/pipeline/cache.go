package pipeline

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/quantrac/quantrac/tsdb"
)

// cacheShards is the number of independently locked parts of the series
// cache. Lookups take a read lock, so contention only comes from new series;
// 64 shards keep even a burst of new series (a gateway's first message) from
// serialising publishers on two cores or on sixty-four.
const cacheShards = 64

// seriesCache maps a series' canonical key bytes to its ref. The key is
// province, gateway, the sorted tags and the metric, each followed by a zero byte
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

// inlineKey is the longest key kept inside its cache entry. Keys are
// typically 60 to 100 bytes; kept inline, comparing one costs no second
// cache miss on a node whose series do not fit the CPU caches.
const inlineKey = 112

// An entry keeps its key turned around, the metric name and its NUL
// first, then the tag section (the tag set's key): a prediction reads the
// tag set pointer, the successor, the ref and the metric name, which then
// all sit in the entry's first 64 bytes for names of up to 31 bytes.
// Entries are 192 bytes, a multiple of the cache line, so they are
// aligned to it.
type cacheEntry struct {
	tags *tagSet // the key up to the metric
	// succ is the series that followed this one in its gateway's last
	// message: a prediction, checked by comparing the key, and the only
	// field that changes after the entry is published.
	succ atomic.Pointer[cacheEntry]
	ref  tsdb.SeriesRef
	klen int32
	mlen int32           // the metric name's
	kin  [inlineKey]byte // the turned key, when it fits
	kout string          // the turned key, when it does not
	hash uint64
	lset labels.Labels // for forwarding, which sends labels, not refs
	next *cacheEntry   // another key with the same hash
}

// newCacheEntry makes the entry of key, whose part before the metric name
// is tags' key.
func newCacheEntry(h uint64, key []byte, ref tsdb.SeriesRef, lset labels.Labels, tags *tagSet, next *cacheEntry) *cacheEntry {
	n := tags.keyLen
	e := &cacheEntry{hash: h, ref: ref, lset: lset, tags: tags, next: next,
		klen: int32(len(key)), mlen: int32(len(key) - n - 1)}
	if len(key) <= inlineKey {
		copy(e.kin[copy(e.kin[:], key[n:]):], key[:n])
	} else {
		e.kout = string(key[n:]) + string(key[:n])
	}
	return e
}

// turned returns the entry's turned key.
func (e *cacheEntry) turned() string {
	if e.klen <= inlineKey {
		return unsafe.String(&e.kin[0], e.klen)
	}
	return e.kout
}

// is reports whether the entry's key is key.
func (e *cacheEntry) is(key []byte) bool {
	if len(key) != int(e.klen) {
		return false
	}
	t, m := e.turned(), int(e.mlen)+1
	n := len(key) - m
	return t[:m] == string(key[n:]) && t[m:] == string(key[:n])
}

// metricIs reports whether the entry's metric name is metric. With the
// same tag set, that makes its key the key of metric's series.
func (e *cacheEntry) metricIs(metric []byte) bool {
	return int(e.mlen) == len(metric) && e.turned()[:len(metric)] == string(metric)
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
	for e != nil && !e.is(key) {
		e = e.next
	}
	sh.mu.RUnlock()
	return e
}

// put records key's series and returns the entry in the cache (another
// goroutine's, if it won a race for the same key); it copies key.
func (c *seriesCache) put(h uint64, key []byte, ref tsdb.SeriesRef, lset labels.Labels, tags *tagSet) *cacheEntry {
	sh := &c.shards[h%cacheShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	for e := sh.m[h]; e != nil; e = e.next {
		if e.is(key) {
			return e
		}
	}
	e := newCacheEntry(h, key, ref, lset, tags, sh.m[h])
	sh.m[h] = e
	return e
}
