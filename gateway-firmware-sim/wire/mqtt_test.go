package wire

import (
	"bytes"
	"strings"
	"testing"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

// TestPublishQoS0ReadsBack decodes the packets with paho's own packet
// reader, across the remaining-length boundaries of one to four bytes.
func TestPublishQoS0ReadsBack(t *testing.T) {
	topic := "telemetry/ha-noi/hn-gw-001/json"
	for _, n := range []int{0, 1, 127 - 2 - len(topic), 128 - 2 - len(topic), 300, 16383 - 2 - len(topic),
		16384 - 2 - len(topic), 2097152} {
		payload := bytes.Repeat([]byte{'x'}, n)
		buf := AppendPublishQoS0([]byte("keep"), topic, payload)
		if !bytes.HasPrefix(buf, []byte("keep")) {
			t.Fatalf("n=%d: prefix overwritten", n)
		}
		r := bytes.NewReader(buf[4:])
		cp, err := packets.ReadPacket(r)
		if err != nil {
			t.Fatalf("n=%d: paho cannot read the packet: %v", n, err)
		}
		pp, ok := cp.(*packets.PublishPacket)
		if !ok {
			t.Fatalf("n=%d: got %T, want a PUBLISH", n, cp)
		}
		if pp.Qos != 0 || pp.Retain || pp.Dup || pp.TopicName != topic || !bytes.Equal(pp.Payload, payload) {
			t.Fatalf("n=%d: got qos %d retain %v dup %v topic %q payload %d bytes", n, pp.Qos, pp.Retain, pp.Dup, pp.TopicName, len(pp.Payload))
		}
		if r.Len() != 0 {
			t.Fatalf("n=%d: %d bytes left after the packet", n, r.Len())
		}
	}
}

func TestPublishQoS0DoesNotAllocate(t *testing.T) {
	topic := strings.Repeat("t", 40)
	payload := make([]byte, 300)
	buf := make([]byte, 0, 512)
	if n := testing.AllocsPerRun(100, func() { buf = AppendPublishQoS0(buf[:0], topic, payload) }); n != 0 {
		t.Fatalf("%v allocations per packet, want 0", n)
	}
}
