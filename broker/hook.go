package broker

import (
	"encoding/json"
	"errors"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/mochi-mqtt/server/v2/system"

	"github.com/quantrac/quantrac/ingest/pipeline"
)

// hook is the broker's mochi hook: it authenticates clients (connect.go),
// enforces the topic rights (acl.go), hands every publish on a data topic to
// the ingest pipeline and lets mochi acknowledge it only once its readings
// are durable.
//
// mochi calls OnPublish on the publisher's own read goroutine, before it
// writes the PUBACK; so waiting here for the commit both makes the PUBACK a
// promise and stops reading from a publisher while the store is behind.
type hook struct {
	mqtt.HookBase
	b *Broker

	// reports holds the time of the last error report per gateway, so a
	// gateway that sends garbage in a loop gets one report a second;
	// rebirths does the same for Sparkplug rebirth requests.
	reports, rebirths everyGateway
}

// everyGateway remembers when something was last done for each gateway.
type everyGateway struct {
	mu   sync.Mutex
	last map[pipeline.Identity]time.Time
}

// allow reports whether at least every has passed since the last allowed
// call for id, and if so records now. It forgets everyone once it holds
// more than limit identities, so anonymous clients cannot grow it.
func (e *everyGateway) allow(id pipeline.Identity, now time.Time, every time.Duration, limit int) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if last, ok := e.last[id]; ok && now.Sub(last) < every {
		return false
	}
	if e.last == nil || len(e.last) > limit {
		e.last = map[pipeline.Identity]time.Time{}
	}
	e.last[id] = now
	return true
}

func (h *hook) ID() string { return "quantrac" }

func (h *hook) Provides(b byte) bool {
	switch b {
	case mqtt.OnConnect, mqtt.OnConnectAuthenticate, mqtt.OnDisconnect, mqtt.OnACLCheck,
		mqtt.OnSubscribe, mqtt.OnPublish, mqtt.OnWill, mqtt.OnWillSent, mqtt.OnSysInfoTick:
		return true
	}
	return false
}

// OnACLCheck decides what a client may publish (write) and what it may
// subscribe to or receive. mochi then answers a refused publish as the
// protocol requires: MQTT 5 QoS 1 gets PUBACK 0x87, MQTT 3.1.1 QoS 1 is
// disconnected [MQTT-3.3.5-2], QoS 0 is dropped.
func (h *hook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	b := h.b
	if !write {
		patterns, all := b.readRights(cl)
		return all || mayRead(patterns, topic)
	}
	s := b.session(cl)
	if s == nil {
		return false
	}
	if s.rec == nil || mayPublish(s.identity, topic) {
		return true
	}
	b.refuse(refusePublishACL, "publish refused: topic not allowed for this gateway",
		"gateway", s.identity.Gateway, "province", s.identity.Province, "topic", topic)
	h.report(s.identity, errorReport{Topic: topic, Reason: refusePublishACL.String(),
		Error: "this gateway may not publish on this topic"})
	return false
}

// OnSubscribe counts and logs the filters the client may not subscribe to;
// mochi refuses them (0x87, or 0x80 in MQTT 3.1.1) through OnACLCheck.
func (h *hook) OnSubscribe(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	for _, f := range pk.Filters {
		h.b.noteFilter(f.Filter) // before mochi indexes it, allowed or not
	}
	patterns, all := h.b.readRights(cl)
	if all {
		return pk
	}
	for _, f := range pk.Filters {
		if !mayRead(patterns, f.Filter) {
			h.b.refuse(refuseSubscribeACL, "subscription refused: filter not allowed for this gateway",
				"client", cl.ID, "filter", f.Filter)
		}
	}
	return pk
}

// OnPublish ingests a data topic's payload. Other topics pass through to
// subscribers untouched.
func (h *hook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline {
		return pk, nil // the platform's own reports and commands
	}
	t, ok := parseDataTopic(pk.TopicName)
	if !ok {
		return pk, nil
	}
	b := h.b
	s := b.session(cl)
	if s == nil {
		return pk, packets.ErrRejectPacket // not reachable: the ACL check needs a session
	}
	// Readings live in the store; the broker keeps no retained copy.
	pk.FixedHeader.Retain = false
	id := s.identity
	if s.rec == nil {
		id = pipeline.Identity{Province: t.province, Gateway: t.gateway} // development mode
	}
	durable := pk.FixedHeader.Qos > 0
	v5 := cl.Properties.ProtocolVersion == 5
	if err := h.limit(s, id, pk.TopicName, durable && v5); err != nil {
		return pk, err
	}
	s.msg = pipeline.Message{Identity: id, Format: t.format, Topic: pk.TopicName, Payload: pk.Payload}
	pk, err := h.ingest(cl, &s.msg, pk, durable, v5)
	s.msg = pipeline.Message{} // hold no payload between publishes
	if err == nil && !b.dataSubscribed.Load() {
		pk.Ignore = true // nobody can have subscribed (fanout.go)
	}
	return pk, err
}

