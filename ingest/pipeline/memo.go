package pipeline

import (
	"sync"
	"sync/atomic"
)

// seriesMemo is a gateway's memo of cache entries, in front of the shared
// series cache. A gateway writes the same few hundred series message after
// message; on a node with hundreds of thousands of series, the shared
// cache's map probe and the entries it reaches are cold in the CPU caches
// by the time the gateway's next message comes. The memo keeps the
// gateway's entries in one small table of its own: a lookup reads two
// adjacent slots (two-way, so two keys with the same slot do not evict each
// other message after message), their hashes first, so a miss touches no
// entry, and a hit still compares the whole key.
//
// Slots are read and written with atomic operations and entries are
// immutable, so connections of one gateway may share the memo: a slot
// another one overwrote is only a miss. The table starts at memoMinSlots
// and doubles while the gateway has more series than half its slots, up to
// memoMaxSlots: 16 bytes per slot, so 2 KiB for a gateway of 20 devices and
// 16 KiB for one of 100 hydromet stations.
type seriesMemo struct {
	mask   uint64
	hashes []atomic.Uint64
	ptrs   []atomic.Pointer[cacheEntry]
	puts   atomic.Int64
}

const (
	memoMinSlots = 128
	memoMaxSlots = 1024
)

func newSeriesMemo(slots int) *seriesMemo {
	return &seriesMemo{mask: uint64(slots - 1), hashes: make([]atomic.Uint64, slots),
		ptrs: make([]atomic.Pointer[cacheEntry], slots)}
}

func (m *seriesMemo) get(h uint64, key []byte) *cacheEntry {
	i := h & m.mask
	for _, j := range [2]uint64{i, i ^ 1} {
		if m.hashes[j].Load() == h {
			if e := m.ptrs[j].Load(); e != nil && e.hash == h && e.is(key) {
				return e
			}
		}
	}
	return nil
}

// put remembers e and reports whether the memo should grow.
func (m *seriesMemo) put(e *cacheEntry) (grow bool) {
	i := e.hash & m.mask
	if m.ptrs[i].Load() != nil && m.ptrs[i^1].Load() == nil {
		i ^= 1
	}
	// The hash is cleared while the pointer changes, so that a reader
	// never pairs the new hash with the old entry; it compares the key
	// anyway.
	m.hashes[i].Store(0)
	m.ptrs[i].Store(e)
	m.hashes[i].Store(e.hash)
	return m.puts.Add(1) > int64(len(m.ptrs)/2) && len(m.ptrs) < memoMaxSlots
}

// memoHolder is the part of GatewayStats that owns its memo.
type memoHolder struct {
	memo atomic.Pointer[seriesMemo] // set by the gateway's first message
	// last is the series of the last sample of the gateway's last
	// message. Its successor is the prediction for the next message's
	// first sample, so the predictions form one ring through the
	// gateway's series: a batch of all its devices repeats the ring's
	// start, and messages of one device each (Sparkplug, live) follow it
	// device after device.
	last atomic.Pointer[cacheEntry]
	// order is the series of the last message's samples (msgState.warm).
	order atomic.Pointer[entryOrder]
	grow  sync.Mutex
}

// seriesMemo returns the gateway's memo, creating it on first use.
func (g *memoHolder) seriesMemo() *seriesMemo {
	if m := g.memo.Load(); m != nil {
		return m
	}
	g.memo.CompareAndSwap(nil, newSeriesMemo(memoMinSlots))
	return g.memo.Load()
}

// growMemo replaces old by a memo twice its size holding old's entries,
// unless another message did so already, and returns the memo to use.
func (g *memoHolder) growMemo(old *seriesMemo) *seriesMemo {
	g.grow.Lock()
	defer g.grow.Unlock()
	if cur := g.memo.Load(); cur != old {
		return cur
	}
	m := newSeriesMemo(len(old.ptrs) * 2)
	for i := range old.ptrs {
		if e := old.ptrs[i].Load(); e != nil {
			m.put(e)
		}
	}
	g.memo.Store(m)
	return m
}
