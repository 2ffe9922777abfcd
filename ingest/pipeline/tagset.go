package pipeline

import (
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/quantrac/quantrac/ingest"
)

// A tagSet is one label set of one gateway: the part of series keys before
// the metric (province, gateway and the sorted tags), shared by the series
// of a reading's fields. Every cache entry points at its tag set, and tag
// sets are interned, so two entries with the same tag-set pointer have the
// same key up to the metric.
//
// That makes the prediction cheap. When a reading's tags equal, in the
// order they came, those of the tag set of the series predicted next, the
// reading's key need not be built at all; each field's series is then
// resolved by comparing the predicted entry's tag-set pointer and its
// metric name, a dozen bytes instead of the whole key. A tag set is only
// trusted this way for the gateway that owns it (owner), so a prediction
// can never reach another gateway's series with the same tags.
type tagSet struct {
	// owner is the gateway whose messages may use the set by prediction:
	// set once a message of that gateway resolved one of its series by
	// the whole key, which holds the province and the gateway.
	owner  atomic.Pointer[GatewayStats]
	keyLen int // of the key: province NUL gateway NUL (tag NUL value NUL)*
	// The labels as they came from the payload the first time, in their
	// order then, as tag NUL value NUL ...: a reading that repeats them
	// exactly is this set. They are kept inside the set when they fit,
	// so that checking a prediction on a node whose sets do not fit the
	// CPU caches costs one cache miss, not one per label.
	n      int
	rawLen int
	raw    [tagSetInline]byte
	rawOut string // when they do not fit
}

// tagSetInline bounds the labels kept inside a tag set: a device id and a
// kind or two.
const tagSetInline = 64

// is reports whether tags, in their order, are those of the set. The set's
// labels hold no NUL byte, so matching its 2n separators with n tags
// leaves none for the tags' own bytes.
func (t *tagSet) is(tags []ingest.Tag) bool {
	if len(tags) != t.n {
		return false
	}
	raw := t.rawOut
	if t.rawLen <= tagSetInline {
		raw = unsafe.String(&t.raw[0], t.rawLen)
	}
	for i := range tags {
		tag := &tags[i]
		k, v := len(tag.Key), len(tag.Value)
		if len(raw) < k+v+2 || raw[:k] != string(tag.Key) || raw[k] != 0 ||
			raw[k+1:k+1+v] != string(tag.Value) || raw[k+1+v] != 0 {
			return false
		}
		raw = raw[k+v+2:]
	}
	return len(raw) == 0
}

// tagSets interns tag sets by key. It is only used when a series is
// created, so one lock is enough.
type tagSets struct {
	mu sync.Mutex
	m  map[string]*tagSet
}

// get returns the tag set of key, creating it with a copy of tags.
func (ts *tagSets) get(key []byte, tags []ingest.Tag) *tagSet {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if t := ts.m[string(key)]; t != nil {
		return t
	}
	if ts.m == nil {
		ts.m = map[string]*tagSet{}
	}
	var raw []byte
	for _, tag := range tags {
		raw = append(raw, tag.Key...)
		raw = append(raw, 0)
		raw = append(raw, tag.Value...)
		raw = append(raw, 0)
	}
	t := &tagSet{keyLen: len(key), n: len(tags), rawLen: len(raw)}
	if copy(t.raw[:], raw) < len(raw) {
		t.rawOut = string(raw)
	}
	ts.m[string(key)] = t
	return t
}
