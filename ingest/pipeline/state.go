package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/quantrac/quantrac/ingest"
	"github.com/quantrac/quantrac/province"
	"github.com/quantrac/quantrac/tsdb"
)

// msgState is the per-message working set: the decoder's Sink, the batch being
// filled, and scratch space. It comes from the pipeline's pool, so after
// warm-up a message allocates nothing per reading.
type msgState struct {
	p        *Pipeline
	msg      *Message
	gw       *GatewayStats
	memo     *seriesMemo // gw's
	now      time.Time
	min, max int64 // accepted timestamp window, Unix ms

	batch     tsdb.Batch
	lsets     []labels.Labels // each sample's labels, kept only when forwarding
	key       []byte          // canonical series key being built
	prefixLen int             // bytes of key that hold province and gateway
	tagsEnd   int             // bytes of key that hold the prefix and the tags
	in        []ingest.Tag    // the current reading's, as the decoder gave them
	tags      []ingest.Tag    // the current reading's, sorted, once keyed
	keyed     bool            // key holds the current reading's tag section
	cur       *tagSet         // the current reading's, when known
	tagReason ingest.Reason   // why they are refused, with tagErr
	tagErr    error

	// prev is the series of the previous sample, next the one that followed
	// it the last time: the prediction for this sample.
	prev, next *cacheEntry
	// seen is the series of this message's samples so far, in order,
	// handed to the gateway at the end for its next message (warm).
	seen *entryOrder
	// touched keeps warm's loads from being optimised away.
	touched uintptr

	prov, gateway      string // the identity's, for new series
	relayProv, relayGw []byte // a relayed reading's, aliasing the payload

	relay   bool // the message is a relay's (Message.Relay)
	forward bool // the pipeline has a Forwarder: keep each sample's labels

	rejected    int
	firstReason ingest.Reason
	firstErr    error

	decoders [numFormats]Decoder
	lb       labels.ScratchBuilder
}

func (s *msgState) begin(msg *Message, now time.Time) {
	s.msg, s.now = msg, now
	s.relay, s.forward = msg.Relay != nil, s.p.opts.Forwarder != nil
	ms := now.UnixMilli()
	s.min = ms - s.p.opts.Limits.MaxPast.Milliseconds()
	s.max = ms + s.p.opts.Limits.MaxFuture.Milliseconds()
	s.batch.Reset()
	clear(s.lsets) // drop references to labels so the pool holds no series alive
	s.lsets = s.lsets[:0]
	s.rejected, s.firstReason, s.firstErr = 0, ingest.ReasonNone, nil

	k := append(s.key[:0], msg.Province...)
	k = append(k, '/')
	k = append(k, msg.Gateway...)
	s.gw = s.p.gateways.get(k, msg.Identity)
	s.memo = s.gw.seriesMemo()
	k[len(msg.Province)] = 0
	s.key = append(k, 0)
	s.prefixLen = len(s.key)
	s.tagsEnd, s.tagReason, s.tagErr = s.prefixLen, ingest.ReasonNone, nil
	s.prev, s.next, s.cur, s.in = s.gw.last.Load(), nil, nil, nil
	if s.prev != nil {
		s.next = s.prev.succ.Load()
	}
	s.warm()
	s.prov, s.gateway = msg.Province, msg.Gateway
}

// relayIdentity takes a relayed reading's province and gateway out of its
// tags (into s.tags, unsorted, without them) and makes them the key prefix.
func (s *msgState) relayIdentity(tags []ingest.Tag) (ingest.Reason, error) {
	var prov, gw []byte
	s.tags = s.tags[:0]
	for _, t := range tags {
		switch string(t.Key) {
		case "province":
			prov = t.Value
		case "gateway":
			gw = t.Value
		default:
			s.tags = append(s.tags, t)
		}
	}
	if len(prov) == 0 || len(gw) == 0 {
		return ingest.ReasonLabel, errors.New("a relayed series needs province and gateway labels")
	}
	if bytes.IndexByte(prov, 0) >= 0 || bytes.IndexByte(gw, 0) >= 0 {
		return ingest.ReasonLabel, errors.New("a relayed province or gateway label has a NUL byte")
	}
	if !s.msg.Relay.Allows(string(prov)) {
		return ingest.ReasonLabel, fmt.Errorf("this relay may not write province %q", prov)
	}
	k := append(s.key[:0], prov...)
	k = append(k, 0)
	k = append(k, gw...)
	s.key = append(k, 0)
	s.prefixLen = len(s.key)
	s.tagsEnd = s.prefixLen
	s.relayProv, s.relayGw = prov, gw
	return ingest.ReasonNone, nil
}

