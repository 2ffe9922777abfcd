package broker

import (
	"strconv"
	"strings"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/storage"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/quantrac/quantrac/broker/sessionlog"
)

// storageHook keeps what MQTT requires to survive a restart in a session
// log under the data directory: persistent sessions (MQTT 3.1.1 clean
// session off, MQTT 5 session expiry above zero), their subscriptions, the
// QoS 1 messages queued or in flight to them, and retained messages. mochi
// reads it back at start.
//
// Inbound QoS 1 publishes are not here: the ingest hook acknowledges them
// only once they are in the store's write-ahead log. mochi reports their
// PUBACK bookkeeping through OnQosPublish and OnQosComplete too; those
// calls cost nothing here, so the session log sees no write per reading.
//
// mochi v2.7.9 keys inbound and outbound QoS flows of a client by packet id
// in one map, so an outbound message whose id equals that of an inbound
// publish being acknowledged is lost from the session (and from this log)
// as it is from memory; gateways receive few QoS 1 messages, which keeps
// this rare.
type storageHook struct {
	mqtt.HookBase
	b   *Broker
	log *sessionlog.Log
}

// Keys: a kind prefix, the client id, a NUL (which no client id holds) and
// what identifies the record within the client.
const keySep = "\x00"

func clientKey(id string) string               { return storage.ClientKey + "_" + id }
func clientPrefix(kind, id string) string      { return kind + "_" + id + keySep }
func subKey(id, filter string) string          { return clientPrefix(storage.SubscriptionKey, id) + filter }
func inflightKey(id string, pid uint16) string { return string(appendInflightKey(nil, id, pid)) }
func retainedKey(topic string) string          { return storage.RetainedKey + "_" + topic }

func appendInflightKey(dst []byte, id string, pid uint16) []byte {
	dst = append(dst, storage.InflightKey+"_"...)
	dst = append(dst, id...)
	dst = append(dst, keySep...)
	return strconv.AppendUint(dst, uint64(pid), 10)
}

func (h *storageHook) ID() string { return "quantrac-sessions" }

func (h *storageHook) Provides(b byte) bool {
	switch b {
	case mqtt.OnSessionEstablished, mqtt.OnDisconnect, mqtt.OnSubscribed, mqtt.OnUnsubscribed,
		mqtt.OnRetainMessage, mqtt.OnRetainedExpired, mqtt.OnQosPublish, mqtt.OnQosComplete,
		mqtt.OnQosDropped, mqtt.OnClientExpired, mqtt.OnWillSent,
		mqtt.StoredClients, mqtt.StoredSubscriptions, mqtt.StoredInflightMessages, mqtt.StoredRetainedMessages:
		return true
	}
	return false
}

// Stop does nothing: mochi stops hooks before the client goroutines have
// ended, so the broker closes the log itself once they have.
func (h *storageHook) Stop() error { return nil }

// persistent reports whether cl's session outlives its connection.
func persistent(cl *mqtt.Client) bool {
	if cl.Properties.ProtocolVersion == 5 {
		return cl.Properties.Props.SessionExpiryInterval > 0
	}
	return !cl.Properties.Clean
}

func (h *storageHook) put(key string, v storage.Serializable) {
	data, err := v.MarshalBinary()
	if err == nil {
		err = h.log.Put(key, data)
	}
	if err != nil {
		h.b.limitedLog.Error("cannot persist session state", "key", strings.ReplaceAll(key, keySep, " "), "err", err)
	}
}

func (h *storageHook) del(key string) {
	if err := h.log.Delete(key); err != nil {
		h.b.limitedLog.Error("cannot persist session state", "key", strings.ReplaceAll(key, keySep, " "), "err", err)
	}
}

// forget deletes everything stored for client id.
func (h *storageHook) forget(id string) {
	if !h.log.Has(clientKey(id)) {
		return // nothing was stored for a clean session
	}
	var keys []string
	for _, kind := range []string{storage.SubscriptionKey, storage.InflightKey} {
		h.log.Scan(clientPrefix(kind, id), func(k string, _ []byte) { keys = append(keys, k) })
	}
	for _, k := range keys {
		h.del(k)
	}
	h.del(clientKey(id))
}

func (h *storageHook) saveClient(cl *mqtt.Client) {
	p := cl.Properties.Props
	h.put(clientKey(cl.ID), &storage.Client{
		ID: cl.ID, T: storage.ClientKey, Remote: cl.Net.Remote, Listener: cl.Net.Listener,
		Username: cl.Properties.Username, Clean: cl.Properties.Clean, ProtocolVersion: cl.Properties.ProtocolVersion,
		Properties: storage.ClientProperties{
			SessionExpiryInterval: p.SessionExpiryInterval, SessionExpiryIntervalFlag: p.SessionExpiryIntervalFlag,
			AuthenticationMethod: p.AuthenticationMethod, AuthenticationData: p.AuthenticationData,
			RequestProblemInfo: p.RequestProblemInfo, RequestProblemInfoFlag: p.RequestProblemInfoFlag,
			RequestResponseInfo: p.RequestResponseInfo, ReceiveMaximum: p.ReceiveMaximum,
			TopicAliasMaximum: p.TopicAliasMaximum, User: p.User, MaximumPacketSize: p.MaximumPacketSize,
		},
		Will: storage.ClientWill(cl.Properties.Will),
	})
}

func (h *storageHook) OnSessionEstablished(cl *mqtt.Client, _ packets.Packet) {
	if persistent(cl) {
		h.saveClient(cl)
	} else {
		h.forget(cl.ID) // a clean start ends a session stored before
	}
}

