package broker

import (
	"strconv"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// sysRoot is where the broker publishes its own figures, beside mochi's
// $SYS/broker/... topics. Gateways may not read $SYS; anonymous clients
// (development mode) may.
const sysRoot = "$SYS/quantrac/"

// publishSys publishes the broker's counters as retained $SYS messages:
// gateways configured and connected (in total and by province), data
// messages and bytes received, and refusals by reason.
func (b *Broker) publishSys() {
	st := b.Stats()
	var total int64
	for _, n := range st.GatewaysConnected {
		total += n
	}
	b.sys("gateways/configured", int64(st.GatewaysConfigured))
	b.sys("gateways/connected", total)
	for prov, n := range st.GatewaysConnected {
		b.sys("gateways/connected/"+prov, n)
	}
	b.sys("messages/received", st.Messages)
	b.sys("bytes/received", st.Bytes)
	b.sys("messages/throttled", st.Throttled)
	for _, r := range st.Refusals {
		b.sys("refusals/"+r.Reason, r.Count)
	}
}

func (b *Broker) sys(topic string, v int64) {
	payload := []byte(strconv.FormatInt(v, 10))
	// Retained directly in the topic index, as mochi does for its own
	// $SYS topics, so that they never reach the session store.
	b.mqtt.Topics.RetainMessage(packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Publish, Retain: true},
		TopicName:   sysRoot + topic,
		Payload:     payload,
		Created:     time.Now().Unix(),
	})
	_ = b.mqtt.Publish(sysRoot+topic, payload, false, 0)
}
