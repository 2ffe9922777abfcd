package main

import (
	"flag"
	"fmt"
	"math"

	"github.com/quantrac/quantrac/broker"
)

// mqttFlags registers the MQTT broker's flags of `quantrac serve` into s
// (docs/mqtt.md describes each). The returned function converts the values
// that the flag package has no type for; call it after Parse.
func mqttFlags(fs *flag.FlagSet, s *broker.Settings) (finish func() error) {
	fs.StringVar(&s.TLSAddr, "mqtt-tls-addr", "", "MQTT-over-TLS listener address, e.g. 127.0.0.1:8883 (default off)")
	fs.StringVar(&s.WSAddr, "mqtt-ws-addr", "", "MQTT-over-WebSocket listener address, e.g. 127.0.0.1:8083 (default off)")
	fs.BoolVar(&s.WSTLS, "mqtt-ws-tls", false, "serve the WebSocket listener over TLS (wss://) with the TLS certificate")
	fs.StringVar(&s.TLSCertFile, "mqtt-tls-cert", "", "PEM certificate chain of the TLS listeners (read again on SIGHUP)")
	fs.StringVar(&s.TLSKeyFile, "mqtt-tls-key", "", "PEM private key of the TLS listeners")
	fs.StringVar(&s.TLSClientCAFile, "mqtt-tls-client-ca", "", "PEM CAs of gateway client certificates; enables certificate authentication")
	fs.BoolVar(&s.RequireClientCert, "mqtt-require-client-cert", false, "refuse TLS clients without a valid client certificate")
	fs.StringVar(&s.GatewaysFile, "gateways", "", "gateways file (see `quantrac gateway`); read again on SIGHUP")
	var (
		maxPacket = fs.Uint("mqtt-max-packet-size", broker.DefaultMaxPacketSize, "largest MQTT packet accepted, in bytes")
		recvMax   = fs.Uint("mqtt-receive-maximum", broker.DefaultReceiveMaximum, "QoS 1 publishes a client may have unacknowledged (inflight window)")
		writeQ    = fs.Int("mqtt-write-queue", broker.DefaultMaxWritesPending, "packets queued for writing to one client")
		rate      = fs.Float64("mqtt-rate-limit", broker.DefaultRateLimit, "publishes per second a gateway may sustain; 0 disables the limit")
	)
	fs.IntVar(&s.RateBurst, "mqtt-rate-burst", broker.DefaultRateBurst, "publishes a gateway may send at once above its rate")
	fs.IntVar(&s.MaxConnections, "mqtt-max-connections", broker.DefaultMaxConnections, "open MQTT connections allowed over all listeners")
	fs.DurationVar(&s.ConnectTimeout, "mqtt-connect-timeout", broker.DefaultConnectTimeout, "time a new connection has for TLS and CONNECT")
	fs.DurationVar(&s.MaxKeepalive, "mqtt-max-keepalive", broker.DefaultMaxKeepalive, "longest keepalive granted to a client")
	fs.DurationVar(&s.SessionExpiry, "mqtt-session-expiry", broker.DefaultSessionExpiry, "longest a disconnected persistent session is kept")
	return func() error {
		if *maxPacket > math.MaxUint32 || *recvMax == 0 || *recvMax > math.MaxUint16 || *writeQ <= 0 || *writeQ > math.MaxInt32 {
			return fmt.Errorf("--mqtt-max-packet-size, --mqtt-receive-maximum or --mqtt-write-queue out of range")
		}
		s.MaxPacketSize, s.ReceiveMaximum, s.MaxWritesPending = uint32(*maxPacket), uint16(*recvMax), int32(*writeQ)
		s.RateLimit = *rate
		if *rate == 0 {
			s.RateLimit = -1 // broker.Settings: negative disables, zero means the default
		}
		return nil
	}
}
