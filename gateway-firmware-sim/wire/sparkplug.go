package wire

import (
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/quantrac/quantrac/gateway-firmware-sim/batch"
	"github.com/quantrac/quantrac/gateway-firmware-sim/sensor"
	pb "github.com/quantrac/quantrac/ingest/sparkplug/sparkplugpb"
)

// SparkplugNamespace starts every Sparkplug B topic.
const SparkplugNamespace = "spBv1.0"

// SparkplugTopic returns spBv1.0/<group>/<verb>/<node>[/<device>]. In
// Quantrac the group is the province slug and the edge node the gateway id.
func SparkplugTopic(group, verb, node, device string) string {
	t := SparkplugNamespace + "/" + group + "/" + verb + "/" + node
	if device != "" {
		t += "/" + device
	}
	return t
}

// Control metric names of an edge node, as the specification spells them.
const (
	SparkplugBdSeq   = "bdSeq"
	SparkplugRebirth = "Node Control/Rebirth"
)

// SparkplugMessage is one message of a Sparkplug encoding: its topic, and
// its payload as dst[Start:End] of the buffer the encoder appended to.
type SparkplugMessage struct {
	Topic      string
	Start, End int
}

// SparkplugEncoder encodes the Sparkplug B messages of one gateway (edge
// node): it assigns every device metric an alias, numbers messages with the
// session's sequence number (0..255), and writes births, data and deaths.
//
// Metric names are the Prometheus metric names (air_temperature_celsius),
// which the platform's name mapping leaves unchanged, so Sparkplug series
// have the same names as JSON ones; the device id is the topic's device
// level. Births carry every metric with its datatype and a null value:
// births announce, data carries the readings.
//
// Births and deaths are built with the generated types of
// ingest/sparkplug/sparkplugpb. DDATA, the hot path, is written field by
// field with protowire: proto.Marshal spends most of its time in reflection
// on the value oneof, and the hand-written form is several times faster.
// Tests check that both produce the same bytes.
//
// A SparkplugEncoder is used by one goroutine. DDATA encoding allocates
// nothing once its scratch space has grown.
type SparkplugEncoder struct {
	group, node string
	devices     []spDevice
	index       map[uint32]int // kind<<16 | number -> index in devices
	seq         uint64         // sequence number of the next message
	byDev       [][]int32      // reading indices of a batch, per device
	order       []int32        // devices in the order they first appear in the batch
}

type spDevice struct {
	kind                  sensor.Kind
	number                uint16
	dataTopic, birthTopic string
	aliasBase             uint64
}

// NewSparkplugEncoder returns the encoder of edge node node in group group.
// The devices are born in the order given by kinds and numbers (parallel
// slices); a device met later in a batch is born on the fly.
func NewSparkplugEncoder(group, node string, kinds []sensor.Kind, numbers []uint16) *SparkplugEncoder {
	s := &SparkplugEncoder{group: group, node: node, index: make(map[uint32]int)}
	for i := range kinds {
		s.addDevice(kinds[i], numbers[i])
	}
	return s
}

func (s *SparkplugEncoder) addDevice(k sensor.Kind, n uint16) int {
	id := string(sensor.AppendDeviceID(nil, k, n))
	i := len(s.devices)
	s.devices = append(s.devices, spDevice{kind: k, number: n,
		dataTopic:  SparkplugTopic(s.group, "DDATA", s.node, id),
		birthTopic: SparkplugTopic(s.group, "DBIRTH", s.node, id),
		// Aliases are unique across the edge node: 1 + device*MaxFields + field.
		aliasBase: 1 + uint64(i)*sensor.MaxFields})
	s.index[uint32(k)<<16|uint32(n)] = i
	s.byDev = append(s.byDev, nil)
	return i
}

// Devices returns the number of devices the encoder knows.
func (s *SparkplugEncoder) Devices() int { return len(s.devices) }

