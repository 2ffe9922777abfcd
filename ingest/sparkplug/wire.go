package sparkplug

import (
	"errors"
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/quantrac/quantrac/ingest"
)

// The decoder walks the protobuf wire format of sparkplug_b.proto itself:
// proto.Unmarshal would allocate a Payload and every Metric per message.
// Field numbers below are those of sparkplugpb.

// header is what the payload's top level holds besides the metrics.
type header struct {
	ts, seq       uint64
	hasTS, hasSeq bool
	metrics       int // number of metrics fields
}

// Payload field numbers.
const (
	payloadTimestamp protowire.Number = 1
	payloadMetrics   protowire.Number = 2
	payloadSeq       protowire.Number = 3
)

// Metric field numbers.
const (
	metricName      protowire.Number = 1
	metricAlias     protowire.Number = 2
	metricTimestamp protowire.Number = 3
	metricDatatype  protowire.Number = 4
	metricIsNull    protowire.Number = 7
	metricInt       protowire.Number = 10 // int_value, uint32
	metricLong      protowire.Number = 11 // long_value, uint64
	metricFloat     protowire.Number = 12 // float_value, fixed32
	metricDouble    protowire.Number = 13 // double_value, fixed64
	metricBool      protowire.Number = 14 // boolean_value
)

// Sparkplug data types that become samples (sparkplugpb.DataType values).
const (
	typeInt8    = 1
	typeInt16   = 2
	typeInt32   = 3
	typeInt64   = 4
	typeUInt8   = 5
	typeUInt16  = 6
	typeUInt32  = 7
	typeUInt64  = 8
	typeFloat   = 9
	typeDouble  = 10
	typeBoolean = 11
)

func numericType(dt uint32) bool { return dt >= typeInt8 && dt <= typeBoolean }

var errFraming = errors.New("broken protobuf framing")

// readHeader walks the top level of b: it checks the framing, counts the
// metrics and picks up the timestamp and sequence number, which encoders
// may place after the metrics.
func readHeader(b []byte) (header, error) {
	var h header
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return h, fmt.Errorf("payload: %w", protowire.ParseError(n))
		}
		b = b[n:]
		switch {
		case num == payloadTimestamp && typ == protowire.VarintType:
			h.ts, n = protowire.ConsumeVarint(b)
			h.hasTS = true
		case num == payloadSeq && typ == protowire.VarintType:
			h.seq, n = protowire.ConsumeVarint(b)
			h.hasSeq = true
		case num == payloadMetrics && typ == protowire.BytesType:
			_, n = protowire.ConsumeBytes(b)
			h.metrics++
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return h, fmt.Errorf("payload field %d: %w", num, protowire.ParseError(n))
		}
		b = b[n:]
	}
	return h, nil
}

// nextMetric returns the next metrics field of the payload b and the rest
// of b after it; ok is false when there is none. b has passed readHeader.
func nextMetric(b []byte) (m, rest []byte, ok bool) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		b = b[n:]
		if num == payloadMetrics && typ == protowire.BytesType {
			m, n = protowire.ConsumeBytes(b)
			return m, b[n:], true
		}
		b = b[protowire.ConsumeFieldValue(num, typ, b):]
	}
	return nil, nil, false
}

// metric is one decoded Metric; name aliases the payload.
type metric struct {
	name                              []byte
	alias, ts, value                  uint64
	datatype                          uint32
	valueField                        protowire.Number // 0: no scalar value
	hasName, hasAlias, hasTS, hasType bool
	isNull                            bool
}

// readMetric decodes the fields of one Metric that the decoder uses and
// skips the others (metadata, properties, datasets, templates, ...).
func readMetric(b []byte) (metric, error) {
	var m metric
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return m, errFraming
		}
		b = b[n:]
		var v uint64
		switch typ {
		case protowire.VarintType:
			v, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var v32 uint32
			v32, n = protowire.ConsumeFixed32(b)
			v = uint64(v32)
		case protowire.Fixed64Type:
			v, n = protowire.ConsumeFixed64(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return m, errFraming
		}
		if !m.setField(num, typ, v, b[:n]) {
			return m, fmt.Errorf("field %d has wire type %d", num, typ)
		}
		b = b[n:]
	}
	return m, nil
}

// setField stores field num of a Metric; raw is its encoded value. It
// reports false when a known field has the wrong wire type.
func (m *metric) setField(num protowire.Number, typ protowire.Type, v uint64, raw []byte) bool {
	want := protowire.VarintType
	switch num {
	case metricName:
		if typ != protowire.BytesType {
			return false
		}
		m.name, _ = protowire.ConsumeBytes(raw)
		m.hasName = true
		return true
	case metricAlias:
		m.alias, m.hasAlias = v, true
	case metricTimestamp:
		m.ts, m.hasTS = v, true
	case metricDatatype:
		m.datatype, m.hasType = uint32(v), true
	case metricIsNull:
		m.isNull = v != 0
	case metricInt, metricLong, metricBool:
		m.value, m.valueField = v, num
	case metricFloat:
		m.value, m.valueField, want = v, num, protowire.Fixed32Type
	case metricDouble:
		m.value, m.valueField, want = v, num, protowire.Fixed64Type
	case 15, 16, 17, 18, 19: // string, bytes, dataset, template, extension
		// The value is a oneof: a later member replaces an earlier one.
		m.valueField = 0
		return true
	default:
		return true
	}
	return typ == want
}

// value converts m's value to float64 as datatype dt says, or returns the
// reason it cannot be a sample.
func (m *metric) float(dt uint32) (float64, ingest.Reason) {
	if !numericType(dt) {
		return 0, ingest.ReasonValue
	}
	want := metricInt
	switch dt {
	case typeInt64, typeUInt64:
		want = metricLong
	case typeFloat:
		want = metricFloat
	case typeDouble:
		want = metricDouble
	case typeBoolean:
		want = metricBool
	}
	if m.valueField != want {
		return 0, ingest.ReasonValue
	}
	v := m.value
	var x float64
	switch dt {
	case typeInt8: // signed values travel in a uint32; take the low bits
		x = float64(int8(v))
	case typeInt16:
		x = float64(int16(v))
	case typeInt32:
		x = float64(int32(v))
	case typeInt64:
		x = float64(int64(v))
	case typeUInt8, typeUInt16, typeUInt32:
		x = float64(uint32(v))
	case typeUInt64:
		x = float64(v)
	case typeFloat:
		x = float64(math.Float32frombits(uint32(v)))
	case typeDouble:
		x = math.Float64frombits(v)
	case typeBoolean:
		if v != 0 {
			x = 1
		}
	}
	if math.IsInf(x, 0) || math.IsNaN(x) {
		return 0, ingest.ReasonValue
	}
	return x, ingest.ReasonNone
}
