package broker

import (
	"sync/atomic"

	mqtt "github.com/mochi-mqtt/server/v2"

	"github.com/quantrac/quantrac/province"
)

// refuseReason says why the broker refused a connection, a publish or a
// subscription. The names are stable: they are the reason label on
// /metrics and in the $SYS topics.
type refuseReason uint8

const (
	refuseBadCredentials refuseReason = iota // unknown gateway or wrong password
	refuseUnknownCert                        // a verified certificate whose name maps to no gateway
	refuseNoCredentials                      // no username and no certificate, anonymous access off
	refuseClientID                           // client id other than the gateway id, or reserved
	refuseWillTopic                          // a will on a topic the gateway may not publish on
	refuseAuthBusy                           // password checks queued past the connect timeout
	refuseMaxConnections                     // too many open connections
	refuseConnectTimeout                     // no TLS handshake and CONNECT within the timeout
	refusePacketTooLarge                     // a packet over the size limit; the client is dropped
	refusePublishACL                         // publish on a topic the gateway may not publish on
	refuseSubscribeACL                       // subscription to a filter the gateway may not read
	refuseRateLimited                        // MQTT 5 QoS 1 publish over the rate limit (0x96)
	refusePayload                            // a payload the decoders refused whole
	refuseStoreFailure                       // the store could not take the readings
	numRefuseReasons
)

var refuseNames = [numRefuseReasons]string{
	refuseBadCredentials: "bad_credentials",
	refuseUnknownCert:    "unknown_certificate",
	refuseNoCredentials:  "no_credentials",
	refuseClientID:       "client_id",
	refuseWillTopic:      "will_topic",
	refuseAuthBusy:       "auth_busy",
	refuseMaxConnections: "max_connections",
	refuseConnectTimeout: "connect_timeout",
	refusePacketTooLarge: "packet_too_large",
	refusePublishACL:     "publish_not_authorized",
	refuseSubscribeACL:   "subscribe_not_authorized",
	refuseRateLimited:    "rate_limited",
	refusePayload:        "payload_invalid",
	refuseStoreFailure:   "store_failure",
}

func (r refuseReason) String() string { return refuseNames[r] }

// counters are the broker's own, kept as typed atomics and read at scrape
// time.
type counters struct {
	messages  atomic.Int64
	bytes     atomic.Int64
	throttled atomic.Int64
	rebirths  atomic.Int64
	reloads   atomic.Int64
	refused   [numRefuseReasons]atomic.Int64
}

// refuse counts a refusal and logs it, at a bounded rate.
func (b *Broker) refuse(r refuseReason, msg string, args ...any) {
	b.stats.refused[r].Add(1)
	b.limitedLog.Warn(msg, append(args, "reason", r.String())...)
}

// Refusal is a count of refusals for one reason.
type Refusal struct {
	Reason string
	Count  int64
}

// Stats is a snapshot of the broker's counters.
type Stats struct {
	// ClientsConnected counts admitted clients, gateways or anonymous.
	ClientsConnected int64
	// ConnectionsOpen counts open connections, including those not yet
	// admitted.
	ConnectionsOpen int64
	// GatewaysConfigured is the number of gateways in the loaded file.
	GatewaysConfigured int
	// GatewaysConnected counts authenticated gateways connected now, by
	// province slug, for every province.
	GatewaysConnected map[string]int64
	Messages          int64 // publishes on data topics
	Bytes             int64 // their payload bytes
	// Throttled counts publishes the rate limit delayed rather than refused
	// (MQTT 3.1.1 and QoS 0).
	Throttled int64
	// RebirthRequests counts Sparkplug rebirth commands sent to gateways.
	RebirthRequests int64
	// Refusals counts refusals by reason, every reason included.
	Refusals []Refusal
	// Refused counts messages whose payload was refused whole, and
	// StoreFailures publishes not acknowledged because the store failed;
	// both are also among Refusals.
	Refused       int64
	StoreFailures int64
	// Reloads counts successful reloads of the gateways file.
	Reloads int64
}

// Stats returns the broker's counters. It walks the sessions, so it costs
// time in proportion to the clients connected; call it at scrape rate.
func (b *Broker) Stats() Stats {
	st := Stats{
		ClientsConnected:   atomic.LoadInt64(&b.mqtt.Info.ClientsConnected),
		ConnectionsOpen:    b.gate.open.Load(),
		GatewaysConfigured: len(b.gateways.Load().byID),
		GatewaysConnected:  make(map[string]int64, province.Count),
		Messages:           b.stats.messages.Load(),
		Bytes:              b.stats.bytes.Load(),
		Throttled:          b.stats.throttled.Load(),
		RebirthRequests:    b.stats.rebirths.Load(),
		Refused:            b.stats.refused[refusePayload].Load(),
		StoreFailures:      b.stats.refused[refuseStoreFailure].Load(),
		Reloads:            b.stats.reloads.Load(),
	}
	for _, p := range province.All() {
		st.GatewaysConnected[p.Slug] = 0
	}
	b.sessions.Range(func(k, v any) bool {
		cl, s := k.(*mqtt.Client), v.(*session)
		if s.rec != nil && !cl.Closed() {
			st.GatewaysConnected[s.identity.Province]++
		}
		return true
	})
	for r := range numRefuseReasons {
		st.Refusals = append(st.Refusals, Refusal{Reason: r.String(), Count: b.stats.refused[r].Load()})
	}
	return st
}