// DataTopic returns the DDATA topic of a device, for messages about it.
func (s *SparkplugEncoder) DataTopic(k sensor.Kind, n uint16) string {
	if i, ok := s.index[uint32(k)<<16|uint32(n)]; ok {
		return s.devices[i].dataTopic
	}
	return SparkplugTopic(s.group, "DDATA", s.node, string(sensor.AppendDeviceID(nil, k, n)))
}

// NodeTopic returns the topic of a node-level message (NBIRTH, NDEATH,
// NCMD).
func (s *SparkplugEncoder) NodeTopic(verb string) string {
	return SparkplugTopic(s.group, verb, s.node, "")
}

// nextSeq returns the sequence number of the next message.
func (s *SparkplugEncoder) nextSeq() uint64 {
	v := s.seq
	s.seq = (s.seq + 1) % 256
	return v
}

// AppendBirths starts a session (a new MQTT connection, or a rebirth the
// platform asked for): it appends the NBIRTH, with sequence number 0 and the
// connection's bdSeq, then one DBIRTH per known device, and appends their
// spans to msgs. ts is the births' timestamp (Unix ms).
func (s *SparkplugEncoder) AppendBirths(dst []byte, msgs []SparkplugMessage, bdSeq uint64, ts int64) ([]byte, []SparkplugMessage) {
	s.seq = 0
	p := &pb.Payload{Timestamp: proto.Uint64(uint64(ts)), Seq: proto.Uint64(s.nextSeq()), Metrics: []*pb.Payload_Metric{
		{Name: proto.String(SparkplugBdSeq), Datatype: proto.Uint32(uint32(pb.DataType_UInt64)),
			Value: &pb.Payload_Metric_LongValue{LongValue: bdSeq}},
		{Name: proto.String(SparkplugRebirth), Datatype: proto.Uint32(uint32(pb.DataType_Boolean)),
			Value: &pb.Payload_Metric_BooleanValue{}},
	}}
	start := len(dst)
	dst = marshal(dst, p)
	msgs = append(msgs, SparkplugMessage{Topic: s.NodeTopic("NBIRTH"), Start: start, End: len(dst)})
	for i := range s.devices {
		dst, msgs = s.appendDBIRTH(dst, msgs, i, ts)
	}
	return dst, msgs
}

func (s *SparkplugEncoder) appendDBIRTH(dst []byte, msgs []SparkplugMessage, i int, ts int64) ([]byte, []SparkplugMessage) {
	d := &s.devices[i]
	p := &pb.Payload{Timestamp: proto.Uint64(uint64(ts)), Seq: proto.Uint64(s.nextSeq())}
	for f, field := range d.kind.Fields() {
		p.Metrics = append(p.Metrics, &pb.Payload_Metric{Name: proto.String(field.Metric),
			Alias: proto.Uint64(d.aliasBase + uint64(f)), Datatype: proto.Uint32(uint32(pb.DataType_Double)),
			IsNull: proto.Bool(true)})
	}
	start := len(dst)
	dst = marshal(dst, p)
	return dst, append(msgs, SparkplugMessage{Topic: d.birthTopic, Start: start, End: len(dst)})
}

// AppendData appends the DDATA messages of batch b, one per device in the
// order devices first appear in b, each metric by alias with the reading's
// timestamp; historical marks replayed readings (store-and-forward). A
// device the session has not born gets a DBIRTH first. Each message's
// payload timestamp is the latest reading in it.
func (s *SparkplugEncoder) AppendData(dst []byte, msgs []SparkplugMessage, b *batch.Batch, historical bool) ([]byte, []SparkplugMessage) {
	s.order = s.order[:0]
	for i := range b.Readings {
		r := &b.Readings[i]
		d, ok := s.index[uint32(r.Kind)<<16|uint32(r.Device)]
		if !ok {
			d = s.addDevice(r.Kind, r.Device)
			dst, msgs = s.appendDBIRTH(dst, msgs, d, r.TS)
		}
		if len(s.byDev[d]) == 0 {
			s.order = append(s.order, int32(d))
		}
		s.byDev[d] = append(s.byDev[d], int32(i))
	}
	for _, d := range s.order {
		start := len(dst)
		dst = s.appendDDATA(dst, &s.devices[d], b, s.byDev[d], historical)
		msgs = append(msgs, SparkplugMessage{Topic: s.devices[d].dataTopic, Start: start, End: len(dst)})
		s.byDev[d] = s.byDev[d][:0]
	}
	return dst, msgs
}

