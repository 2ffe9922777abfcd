package broker

import (
	"errors"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// A refusal of CONNECT, with the MQTT 5 reason code and the MQTT 3.1.1
// return code that say it.
type connectRefusal struct {
	reason refuseReason
	v5, v3 packets.Code
	msg    string
}

var (
	errBadCredentials = &connectRefusal{refuseBadCredentials, packets.ErrBadUsernameOrPassword,
		packets.ErrMalformedUsernameOrPassword, "connect refused: unknown gateway or wrong password"}
	errUnknownCert = &connectRefusal{refuseUnknownCert, packets.ErrNotAuthorized,
		packets.Err3NotAuthorized, "connect refused: certificate names no gateway"}
	errNoCredentials = &connectRefusal{refuseNoCredentials, packets.ErrNotAuthorized,
		packets.Err3NotAuthorized, "connect refused: no credentials"}
	errClientID = &connectRefusal{refuseClientID, packets.ErrClientIdentifierNotValid,
		packets.Err3ClientIdentifierNotValid, "connect refused: client id must be empty or the gateway id"}
	errWillTopic = &connectRefusal{refuseWillTopic, packets.ErrNotAuthorized,
		packets.Err3NotAuthorized, "connect refused: will topic not allowed for this gateway"}
	errAuthBusy = &connectRefusal{refuseAuthBusy, packets.ErrServerBusy,
		packets.Err3ServerUnavailable, "connect refused: password checks are queued too long"}
)

// OnConnect authenticates a client before mochi admits it, and refuses it
// with the reason code that fits. mochi calls it once CONNECT is read, on
// the client's goroutine, before OnConnectAuthenticate and CONNACK.
func (h *hook) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	b := h.b
	b.enforceKeepalive(cl)
	s, refusal := b.authenticate(cl, pk)
	if refusal != nil {
		b.refuse(refusal.reason, refusal.msg, "client", cl.ID, "username", string(pk.Connect.Username),
			"remote", cl.Net.Remote, "listener", cl.Net.Listener)
		code := refusal.v5
		if cl.Properties.ProtocolVersion < 5 {
			code = refusal.v3
		}
		_ = b.mqtt.SendConnack(cl, code, false, nil)
		return refusal.v5
	}
	b.sessions.Store(cl, s)
	if gc, ok := cl.Net.Conn.(*gatedConn); ok {
		gc.established.Store(true)
	}
	return nil
}

// OnConnectAuthenticate admits exactly the clients OnConnect authenticated.
func (h *hook) OnConnectAuthenticate(cl *mqtt.Client, _ packets.Packet) bool {
	return h.b.session(cl) != nil
}

// OnDisconnect forgets the client's session and counts a packet over the
// size limit, which mochi answers by dropping the connection.
func (h *hook) OnDisconnect(cl *mqtt.Client, err error, _ bool) {
	h.b.sessions.Delete(cl)
	if errors.Is(err, packets.ErrPacketTooLarge) {
		h.b.refuse(refusePacketTooLarge, "client dropped: packet over the size limit",
			"client", cl.ID, "remote", cl.Net.Remote, "limit", h.b.opts.MaxPacketSize)
	}
}

// enforceKeepalive holds a client to the broker's longest keepalive. A
// client asking for none would otherwise hold its connection, goroutines and
// buffers for ever once its network path dies without a FIN.
func (b *Broker) enforceKeepalive(cl *mqtt.Client) {
	limit := uint16(b.opts.MaxKeepalive / time.Second)
	if cl.State.Keepalive == 0 || cl.State.Keepalive > limit {
		cl.State.Keepalive = limit
		// MQTT 5 clients learn the value from CONNACK; 3.1.1 has no way
		// to say it, and docs/mqtt.md asks 3.1.1 gateways to stay under it.
		cl.State.ServerKeepalive = cl.Properties.ProtocolVersion == 5
	}
}

// authenticate establishes who cl is: a gateway by certificate, a gateway
// by id and password, or (in development mode) an anonymous client.
func (b *Broker) authenticate(cl *mqtt.Client, pk packets.Packet) (*session, *connectRefusal) {
	if cl.ID == mqtt.InlineClientId {
		return nil, errClientID
	}
	t := b.gateways.Load()
	var rec *gatewayRec
	certs := peerCertificates(cl)
	switch {
	case len(certs) > 0:
		// The TLS handshake verified the chain against the client CAs.
		rec = t.byCN[certs[0].Subject.CommonName]
		if rec == nil {
			return nil, errUnknownCert
		}
		if pk.Connect.UsernameFlag && string(pk.Connect.Username) != rec.entry.ID {
			return nil, errBadCredentials
		}
	case pk.Connect.UsernameFlag:
		rec = t.byID[string(pk.Connect.Username)]
		if rec == nil || rec.entry.PasswordHash == "" || !pk.Connect.PasswordFlag {
			return nil, errBadCredentials
		}
		ok, busy := b.checkPassword(rec, pk.Connect.Password)
		if busy {
			return nil, errAuthBusy
		}
		if !ok {
			return nil, errBadCredentials
		}
	default:
		if !b.opts.AllowAnonymous {
			return nil, errNoCredentials
		}
		if t.byID[cl.ID] != nil {
			// It would take over that gateway's session and commands.
			return nil, errClientID
		}
		return &session{limiter: newRateLimiter(b.opts.RateLimit, b.opts.RateBurst)}, nil
	}

	// The client id is the gateway id, so that no gateway can take over
	// another's session. An empty one is assigned.
	if cl.Properties.Props.AssignedClientID != "" {
		cl.ID = rec.entry.ID
		cl.Properties.Props.AssignedClientID = rec.entry.ID
	} else if cl.ID != rec.entry.ID {
		return nil, errClientID
	}
	// mochi publishes a will without an ACL check.
	if pk.Connect.WillFlag && !mayPublish(rec.identity, pk.Connect.WillTopic) {
		return nil, errWillTopic
	}
	return &session{rec: rec, identity: rec.identity, limiter: rec.limiter}, nil
}

// disconnect ends a client's connection: MQTT 5 clients are told why
// (0x98, administrative action); MQTT 3.1.1 has no server DISCONNECT.
func (b *Broker) disconnect(cl *mqtt.Client, why error) {
	b.log.Info("disconnecting client", "client", cl.ID, "why", why)
	if cl.Properties.ProtocolVersion == 5 {
		_ = b.mqtt.DisconnectClient(cl, packets.ErrAdministrativeAction)
		return
	}
	cl.Stop(why)
}

// sweepSessions forgets sessions of clients that closed more than a minute
// ago without OnDisconnect (mochi skips it when CONNACK cannot be written).
func (b *Broker) sweepSessions(now time.Time) {
	b.sessions.Range(func(k, _ any) bool {
		cl := k.(*mqtt.Client)
		if t := cl.StopTime(); t > 0 && now.Unix()-t > 60 {
			b.sessions.Delete(cl)
		}
		return true
	})
}