// limit applies the gateway's publish rate limit. Where the protocol can
// say no (MQTT 5, QoS 1) the publish is refused with 0x96 and the gateway
// may send it again later; elsewhere the publisher is made to wait, which
// TCP turns into backpressure, and nothing is lost.
func (h *hook) limit(s *session, id pipeline.Identity, topic string, canRefuse bool) error {
	if s.limiter == nil {
		return nil // the limit is off: no clock read per publish either
	}
	b := h.b
	now := time.Now()
	if canRefuse {
		if s.limiter.take(now) {
			return nil
		}
		b.refuse(refuseRateLimited, "publish refused: gateway over its rate limit",
			"gateway", id.Gateway, "province", id.Province, "limit", b.opts.RateLimit)
		h.report(id, errorReport{Topic: topic, Reason: refuseRateLimited.String(),
			Error: "publish rate over the limit; slow down and send again"})
		return packets.ErrMessageRateTooHigh
	}
	wait := s.limiter.reserve(now)
	if wait <= 0 {
		return nil
	}
	b.stats.throttled.Add(1)
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-b.done:
	}
	return nil
}

// ingest hands a payload to the pipeline and maps the outcome to what mochi
// answers the publisher. It allocates nothing when the message is accepted.
func (h *hook) ingest(cl *mqtt.Client, msg *pipeline.Message, pk packets.Packet, durable, v5 bool) (packets.Packet, error) {
	b := h.b
	id := msg.Identity
	b.stats.messages.Add(1)
	b.stats.bytes.Add(int64(len(pk.Payload)))
	res, err := b.opts.Pipeline.Ingest(msg, durable)

	if err == nil {
		if res.Rebirth {
			h.requestRebirth(id)
		}
		if res.Rejected > 0 {
			h.report(id, payloadReport(pk.TopicName, res.FirstReason.String(), res.FirstError, res))
		}
		return pk, nil
	}
	switch pe := payloadError(err); {
	case pe != nil:
		b.stats.refused[refusePayload].Add(1) // the pipeline logs it, at its own bounded rate
		if res.Rebirth {
			h.requestRebirth(id)
		}
		h.report(id, payloadReport(pk.TopicName, pe.Reason.String(), pe.Err, res))
		if v5 && durable {
			return pk, packets.ErrPayloadFormatInvalid
		}
		// MQTT 3.1.1 has no negative PUBACK. The message can never be
		// accepted, so it is acknowledged (the gateway must not resend it
		// forever) and the refusal goes to the gateway's error topic.
		return pk, nil
	default:
		// The store could not take the readings: never acknowledge them.
		b.refuse(refuseStoreFailure, "cannot store readings; publish not acknowledged",
			"client", cl.ID, "topic", pk.TopicName, "err", err)
		if v5 && durable {
			return pk, packets.ErrUnspecifiedError
		}
		// A 3.1.1 client gets no PUBACK and is disconnected, so that it
		// resends the message from its session when it reconnects.
		cl.Stop(err)
		return pk, packets.ErrRejectPacket
	}
}

// payloadError returns the *pipeline.PayloadError in err's chain, if any.
func payloadError(err error) *pipeline.PayloadError {
	var pe *pipeline.PayloadError
	if errors.As(err, &pe) {
		return pe
	}
	return nil
}

// OnWill keeps a will on a data topic out of the retained set, like any
// reading.
func (h *hook) OnWill(_ *mqtt.Client, will mqtt.Will) (mqtt.Will, error) {
	if _, ok := parseDataTopic(will.TopicName); ok {
		will.Retain = false
	}
	return will, nil
}

// OnWillSent ingests a will on a data topic: mochi publishes wills straight
// to subscribers, and the store is the platform's subscriber. A Sparkplug
// NDEATH is the usual case; a line-protocol will without a timestamp is
// stamped with the time the gateway was lost.
func (h *hook) OnWillSent(cl *mqtt.Client, pk packets.Packet) {
	t, ok := parseDataTopic(pk.TopicName)
	if !ok {
		return
	}
	id := pipeline.Identity{Province: t.province, Gateway: t.gateway}
	if s := h.b.session(cl); s != nil && s.rec != nil {
		id = s.identity
	} else if rec := h.b.gateways.Load().byID[cl.ID]; rec != nil {
		id = rec.identity // a delayed will, sent after the session ended
	} else if !h.b.opts.AllowAnonymous {
		return
	}
	_, _ = h.ingest(cl, &pipeline.Message{Identity: id, Format: t.format, Topic: pk.TopicName, Payload: pk.Payload}, pk, true, false)
}

// OnSysInfoTick publishes the broker's own $SYS topics and forgets stale
// sessions; mochi calls it from its housekeeping loop.
func (h *hook) OnSysInfoTick(_ *system.Info) {
	h.b.sweepSessions(time.Now())
	h.b.publishSys()
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

func payloadReport(topic, reason string, err error, res pipeline.Result) errorReport {
	r := errorReport{Topic: topic, Reason: reason, Accepted: res.Accepted, Rejected: res.Rejected}
	if err != nil {
		r.Error = err.Error()
	}
	return r
}

// report publishes r on the gateway's error topic, at most once a second
// per gateway.
func (h *hook) report(id pipeline.Identity, r errorReport) {
	now := time.Now()
	if !h.reports.allow(id, now, time.Second, h.identityLimit()) {
		return
	}
	r.Time = now.UTC()
	body, _ := json.Marshal(r)
	if err := h.b.mqtt.Publish(ErrorTopic(id.Province, id.Gateway), body, false, 0); err != nil {
		h.b.limitedLog.Warn("cannot publish error report", "gateway", id.Gateway, "err", err)
	}
}