// Invalid implements ingest.Sink.
func (s *msgState) Invalid(reason ingest.Reason, err error) {
	s.rejected++
	s.gw.Rejected[reason].Add(1)
	if s.firstErr == nil {
		s.firstReason, s.firstErr = reason, err
	}
}

// Tags implements ingest.Sink. When the tags are, in their order, those of
// the series predicted next (each cache entry remembers its successor), the
// reading is that series' tag set and nothing more is done: its fields are
// resolved against the set in Sample. Otherwise the reading's key is built
// (buildKey).
func (s *msgState) Tags(tags []ingest.Tag) {
	s.in, s.cur, s.keyed = tags, nil, false
	s.tagReason, s.tagErr = ingest.ReasonNone, nil
	if e := s.next; e != nil && !s.relay && e.tags.owner.Load() == s.gw && e.tags.is(tags) {
		s.cur = e.tags
		return
	}
	s.buildKey()
}

// buildKey sorts the reading's tags into s.tags (insertion sort: there are
// few), so that tag order in the payload does not change the series, checks
// them for NUL bytes and writes the key's tag section after its prefix,
// once for all of the reading's fields.
func (s *msgState) buildKey() {
	s.keyed = true
	if s.msg.Relay != nil {
		if reason, err := s.relayIdentity(s.in); err != nil {
			s.tagReason, s.tagErr = reason, err
			return
		}
	} else {
		s.tags = append(s.tags[:0], s.in...)
	}
	for i := 1; i < len(s.tags); i++ {
		for j := i; j > 0 && string(s.tags[j].Key) < string(s.tags[j-1].Key); j-- {
			s.tags[j], s.tags[j-1] = s.tags[j-1], s.tags[j]
		}
	}
	// The key separates its parts with NUL bytes, so a part holding one
	// could spell another series' key and reach it without the checks a
	// new series gets. Decoders hold tag keys to [a-zA-Z0-9_] and metric
	// names hold no NUL (the Sink contract); values are checked here,
	// because a cache hit skips create.
	k := s.key[:s.prefixLen]
	for _, t := range s.tags {
		if bytes.IndexByte(t.Value, 0) >= 0 || bytes.IndexByte(t.Key, 0) >= 0 {
			s.tagReason, s.tagErr = ingest.ReasonLabel, fmt.Errorf("label %q value has a control character", t.Key)
			return
		}
		k = append(k, t.Key...)
		k = append(k, 0)
		k = append(k, t.Value...)
		k = append(k, 0)
	}
	s.key, s.tagsEnd = k, len(k)
}

// Sample implements ingest.Sink: it resolves the series and adds the sample
// to the batch. The series is most often the one that followed the previous
// sample's series the last time: when that entry has the reading's tag set
// (Tags, or the reading's first field) and the sample's metric, it is the
// series, with no key built, no hash and no table probe. Otherwise the
// whole key is built and looked up.
func (s *msgState) Sample(metric []byte, ts int64, v float64) {
	if ts < s.min || ts > s.max {
		s.Invalid(ingest.ReasonTimestamp, fmt.Errorf("timestamp %d of %s is outside the accepted window [%d, %d]", ts, metric, s.min, s.max))
		return
	}
	// An entry's tag set is never nil, so a reading without a known tag
	// set (s.cur nil) always takes resolve.
	e := s.next
	if e == nil || e.tags != s.cur || !e.metricIs(metric) {
		if e = s.resolve(metric); e == nil {
			return
		}
	}
	s.prev, s.next = e, e.succ.Load()
	if o := s.seen; len(o.es) < maxOrder {
		o.es = append(o.es, e)
	}
	s.batch.Add(e.ref, ts, v)
	if s.forward {
		s.lsets = append(s.lsets, e.lset)
	}
}

// resolve finds metric's series of the current reading by its whole key,
// outside the prediction, and remembers the order for the next message:
// the series follows the previous sample's. Nil means the sample was
// refused.
func (s *msgState) resolve(metric []byte) *cacheEntry {
	if !s.keyed {
		s.buildKey()
	}
	if s.tagErr != nil {
		s.Invalid(s.tagReason, s.tagErr)
		return nil
	}
	k := append(s.key[:s.tagsEnd], metric...)
	k = append(k, 0)
	s.key = k
	e := s.lookup(k, metric)
	if e == nil {
		return nil
	}
	if s.msg.Relay == nil {
		// The whole key, with this gateway's province and gateway,
		// matched: the tag set is the reading's and this gateway's.
		s.cur = e.tags
		if e.tags.owner.Load() == nil {
			e.tags.owner.Store(s.gw)
		}
	}
	if s.prev != nil && s.prev.succ.Load() != e {
		s.prev.succ.Store(e)
	}
	return e
}

