package wire

import (
	"bytes"
	"strings"
	"testing"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

// TestPublishReadsBack decodes the packets with paho's own packet reader,
// at QoS 0 and 1, across the remaining-length boundaries of one to four
// bytes.
func TestPublishReadsBack(t *testing.T) {
	topic := "telemetry/ha-noi/hn-gw-001/json"
	for _, qos := range []byte{0, 1} {
		extra := 2 * int(qos) // the packet identifier
		for _, n := range []int{0, 1, 127 - 2 - len(topic), 128 - 2 - len(topic), 300, 16383 - 2 - len(topic),
			16384 - 2 - len(topic), 2097152} {
			n = max(0, n-extra)
			payload := bytes.Repeat([]byte{'x'}, n)
			var buf []byte
			if qos == 0 {
				buf = AppendPublishQoS0([]byte("keep"), topic, payload)
			} else {
				buf = AppendPublishQoS1([]byte("keep"), topic, 0x8123, payload)
			}
			if !bytes.HasPrefix(buf, []byte("keep")) {
				t.Fatalf("qos %d n=%d: prefix overwritten", qos, n)
			}
			r := bytes.NewReader(buf[4:])
			cp, err := packets.ReadPacket(r)
			if err != nil {
				t.Fatalf("qos %d n=%d: paho cannot read the packet: %v", qos, n, err)
			}
			pp, ok := cp.(*packets.PublishPacket)
			if !ok {
				t.Fatalf("qos %d n=%d: got %T, want a PUBLISH", qos, n, cp)
			}
			if pp.Qos != qos || pp.Retain || pp.Dup || pp.TopicName != topic || !bytes.Equal(pp.Payload, payload) {
				t.Fatalf("qos %d n=%d: got qos %d retain %v dup %v topic %q payload %d bytes", qos, n, pp.Qos, pp.Retain, pp.Dup, pp.TopicName, len(pp.Payload))
			}
			if qos == 1 && pp.MessageID != 0x8123 {
				t.Fatalf("n=%d: packet identifier %#x", n, pp.MessageID)
			}
			if r.Len() != 0 {
				t.Fatalf("qos %d n=%d: %d bytes left after the packet", qos, n, r.Len())
			}
		}
	}
}

func TestPublishDoesNotAllocate(t *testing.T) {
	topic := strings.Repeat("t", 40)
	payload := make([]byte, 300)
	buf := make([]byte, 0, 512)
	if n := testing.AllocsPerRun(100, func() { buf = AppendPublishQoS0(buf[:0], topic, payload) }); n != 0 {
		t.Fatalf("QoS 0: %v allocations per packet, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { buf = AppendPublishQoS1(buf[:0], topic, 7, payload) }); n != 0 {
		t.Fatalf("QoS 1: %v allocations per packet, want 0", n)
	}
}

// FixedHeader reads back the remaining length every PUBLISH encodes, from
// one to four length bytes, and asks for more while the header is cut.
func TestFixedHeaderReadsBackTheLength(t *testing.T) {
	for _, n := range []int{0, 100, 127, 128, 16383, 16384, 2097151, 2097152} {
		pkt := AppendPublishQoS0(nil, "t", make([]byte, n))
		rem, hdr, ok := FixedHeader(pkt)
		if !ok || hdr+rem != len(pkt) {
			t.Fatalf("n=%d: rem %d hdr %d ok %v, packet of %d bytes", n, rem, hdr, ok, len(pkt))
		}
		if _, _, ok := FixedHeader(pkt[:hdr-1]); ok {
			t.Fatalf("n=%d: a header cut short decoded", n)
		}
	}
	if _, hdr, ok := FixedHeader([]byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x01}); !ok || hdr != 5 {
		t.Fatalf("a five-byte length: hdr %d ok %v, want 5 true", hdr, ok)
	}
}
