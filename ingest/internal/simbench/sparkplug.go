package simbench

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/quantrac/quantrac/gateway-firmware-sim/sensor"
	pb "github.com/quantrac/quantrac/ingest/sparkplug/sparkplugpb"
)

// SparkplugMessage is one Sparkplug B message of the simulated gateway.
type SparkplugMessage struct {
	Topic    string
	Payload  []byte
	Readings int // readings in a DDATA, 0 in a birth
}

// SparkplugMessages is the number of DDATA messages Sparkplug returns: one
// full round of sequence numbers, so that a benchmark can replay them in a
// loop without a sequence gap.
const SparkplugMessages = 256

// Sparkplug builds the Sparkplug B session of the simulated gateway from
// start (Unix ms): the births (NBIRTH, then one DBIRTH per device, each field
// a Double metric named after the simulator's metric, with an alias), and
// SparkplugMessages DDATA messages with consecutive sequence numbers. DDATA
// j is about the j-th device of kind (any kind when 0) and carries perMsg
// readings of it, each field a metric by alias with the reading's own
// timestamp: perMsg 1 is a live gateway, 100 one sending its backlog after
// an outage.
func Sparkplug(kind sensor.Kind, perMsg int, start int64) (births, data []SparkplugMessage) {
	s := Site()
	seq := uint64(0)
	next := func() *uint64 { v := seq % 256; seq++; return proto.Uint64(v) }
	prefix := "spBv1.0/" + Province + "/"
	births = append(births, SparkplugMessage{Topic: prefix + "NBIRTH/" + Gateway,
		Payload: marshal(&pb.Payload{Timestamp: proto.Uint64(uint64(start)), Seq: next(),
			Metrics: []*pb.Payload_Metric{{Name: proto.String("bdSeq"), Datatype: proto.Uint32(uint32(pb.DataType_UInt64)),
				Value: &pb.Payload_Metric_LongValue{LongValue: 0}}}})})
	alias := func(dev, field int) *uint64 { return proto.Uint64(uint64(1 + dev*sensor.MaxFields + field)) }
	var devs []int
	for i := range s.Devices() {
		k, n := s.Device(i)
		pl := &pb.Payload{Timestamp: proto.Uint64(uint64(start)), Seq: next()}
		for f, field := range k.Fields() {
			pl.Metrics = append(pl.Metrics, &pb.Payload_Metric{Name: proto.String(field.Metric), Alias: alias(i, f),
				Datatype: proto.Uint32(uint32(pb.DataType_Double)), IsNull: proto.Bool(true)})
		}
		births = append(births, SparkplugMessage{Topic: prefix + "DBIRTH/" + Gateway + "/" + deviceID(k, n), Payload: marshal(pl)})
		if kind == 0 || k == kind {
			devs = append(devs, i)
		}
	}
	slot := s.FirstSlot(start)
	for j := range SparkplugMessages {
		i := devs[j%len(devs)]
		k, n := s.Device(i)
		pl := &pb.Payload{}
		var r sensor.Reading
		for x := range perMsg {
			s.Read(slot+int64(j/len(devs)*perMsg+x), i, &r)
			for f := range k.Fields() {
				pl.Metrics = append(pl.Metrics, &pb.Payload_Metric{Alias: alias(i, f), Timestamp: proto.Uint64(uint64(r.TS)),
					Value: &pb.Payload_Metric_DoubleValue{DoubleValue: r.Float(f)}})
			}
		}
		pl.Timestamp, pl.Seq = proto.Uint64(uint64(r.TS)), next()
		data = append(data, SparkplugMessage{Topic: prefix + "DDATA/" + Gateway + "/" + deviceID(k, n),
			Payload: marshal(pl), Readings: perMsg})
	}
	return births, data
}

func deviceID(k sensor.Kind, n uint16) string { return string(sensor.AppendDeviceID(nil, k, n)) }

func marshal(p *pb.Payload) []byte {
	b, err := proto.Marshal(p)
	if err != nil {
		panic(fmt.Sprintf("BUG: simbench: cannot marshal a Sparkplug payload: %v", err))
	}
	return b
}
