package sparkplug

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/quantrac/quantrac/ingest"
)

// Births and deaths change the session; they may allocate.

const bdSeqName = "bdSeq"

var nodeControlPrefix = []byte("Node Control/")

func (n *EdgeNode) nodeBirth(m *msg) {
	n.stats.births.Add(1)
	n.nodeSet = metricSet{}
	clear(n.devices)
	n.nodeBorn = true
	n.seq, n.seqKnown = m.h.seq, m.h.hasSeq && m.h.seq <= 255
	n.bdSeq, n.hasBdSeq = 0, false
	m.sample(n.online, n.nodeID, m.payloadTime(), 1)
	m.birth(&n.nodeSet, n.nodeID, func(v uint64) { n.bdSeq, n.hasBdSeq = v, true })
}

func (n *EdgeNode) deviceBirth(m *msg, id string) error {
	d := n.devices[id]
	if d == nil && len(n.devices) >= n.opts.MaxDevices {
		return &ingest.PayloadError{Format: formatName, Reason: ingest.ReasonSchema,
			Err: fmt.Errorf("edge node already has %d devices, limit %d", len(n.devices), n.opts.MaxDevices)}
	}
	n.stats.births.Add(1)
	m.checkSeq()
	d = &device{id: []byte(id)}
	n.devices[id] = d
	m.sample(n.online, d.id, m.payloadTime(), 1)
	m.birth(&d.metrics, d.id, nil)
	return nil
}

// birth defines set from the message's metrics and emits their values. A
// metric that cannot be defined is reported and left out; bdSeq, when
// given, receives the value of the bdSeq metric.
func (m *msg) birth(set *metricSet, device []byte, bdSeq func(uint64)) {
	set.byAlias = make(map[uint64]int32, m.h.metrics)
	set.byName = make(map[string]int32, m.h.metrics)
	set.defs = make([]metricDef, 0, m.h.metrics)
	b := m.payload
	for i := 0; ; i++ {
		raw, rest, ok := nextMetric(b)
		if !ok {
			return
		}
		b = rest
		mt, err := readMetric(raw)
		if err != nil {
			m.invalid(ingest.ReasonSyntax, "birth metric %d: %w", i, err)
			continue
		}
		if !mt.hasName || !mt.hasType {
			m.invalid(ingest.ReasonSchema, "birth metric %d: name or datatype missing", i)
			continue
		}
		if _, dup := set.byName[string(mt.name)]; dup {
			m.invalid(ingest.ReasonSchema, "birth metric %d: name %q defined twice", i, mt.name)
			continue
		}
		if _, dup := set.byAlias[mt.alias]; dup && mt.hasAlias {
			m.invalid(ingest.ReasonSchema, "birth metric %d: alias %d defined twice", i, mt.alias)
			continue
		}
		def := m.n.define(&mt)
		if string(mt.name) == bdSeqName && bdSeq != nil && (mt.valueField == metricLong || mt.valueField == metricInt) {
			bdSeq(mt.value)
		}
		idx := int32(len(set.defs))
		set.defs = append(set.defs, def)
		set.byName[string(mt.name)] = idx
		if mt.hasAlias {
			set.byAlias[mt.alias] = idx
		}
		if mt.isNull {
			m.n.stats.nulls.Add(1)
			continue
		}
		if mt.valueField != 0 || def.why != ingest.ReasonNone {
			m.emit(i, &set.defs[idx], &mt, device)
		}
	}
}

// define computes, once, how the values of a born metric are turned into
// samples.
func (n *EdgeNode) define(mt *metric) metricDef {
	def := metricDef{datatype: mt.datatype}
	if string(mt.name) == bdSeqName || bytes.HasPrefix(mt.name, nodeControlPrefix) {
		def.control = true
		return def
	}
	def.metric = AppendMetricName(nil, mt.name)
	switch {
	case len(def.metric) == 0 || len(def.metric) > n.opts.MaxMetricNameLen:
		def.why = ingest.ReasonMetricName
	case !numericType(mt.datatype):
		def.why = ingest.ReasonValue
	}
	return def
}

func (n *EdgeNode) nodeDeath(m *msg) {
	if n.hasBdSeq {
		if v, ok := deathBdSeq(m.payload); ok && v != n.bdSeq {
			// The will of an earlier connection, delivered late: the
			// current session is still alive.
			n.stats.staleDeaths.Add(1)
			return
		}
	}
	n.stats.deaths.Add(1)
	m.sample(n.online, n.nodeID, m.now, 0)
	ids := make([]string, 0, len(n.devices))
	for id := range n.devices {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		m.sample(n.online, n.devices[id].id, m.now, 0)
	}
	n.nodeSet = metricSet{}
	clear(n.devices)
	n.nodeBorn, n.seqKnown, n.hasBdSeq = false, false, false
}

// deathBdSeq returns the bdSeq metric of an NDEATH payload.
func deathBdSeq(payload []byte) (uint64, bool) {
	for b := payload; ; {
		raw, rest, ok := nextMetric(b)
		if !ok {
			return 0, false
		}
		b = rest
		mt, err := readMetric(raw)
		if err == nil && string(mt.name) == bdSeqName && (mt.valueField == metricLong || mt.valueField == metricInt) {
			return mt.value, true
		}
	}
}

func (n *EdgeNode) deviceDeath(m *msg, id string) {
	n.stats.deaths.Add(1)
	m.checkSeq()
	dev := []byte(id)
	if d := n.devices[id]; d != nil {
		dev = d.id
		delete(n.devices, id)
	}
	m.sample(n.online, dev, m.payloadTime(), 0)
}
