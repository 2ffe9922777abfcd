// Package sparkplug decodes Sparkplug B (Eclipse Sparkplug 3.0) messages
// from industrial gateways, published on spBv1.0/<province>/<type>/<gateway>
// [/<device>]. Sparkplug is stateful: birth certificates (NBIRTH, DBIRTH)
// name and type every metric and bind it to an alias, and data messages
// (NDATA, DDATA) then carry aliases and values only. An EdgeNode keeps that
// state for one gateway and turns each message into Sink calls.
//
// The decoder walks the protobuf wire format with protowire and allocates
// nothing for data messages once their metrics are born: names are turned
// into Prometheus metric names once, at birth. Births and deaths allocate.
// The generated types in sparkplugpb are for building payloads.
//
// docs/payload-formats.md specifies the mapping, the online series, the
// sequence and bdSeq rules and the outcome of each malformed case.
package sparkplug

import (
	"fmt"
	"math"
	"sync/atomic"

	"github.com/quantrac/quantrac/ingest"
)

// OnlineMetric is the series a birth sets to 1 and a death to 0, with the
// device tag set to the device id or, for the node itself, the edge node id.
const OnlineMetric = "sparkplug_online"

// Result is what Decode learned about a message besides its samples.
type Result struct {
	Type             MessageType
	Samples, Invalid int // Sink calls made for this message
	// Rebirth is set when the message used a metric or device that no
	// birth certificate defined (ReasonUnknownAlias). The host side should
	// then ask the edge node for a new birth sequence with an NCMD setting
	// "Node Control/Rebirth" to true.
	Rebirth bool
}

// Stats are an edge node's session counters since NewEdgeNode. They may be
// read from any goroutine.
type Stats struct {
	Births         uint64 // NBIRTH and DBIRTH messages accepted
	Deaths         uint64 // NDEATH and DDEATH messages accepted
	StaleDeaths    uint64 // NDEATHs ignored because their bdSeq is not the session's
	SequenceGaps   uint64 // messages whose seq was not the previous one plus 1 (mod 256)
	UnknownMetrics uint64 // data values for metrics or devices without a birth
	Nulls          uint64 // values marked is_null, skipped without a report
}

// metricDef is a metric as its birth certificate defined it.
type metricDef struct {
	metric   []byte        // Prometheus name, computed once at birth
	datatype uint32        // sparkplugpb.DataType
	why      ingest.Reason // non-zero: values are skipped with this reason
	control  bool          // bdSeq and Node Control/*: protocol state, not telemetry
}

// metricSet is what one birth defined: the node's or one device's metrics.
type metricSet struct {
	defs    []metricDef
	byAlias map[uint64]int32
	byName  map[string]int32
}

type device struct {
	id      []byte
	metrics metricSet
}

// EdgeNode is the Sparkplug session of one edge node (one gateway). It is
// not safe for concurrent use: the caller serialises the messages of one
// edge node, as an MQTT connection does; Stats may be read concurrently.
type EdgeNode struct {
	group, node string
	opts        Options

	nodeID    []byte // the device tag value for node-level metrics
	nodeSet   metricSet
	nodeBorn  bool
	devices   map[string]*device
	bdSeq     uint64
	hasBdSeq  bool
	seq       uint64
	seqKnown  bool
	tags      []ingest.Tag
	deviceKey []byte
	online    []byte

	stats struct {
		births, deaths, staleDeaths, seqGaps, unknown, nulls atomic.Uint64
	}
}

// NewEdgeNode returns the session of edge node node in group group, both
// taken from the publisher's authenticated identity.
func NewEdgeNode(group, node string, opts Options) (*EdgeNode, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if group == "" || node == "" {
		return nil, fmt.Errorf("cannot create Sparkplug session: empty group %q or edge node %q", group, node)
	}
	return &EdgeNode{
		group:     group,
		node:      node,
		opts:      opts.withDefaults(),
		nodeID:    []byte(node),
		devices:   make(map[string]*device),
		tags:      make([]ingest.Tag, 1),
		deviceKey: []byte("device"),
		online:    []byte(OnlineMetric),
	}, nil
}

