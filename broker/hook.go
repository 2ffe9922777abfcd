package broker

import (
	"bytes"
	"encoding/json"
	"errors"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/quantrac/quantrac/ingest"
	"github.com/quantrac/quantrac/ingest/pipeline"
)

// ingestHook hands every publish on a data topic to the ingest pipeline and
// lets mochi acknowledge it only once its readings are durable.
//
// mochi calls OnPublish on the publisher's own read goroutine, before it
// writes the PUBACK; so waiting here for the commit both makes the PUBACK a
// promise and stops reading from a publisher while the store is behind.
type ingestHook struct {
	mqtt.HookBase
	b *Broker

	// errMu guards the time of the last error report per gateway, so a
	// gateway that sends garbage in a loop gets one report a second.
	errMu   sync.Mutex
	errLast map[string]time.Time
}

func (h *ingestHook) ID() string { return "quantrac-ingest" }

func (h *ingestHook) Provides(b byte) bool {
	return bytes.Contains([]byte{mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnPublish}, []byte{b})
}

// OnConnectAuthenticate admits clients. Without an authenticator only the
// development mode admits anyone.
func (h *ingestHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	if h.b.opts.Auth != nil {
		return h.b.opts.Auth.Authenticate(cl, pk)
	}
	return h.b.opts.AllowAnonymous
}

// OnACLCheck decides what a client may publish and subscribe to.
func (h *ingestHook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	if h.b.opts.Auth != nil {
		return h.b.opts.Auth.Allow(cl, topic, write)
	}
	return h.b.opts.AllowAnonymous
}

// OnPublish ingests a data topic's payload. Other topics pass through to
// subscribers untouched.
func (h *ingestHook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline {
		return pk, nil // the platform's own error reports
	}
	t, ok := parseDataTopic(pk.TopicName)
	if !ok {
		return pk, nil
	}
	id := pipeline.Identity{Province: t.province, Gateway: t.gateway}
	if h.b.opts.Auth != nil {
		// The ACL already tied the topic to the client's identity; take the
		// identity from authentication all the same, never from the topic.
		id = h.b.opts.Auth.Identity(cl)
	}
	msg := pipeline.Message{Identity: id, Format: t.format, Topic: pk.TopicName, Payload: pk.Payload}
	durable := pk.FixedHeader.Qos > 0
	h.b.stats.messages.Add(1)
	h.b.stats.bytes.Add(int64(len(pk.Payload)))
	res, err := h.b.opts.Pipeline.Ingest(&msg, durable)

	var pe *pipeline.PayloadError
	switch {
	case err == nil:
		if res.Rejected > 0 {
			h.report(id, pk.TopicName, res.FirstReason, res.FirstError, res)
		}
		return pk, nil
	case errors.As(err, &pe):
		h.b.stats.refused.Add(1)
		h.report(id, pk.TopicName, pe.Reason, pe.Err, res)
		if cl.Properties.ProtocolVersion == 5 && durable {
			return pk, packets.ErrPayloadFormatInvalid
		}
		// MQTT 3.1.1 has no negative PUBACK. The message can never be
		// accepted, so it is acknowledged (the gateway must not resend it
		// forever) and the refusal goes to the gateway's error topic.
		return pk, nil
	default:
		// The store could not take the readings: never acknowledge them.
		h.b.stats.storeFailures.Add(1)
		h.b.log.Error("cannot store readings; publish not acknowledged",
			"client", cl.ID, "topic", pk.TopicName, "err", err)
		if cl.Properties.ProtocolVersion == 5 && durable {
			return pk, packets.ErrUnspecifiedError
		}
		// A 3.1.1 client gets no PUBACK and is disconnected, so that it
		// resends the message from its session when it reconnects.
		cl.Stop(err)
		return pk, packets.ErrRejectPacket
	}
}

// errorReport is what the platform publishes on a gateway's error topic.
type errorReport struct {
	Time     time.Time `json:"time"`
	Topic    string    `json:"topic"`
	Reason   string    `json:"reason"`
	Error    string    `json:"error"`
	Accepted int       `json:"accepted"`
	Rejected int       `json:"rejected"`
}

func (h *ingestHook) report(id pipeline.Identity, topic string, reason ingest.Reason, err error, res pipeline.Result) {
	key := id.Province + "/" + id.Gateway
	now := time.Now()
	h.errMu.Lock()
	if last, ok := h.errLast[key]; ok && now.Sub(last) < time.Second {
		h.errMu.Unlock()
		return
	}
	h.errLast[key] = now
	h.errMu.Unlock()

	msg := ""
	if err != nil {
		msg = err.Error()
	}
	body, _ := json.Marshal(errorReport{Time: now.UTC(), Topic: topic, Reason: reason.String(), Error: msg,
		Accepted: res.Accepted, Rejected: res.Rejected})
	if perr := h.b.mqtt.Publish(ErrorTopic(id.Province, id.Gateway), body, false, 0); perr != nil {
		h.b.log.Warn("cannot publish error report", "gateway", id.Gateway, "err", perr)
	}
}
