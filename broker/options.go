package broker

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"time"

	"github.com/quantrac/quantrac/ingest/pipeline"
)

// Off as a listener address disables that listener.
const Off = "off"

// Settings are the operator's choices for the broker: listeners, TLS,
// gateway identities and limits. The zero value of each field means its
// documented default; docs/mqtt.md explains how to size them.
type Settings struct {
	// TLSAddr is the MQTT-over-TLS listener's address, conventionally
	// 127.0.0.1:8883. Empty (the default) disables it.
	TLSAddr string
	// WSAddr is the MQTT-over-WebSocket listener's address, conventionally
	// 127.0.0.1:8083; clients connect to ws://<addr>/mqtt (any path is
	// accepted). Empty (the default) disables it.
	WSAddr string
	// WSTLS serves the WebSocket listener over TLS (wss://) with the TLS
	// certificate.
	WSTLS bool
	// TLSCertFile and TLSKeyFile are the broker's PEM certificate chain and
	// key, required by the TLS listener and by WSTLS. They are read again on
	// Reload, so a renewed certificate needs no restart.
	TLSCertFile, TLSKeyFile string
	// TLSClientCAFile is a PEM bundle of the CAs that sign gateway client
	// certificates. When set, the TLS listeners ask for a client
	// certificate, and a verified certificate's common name identifies the
	// gateway (the gateways file maps names to gateways).
	TLSClientCAFile string
	// RequireClientCert refuses TLS clients without a valid certificate,
	// so passwords are not accepted on the TLS listeners. Needs
	// TLSClientCAFile.
	RequireClientCert bool

	// GatewaysFile is the gateways file (docs/security.md). Empty means no
	// gateway can authenticate: only AllowAnonymous lets clients in.
	GatewaysFile string

	// MaxPacketSize bounds an incoming MQTT packet, payload included.
	// Default 1 MiB: room for a batch of a few thousand readings.
	MaxPacketSize uint32
	// ReceiveMaximum is the QoS 1 inflight window a client may use towards
	// the broker (MQTT 5 Receive Maximum). Default 256.
	ReceiveMaximum uint16
	// MaxWritesPending bounds the packets queued for writing to one client.
	// The queue is allocated whole at connect (8 bytes a slot); mochi's own
	// default of 8192 costs 64 KiB per idle gateway. Default 64.
	MaxWritesPending int32
	// MaxConnections bounds open client connections over all listeners,
	// counting those that have not yet sent CONNECT. Default 20 000; the
	// process needs an open-files limit above it.
	MaxConnections int
	// ConnectTimeout is how long a new connection may take for its TLS
	// handshake and CONNECT packet. Default 10 s.
	ConnectTimeout time.Duration
	// MaxKeepalive is the longest keepalive the broker grants. A client
	// asking for none or for more is held to this one: MQTT 5 clients are
	// told so in CONNACK (Server Keep Alive); an MQTT 3.1.1 client that
	// stays silent for 1.5 times this long is disconnected. Default 10 min.
	MaxKeepalive time.Duration
	// SessionExpiry is the longest a disconnected persistent session is
	// kept (MQTT 5 clients may ask for less). Default 7 days.
	SessionExpiry time.Duration
	// RateLimit is the sustained rate of publishes a gateway may send, per
	// second; RateBurst is how many it may send at once above that rate.
	// Defaults 1000/s and 1000. A negative RateLimit disables the limit.
	RateLimit float64
	RateBurst int
	// AuthConcurrency bounds the bcrypt verifications run at once, so a
	// storm of connects (or of wrong passwords) cannot starve ingest of
	// CPU. Default GOMAXPROCS.
	AuthConcurrency int
	// LogsPerSecond bounds the broker's warnings about refused clients and
	// messages; the rest are counted. Default 10.
	LogsPerSecond int
}

// Options configure a Broker: the operator's Settings plus what the node
// that embeds the broker provides.
type Options struct {
	Settings
	// TCPAddr is the plain MQTT listener's address. Default 127.0.0.1:1883;
	// port 0 picks a free port; Off disables it.
	TCPAddr string
	// AllowAnonymous lets clients without credentials in, free to publish
	// to any well-formed topic with the identity taken from the topic. For
	// development only. Clients that do present credentials are still
	// checked against the gateways file.
	AllowAnonymous bool
	// StateDir holds the persistent session store. Empty keeps sessions in
	// memory only, lost on restart.
	StateDir string
	// Pipeline receives every data publish. Required.
	Pipeline *pipeline.Pipeline
	// Logger; default slog.Default().
	Logger *slog.Logger
}