// Stats returns the session counters.
func (n *EdgeNode) Stats() Stats {
	return Stats{
		Births:         n.stats.births.Load(),
		Deaths:         n.stats.deaths.Load(),
		StaleDeaths:    n.stats.staleDeaths.Load(),
		SequenceGaps:   n.stats.seqGaps.Load(),
		UnknownMetrics: n.stats.unknown.Load(),
		Nulls:          n.stats.nulls.Load(),
	}
}

// Decode applies one message, published on topic t, to the session and
// calls sink.Sample per value and sink.Invalid per skipped metric, in
// payload order. now (Unix milliseconds) stamps deaths and values that
// carry no timestamp of their own.
//
// It returns a *ingest.PayloadError, having made no Sink call and left the session
// unchanged, when the message is refused as a whole. NCMD, DCMD and STATE
// messages carry no telemetry and are accepted without Sink calls. The
// byte slices given to the Sink alias payload or the session and are valid
// only during the call; payload is neither modified nor retained.
func (n *EdgeNode) Decode(t Topic, payload []byte, now int64, sink ingest.Sink) (Result, error) {
	res := Result{Type: t.Type}
	switch {
	case t.Type == NCMD || t.Type == DCMD || t.Type == STATE:
		return res, nil
	case t.Group != n.group || t.EdgeNode != n.node:
		return res, &ingest.PayloadError{Format: formatName, Reason: ingest.ReasonTopic,
			Err: fmt.Errorf("topic names %s/%s, session is %s/%s", t.Group, t.EdgeNode, n.group, n.node)}
	case t.Type.deviceLevel() != (t.Device != ""):
		return res, &ingest.PayloadError{Format: formatName, Reason: ingest.ReasonTopic, Err: fmt.Errorf("%s with device id %q", t.Type, t.Device)}
	}
	h, err := readHeader(payload)
	if err != nil {
		return res, &ingest.PayloadError{Format: formatName, Reason: ingest.ReasonSyntax, Err: err}
	}
	if h.metrics > n.opts.MaxReadings {
		return res, &ingest.PayloadError{Format: formatName, Reason: ingest.ReasonTooManyReadings,
			Err: fmt.Errorf("%d metrics, limit %d", h.metrics, n.opts.MaxReadings)}
	}
	m := msg{n: n, sink: sink, res: res, h: h, payload: payload, now: now}
	switch t.Type {
	case NBIRTH:
		n.nodeBirth(&m)
	case DBIRTH:
		if err := n.deviceBirth(&m, t.Device); err != nil {
			return m.res, err
		}
	case NDATA:
		m.checkSeq()
		m.values(&n.nodeSet, n.nodeID, n.nodeBorn)
	case DDATA:
		m.checkSeq()
		if d := n.devices[t.Device]; d != nil {
			m.values(&d.metrics, d.id, true)
		} else {
			m.values(nil, nil, false)
		}
	case NDEATH:
		n.nodeDeath(&m)
	case DDEATH:
		n.deviceDeath(&m, t.Device)
	}
	return m.res, nil
}

// msg is the state of one Decode call.
type msg struct {
	n       *EdgeNode
	sink    ingest.Sink
	res     Result
	h       header
	payload []byte
	now     int64
	// device is the device whose tags the sink has, when tagged: a
	// message's metrics share them, so the sink gets them once.
	device []byte
	tagged bool
}

func (m *msg) invalid(why ingest.Reason, format string, args ...any) {
	m.res.Invalid++
	m.sink.Invalid(why, fmt.Errorf(format, args...))
}