func (h *storageHook) OnWillSent(cl *mqtt.Client, _ packets.Packet) {
	if persistent(cl) && h.log.Has(clientKey(cl.ID)) {
		h.saveClient(cl) // the will is spent
	}
}

func (h *storageHook) OnDisconnect(cl *mqtt.Client, _ error, expire bool) {
	if expire && !cl.IsTakenOver() {
		h.forget(cl.ID)
	}
}

func (h *storageHook) OnClientExpired(cl *mqtt.Client) { h.forget(cl.ID) }

func (h *storageHook) OnSubscribed(cl *mqtt.Client, pk packets.Packet, codes []byte) {
	if !persistent(cl) {
		return
	}
	for i, f := range pk.Filters {
		if i >= len(codes) || codes[i] >= packets.ErrUnspecifiedError.Code {
			continue
		}
		h.put(subKey(cl.ID, f.Filter), &storage.Subscription{
			ID: subKey(cl.ID, f.Filter), T: storage.SubscriptionKey, Client: cl.ID, Filter: f.Filter,
			Qos: codes[i], Identifier: f.Identifier, NoLocal: f.NoLocal,
			RetainHandling: f.RetainHandling, RetainAsPublished: f.RetainAsPublished,
		})
	}
}

func (h *storageHook) OnUnsubscribed(cl *mqtt.Client, pk packets.Packet) {
	for _, f := range pk.Filters {
		h.del(subKey(cl.ID, f.Filter))
	}
}

// OnQosPublish stores a QoS 1 message queued or sent to a persistent
// session. Acknowledgements of inbound publishes come here too and are
// skipped.
func (h *storageHook) OnQosPublish(cl *mqtt.Client, pk packets.Packet, sent int64, _ int) {
	if pk.FixedHeader.Type != packets.Publish || !persistent(cl) {
		return
	}
	h.put(inflightKey(cl.ID, pk.PacketID), messageOf(storage.InflightKey, inflightKey(cl.ID, pk.PacketID), cl.ID, pk, sent))
}

// OnQosComplete forgets a message the client acknowledged. mochi calls it
// for every inbound QoS 1 publish as well, so it must cost nothing when
// there is nothing stored: no allocation, no write.
func (h *storageHook) OnQosComplete(cl *mqtt.Client, pk packets.Packet) {
	if !persistent(cl) {
		return
	}
	var buf [160]byte
	key := appendInflightKey(buf[:0], cl.ID, pk.PacketID)
	if h.log.HasKey(key) {
		h.del(string(key))
	}
}

func (h *storageHook) OnQosDropped(cl *mqtt.Client, pk packets.Packet) {
	if cl.IsTakenOver() {
		return // the new connection inherited the message
	}
	h.del(inflightKey(cl.ID, pk.PacketID))
}

func (h *storageHook) OnRetainMessage(cl *mqtt.Client, pk packets.Packet, r int64) {
	if strings.HasPrefix(pk.TopicName, "$") {
		return
	}
	if r == -1 {
		h.del(retainedKey(pk.TopicName))
		return
	}
	h.put(retainedKey(pk.TopicName), messageOf(storage.RetainedKey, retainedKey(pk.TopicName), cl.ID, pk, 0))
}

func (h *storageHook) OnRetainedExpired(filter string) { h.del(retainedKey(filter)) }

func messageOf(kind, key, client string, pk packets.Packet, sent int64) *storage.Message {
	p := pk.Properties
	return &storage.Message{
		ID: key, T: kind, Client: client, Origin: pk.Origin, FixedHeader: pk.FixedHeader,
		TopicName: pk.TopicName, Payload: pk.Payload, Created: pk.Created, Sent: sent, PacketID: pk.PacketID,
		Properties: storage.MessageProperties{
			PayloadFormat: p.PayloadFormat, PayloadFormatFlag: p.PayloadFormatFlag,
			MessageExpiryInterval: p.MessageExpiryInterval, ContentType: p.ContentType,
			ResponseTopic: p.ResponseTopic, CorrelationData: p.CorrelationData,
			SubscriptionIdentifier: p.SubscriptionIdentifier, User: p.User,
		},
	}
}

// load decodes every stored record of a kind. A record that does not
// decode is logged and skipped: a session is worth less than a start.
func load[T any, P interface {
	*T
	storage.Serializable
}](h *storageHook, prefix string) []T {
	var out []T
	h.log.Scan(prefix, func(k string, v []byte) {
		var x T
		if err := P(&x).UnmarshalBinary(v); err != nil {
			h.b.log.Error("cannot decode stored session state; skipped", "key", strings.ReplaceAll(k, keySep, " "), "err", err)
			return
		}
		out = append(out, x)
	})
	return out
}

func (h *storageHook) StoredClients() ([]storage.Client, error) {
	return load[storage.Client](h, storage.ClientKey+"_"), nil
}

// StoredSubscriptions returns the subscriptions of stored clients; any
// other (left by a crash between writes) would subscribe a client that
// does not exist.
func (h *storageHook) StoredSubscriptions() ([]storage.Subscription, error) {
	var out []storage.Subscription
	for _, s := range load[storage.Subscription](h, storage.SubscriptionKey+"_") {
		if h.log.Has(clientKey(s.Client)) {
			out = append(out, s)
			h.b.noteFilter(s.Filter) // mochi restores it without OnSubscribe
		}
	}
	return out, nil
}

func (h *storageHook) StoredInflightMessages() ([]storage.Message, error) {
	return load[storage.Message](h, storage.InflightKey+"_"), nil
}

func (h *storageHook) StoredRetainedMessages() ([]storage.Message, error) {
	return load[storage.Message](h, storage.RetainedKey+"_"), nil
}