// Field numbers of sparkplug_b.proto used by appendDDATA.
const (
	fPayloadTimestamp   = 1
	fPayloadMetrics     = 2
	fPayloadSeq         = 3
	fMetricAlias        = 2
	fMetricTimestamp    = 3
	fMetricIsHistorical = 5
	fMetricDoubleValue  = 13
)

// appendDDATA writes one DDATA payload for the readings idx of b, all from
// device d, in the field order proto.Marshal uses.
func (s *SparkplugEncoder) appendDDATA(dst []byte, d *spDevice, b *batch.Batch, idx []int32, historical bool) []byte {
	ts := int64(0)
	for _, i := range idx {
		ts = max(ts, b.Readings[i].TS)
	}
	dst = protowire.AppendTag(dst, fPayloadTimestamp, protowire.VarintType)
	dst = protowire.AppendVarint(dst, uint64(ts))
	nf := len(d.kind.Fields())
	for _, i := range idx {
		r := &b.Readings[i]
		for f := range nf {
			alias := d.aliasBase + uint64(f)
			size := 1 + protowire.SizeVarint(alias) + 1 + protowire.SizeVarint(uint64(r.TS)) + 1 + 8
			if historical {
				size += 2
			}
			dst = protowire.AppendTag(dst, fPayloadMetrics, protowire.BytesType)
			dst = protowire.AppendVarint(dst, uint64(size))
			dst = protowire.AppendTag(dst, fMetricAlias, protowire.VarintType)
			dst = protowire.AppendVarint(dst, alias)
			dst = protowire.AppendTag(dst, fMetricTimestamp, protowire.VarintType)
			dst = protowire.AppendVarint(dst, uint64(r.TS))
			if historical {
				dst = protowire.AppendTag(dst, fMetricIsHistorical, protowire.VarintType)
				dst = protowire.AppendVarint(dst, 1)
			}
			dst = protowire.AppendTag(dst, fMetricDoubleValue, protowire.Fixed64Type)
			dst = protowire.AppendFixed64(dst, math.Float64bits(r.Float(f)))
		}
	}
	dst = protowire.AppendTag(dst, fPayloadSeq, protowire.VarintType)
	return protowire.AppendVarint(dst, s.nextSeq())
}

func marshal(dst []byte, p *pb.Payload) []byte {
	out, err := proto.MarshalOptions{}.MarshalAppend(dst, p)
	if err != nil {
		// Every field is set by this file with valid values.
		panic(fmt.Sprintf("BUG: wire: cannot marshal Sparkplug payload: %v", err))
	}
	return out
}

// AppendSparkplugDeath appends an NDEATH payload: the bdSeq of the
// connection it ends and a timestamp, no sequence number. A gateway sets it
// as its MQTT will and publishes it before a clean disconnect.
func AppendSparkplugDeath(dst []byte, bdSeq uint64, ts int64) []byte {
	p := &pb.Payload{Timestamp: proto.Uint64(uint64(ts)), Metrics: []*pb.Payload_Metric{{
		Name: proto.String(SparkplugBdSeq), Datatype: proto.Uint32(uint32(pb.DataType_UInt64)),
		Value: &pb.Payload_Metric_LongValue{LongValue: bdSeq}}}}
	return marshal(dst, p)
}

// IsRebirthRequest reports whether an NCMD payload asks the edge node for a
// new birth sequence (Node Control/Rebirth = true).
func IsRebirthRequest(payload []byte) bool {
	var p pb.Payload
	if proto.Unmarshal(payload, &p) != nil {
		return false
	}
	for _, m := range p.Metrics {
		if m.GetName() == SparkplugRebirth {
			if v, ok := m.Value.(*pb.Payload_Metric_BooleanValue); ok && v.BooleanValue {
				return true
			}
		}
	}
	return false
}