func (m *msg) sample(metric, device []byte, ts int64, v float64) {
	m.res.Samples++
	if !m.tagged || string(device) != string(m.device) {
		m.n.tags[0] = ingest.Tag{Key: m.n.deviceKey, Value: device}
		m.sink.Tags(m.n.tags)
		m.device, m.tagged = device, true
	}
	m.sink.Sample(metric, ts, v)
}

// payloadTime is the payload's timestamp, or now when it has none or it is
// out of range.
func (m *msg) payloadTime() int64 {
	if m.h.hasTS && m.h.ts <= math.MaxInt64 {
		return int64(m.h.ts)
	}
	return m.now
}

// checkSeq compares the message's seq with the session's and reports a gap;
// the message is accepted either way.
func (m *msg) checkSeq() {
	n := m.n
	switch {
	case !m.h.hasSeq || m.h.seq > 255:
		n.stats.seqGaps.Add(1)
		m.invalid(ingest.ReasonSequence, "missing or out-of-range seq")
		return
	case n.seqKnown && m.h.seq != (n.seq+1)%256:
		n.stats.seqGaps.Add(1)
		m.invalid(ingest.ReasonSequence, "seq %d after %d", m.h.seq, n.seq)
	}
	n.seq, n.seqKnown = m.h.seq, true
}

// values emits the metrics of a data or birth message, resolved against
// set; set is nil, or born false, when no birth defined them.
func (m *msg) values(set *metricSet, device []byte, born bool) {
	b := m.payload
	for i := 0; ; i++ {
		raw, rest, ok := nextMetric(b)
		if !ok {
			return
		}
		b = rest
		mt, err := readMetric(raw)
		if err != nil {
			m.invalid(ingest.ReasonSyntax, "metric %d: %w", i, err)
			continue
		}
		if mt.isNull {
			m.n.stats.nulls.Add(1)
			continue
		}
		var def *metricDef
		if born && set != nil {
			def = set.lookup(&mt)
		}
		if def == nil {
			m.n.stats.unknown.Add(1)
			m.res.Rebirth = true
			m.invalid(ingest.ReasonUnknownAlias, "metric %d (alias %d, name %q): no birth certificate defines it", i, mt.alias, mt.name)
			continue
		}
		m.emit(i, def, &mt, device)
	}
}

func (s *metricSet) lookup(mt *metric) *metricDef {
	var i int32
	var ok bool
	if mt.hasAlias {
		i, ok = s.byAlias[mt.alias]
	} else if mt.hasName {
		i, ok = s.byName[string(mt.name)]
	}
	if !ok {
		return nil
	}
	return &s.defs[i]
}

// emit turns one resolved metric into a Sample or an Invalid.
func (m *msg) emit(i int, def *metricDef, mt *metric, device []byte) {
	if def.control {
		return
	}
	if def.why != ingest.ReasonNone {
		m.invalid(def.why, "metric %d (%s): %s", i, def.metric, whyText(def.why))
		return
	}
	x, why := mt.float(def.datatype)
	if why != ingest.ReasonNone {
		m.invalid(why, "metric %d (%s): value is not a finite %s", i, def.metric, typeText(def.datatype))
		return
	}
	ts := m.h.ts
	hasTS := m.h.hasTS
	if mt.hasTS {
		ts, hasTS = mt.ts, true
	}
	if !hasTS || ts > math.MaxInt64 {
		m.invalid(ingest.ReasonTimestamp, "metric %d (%s): no timestamp in range", i, def.metric)
		return
	}
	m.sample(def.metric, device, int64(ts), x)
}

func whyText(why ingest.Reason) string {
	switch why {
	case ingest.ReasonMetricName:
		return "its name does not make a valid metric name"
	case ingest.ReasonValue:
		return "its data type is not numeric or boolean"
	}
	return why.String()
}

func typeText(dt uint32) string {
	names := [...]string{"unknown", "Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32",
		"UInt64", "Float", "Double", "Boolean"}
	if int(dt) < len(names) {
		return names[dt]
	}
	return fmt.Sprintf("type %d", dt)
}