// Defaults.
const (
	DefaultTCPAddr          = "127.0.0.1:1883"
	DefaultMaxPacketSize    = 1 << 20
	DefaultReceiveMaximum   = 256
	DefaultMaxWritesPending = 64
	DefaultMaxConnections   = 20000
	DefaultConnectTimeout   = 10 * time.Second
	DefaultMaxKeepalive     = 10 * time.Minute
	DefaultSessionExpiry    = 7 * 24 * time.Hour
	DefaultRateLimit        = 1000
	DefaultRateBurst        = 1000
	DefaultLogsPerSecond    = 10
)

func (o *Options) setDefaults() {
	if o.TCPAddr == "" {
		o.TCPAddr = DefaultTCPAddr
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	s := &o.Settings
	if s.MaxPacketSize == 0 {
		s.MaxPacketSize = DefaultMaxPacketSize
	}
	if s.ReceiveMaximum == 0 {
		s.ReceiveMaximum = DefaultReceiveMaximum
	}
	if s.MaxWritesPending == 0 {
		s.MaxWritesPending = DefaultMaxWritesPending
	}
	if s.MaxConnections == 0 {
		s.MaxConnections = DefaultMaxConnections
	}
	if s.ConnectTimeout == 0 {
		s.ConnectTimeout = DefaultConnectTimeout
	}
	if s.MaxKeepalive == 0 {
		s.MaxKeepalive = DefaultMaxKeepalive
	}
	if s.SessionExpiry == 0 {
		s.SessionExpiry = DefaultSessionExpiry
	}
	if s.RateLimit == 0 {
		s.RateLimit = DefaultRateLimit
	}
	if s.RateBurst == 0 {
		s.RateBurst = DefaultRateBurst
	}
	if s.AuthConcurrency == 0 {
		s.AuthConcurrency = runtime.GOMAXPROCS(0)
	}
	if s.LogsPerSecond == 0 {
		s.LogsPerSecond = DefaultLogsPerSecond
	}
}

// Validate reports whether the options (with defaults applied) can start a
// broker.
func (o *Options) Validate() error {
	s := &o.Settings
	var errs []error
	if o.Pipeline == nil {
		errs = append(errs, errors.New("no ingest pipeline"))
	}
	if o.TCPAddr == Off && s.TLSAddr == "" && s.WSAddr == "" {
		errs = append(errs, errors.New("every MQTT listener is off"))
	}
	needTLS := s.TLSAddr != "" || s.WSTLS
	if needTLS && (s.TLSCertFile == "" || s.TLSKeyFile == "") {
		errs = append(errs, errors.New("TLS needs a certificate file and a key file"))
	}
	if !needTLS && (s.TLSCertFile != "" || s.TLSClientCAFile != "") {
		errs = append(errs, errors.New("TLS files given but no TLS listener enabled"))
	}
	if s.WSTLS && s.WSAddr == "" {
		errs = append(errs, errors.New("WebSocket TLS asked for but no WebSocket listener"))
	}
	if s.RequireClientCert && s.TLSClientCAFile == "" {
		errs = append(errs, errors.New("client certificates required but no client CA file"))
	}
	if s.MaxPacketSize < 1024 {
		errs = append(errs, fmt.Errorf("max packet size %d is under 1 KiB", s.MaxPacketSize))
	}
	if s.MaxWritesPending < 1 || s.MaxConnections < 1 || s.AuthConcurrency < 1 || s.LogsPerSecond < 1 {
		errs = append(errs, errors.New("write queue, connection, auth concurrency and log limits must be positive"))
	}
	if s.ConnectTimeout < 0 || s.MaxKeepalive < time.Second || s.MaxKeepalive > 65535*time.Second {
		errs = append(errs, fmt.Errorf("max keepalive %v outside 1 s..65535 s, or negative connect timeout", s.MaxKeepalive))
	}
	if s.SessionExpiry < 0 || s.SessionExpiry > (1<<32-1)*time.Second {
		errs = append(errs, fmt.Errorf("session expiry %v out of range", s.SessionExpiry))
	}
	if s.RateLimit > 0 && s.RateBurst < 1 {
		errs = append(errs, errors.New("rate burst must be at least 1"))
	}
	for _, a := range []string{o.TCPAddr, s.TLSAddr, s.WSAddr} {
		if a != "" && a != Off {
			if _, _, err := net.SplitHostPort(a); err != nil {
				errs = append(errs, fmt.Errorf("listener address %q: %w", a, err))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid broker options: %w", err)
	}
	return nil
}