// lookup resolves key through the gateway's memo and the shared cache, and
// creates the series when neither knows it; nil means the reading was
// refused.
func (s *msgState) lookup(k, metric []byte) *cacheEntry {
	h := s.p.cache.hash(k)
	e := s.memo.get(h, k)
	if e != nil {
		return e
	}
	if e = s.p.cache.get(h, k); e == nil {
		ref, lset, reason, err := s.create(metric)
		if err != nil {
			s.Invalid(reason, err)
			return nil
		}
		tags := s.in
		if s.msg.Relay != nil {
			tags = s.tags
		}
		e = s.p.cache.put(h, k, ref, lset, s.p.tagSets.get(k[:s.tagsEnd], tags))
	}
	if s.memo.put(e) {
		s.memo = s.gw.growMemo(s.memo)
	}
	return e
}

// create validates a series seen for the first time and registers it with
// the store. This is the only place a reading's labels are allocated.
func (s *msgState) create(metric []byte) (tsdb.SeriesRef, labels.Labels, ingest.Reason, error) {
	lim := s.p.opts.Limits
	if n := len(s.tags) + 3; n > lim.MaxLabels {
		return 0, labels.EmptyLabels(), ingest.ReasonTooManyLabels, fmt.Errorf("series %s has %d labels, over the limit of %d", metric, n, lim.MaxLabels)
	}
	s.lb.Reset()
	s.lb.Add(model.MetricNameLabel, string(metric))
	prov, gw := s.prov, s.gateway
	if s.msg.Relay != nil {
		prov, gw = string(s.relayProv), string(s.relayGw)
		if _, ok := province.Lookup(prov); !ok {
			return 0, labels.EmptyLabels(), ingest.ReasonLabel, fmt.Errorf("relayed province %q is not one of the 34 slugs", prov)
		}
		if !ingest.ValidGatewayID(gw) {
			return 0, labels.EmptyLabels(), ingest.ReasonLabel, fmt.Errorf("relayed gateway %q is not a valid gateway id", gw)
		}
	}
	s.lb.Add("province", prov)
	s.lb.Add("gateway", gw)
	for i, t := range s.tags {
		switch string(t.Key) {
		case model.MetricNameLabel, "province", "gateway":
			return 0, labels.EmptyLabels(), ingest.ReasonLabel, fmt.Errorf("label %q is set by the platform, not the payload", t.Key)
		}
		if i > 0 && string(t.Key) == string(s.tags[i-1].Key) {
			return 0, labels.EmptyLabels(), ingest.ReasonLabel, fmt.Errorf("label %q appears twice", t.Key)
		}
		if err := checkLabelValue(t, lim.MaxLabelValueLen); err != nil {
			return 0, labels.EmptyLabels(), ingest.ReasonLabel, err
		}
		s.lb.Add(string(t.Key), string(t.Value))
	}
	s.lb.Sort()
	lset := s.lb.Labels()
	ref, err := s.p.opts.Store.GetOrCreate(lset)
	if err != nil {
		return 0, lset, ingest.ReasonNone, fmt.Errorf("cannot create series %s: %w", metric, err)
	}
	s.p.series.Add(1)
	return ref, lset, ingest.ReasonNone, nil
}

func checkLabelValue(t ingest.Tag, maxLen int) error {
	switch {
	case len(t.Value) == 0:
		return fmt.Errorf("label %q has an empty value", t.Key)
	case len(t.Value) > maxLen:
		return fmt.Errorf("label %q value is %d bytes, over the limit of %d", t.Key, len(t.Value), maxLen)
	case !utf8.Valid(t.Value):
		return fmt.Errorf("label %q value is not valid UTF-8", t.Key)
	}
	for _, r := range string(t.Value) {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("label %q value has a control character", t.Key)
		}
	}
	return nil
}

// entryOrder is the series of one message's samples, in order.
type entryOrder struct{ es []*cacheEntry }

// maxOrder bounds the series an entryOrder remembers: a message's first
// few thousand.
const maxOrder = 4096

// warm loads the cache entries and tag sets of the gateway's last
// message, which its next message most often repeats, before decoding
// starts. Followed one prediction at a time, each entry was a cache miss
// waiting on the one before on a node whose hundreds of thousands of
// series do not fit the CPU caches; loaded together from an array, the
// misses overlap. The order is taken from the gateway, not shared: a
// second message of the same gateway at the same time finds none, and
// each message hands its own back at the end (done).
func (s *msgState) warm() {
	o := s.gw.order.Swap(nil)
	if o == nil {
		o = &entryOrder{}
	}
	var x uintptr
	for _, e := range o.es {
		x += uintptr(e.ref) + uintptr(e.tags.keyLen)
	}
	s.touched = x
	o.es = o.es[:0]
	s.seen = o
}

// done hands the message's order to its gateway.
func (s *msgState) done() {
	if s.seen != nil {
		s.gw.order.Store(s.seen)
		s.seen = nil
	}
}
