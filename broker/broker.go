// Package broker is Quantrac's MQTT front door: an embedded mochi-mqtt v2
// broker whose hook hands every publish on a data topic to the ingest
// pipeline and acknowledges it only once its readings are durable.
package broker

import (
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/quantrac/quantrac/ingest/pipeline"
)

// Auth authenticates clients and decides what they may touch. The broker
// calls it from mochi's hooks; it must be safe for concurrent use.
type Auth interface {
	// Authenticate admits or refuses a connecting client.
	Authenticate(cl *mqtt.Client, pk packets.Packet) bool
	// Allow reports whether cl may publish (write) or subscribe to topic.
	Allow(cl *mqtt.Client, topic string, write bool) bool
	// Identity returns the authenticated gateway behind cl.
	Identity(cl *mqtt.Client) pipeline.Identity
}

// Options configure a Broker.
type Options struct {
	// TCPAddr is the plain MQTT listener's address. Default 127.0.0.1:1883;
	// port 0 picks a free port.
	TCPAddr string
	// Pipeline receives every data publish. Required.
	Pipeline *pipeline.Pipeline
	// Auth admits clients. Nil admits anyone only when AllowAnonymous is set.
	Auth Auth
	// AllowAnonymous lets any client in and publish to any well-formed
	// topic, with the identity taken from the topic. For development only.
	AllowAnonymous bool
	// Logger; default slog.Default().
	Logger *slog.Logger
	// MaxPacketSize bounds an incoming packet, payload included. Default
	// 1 MiB, room for a batch of a few thousand readings.
	MaxPacketSize uint32
	// MaxWritesPending bounds the packets queued to one client. mochi's
	// default of 8192 costs too much per idle gateway. Default 256.
	MaxWritesPending int32
	// ReceiveMaximum is the QoS 1 inflight window a client may use. Default 256.
	ReceiveMaximum uint16
}

func (o *Options) setDefaults() {
	if o.TCPAddr == "" {
		o.TCPAddr = "127.0.0.1:1883"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxPacketSize == 0 {
		o.MaxPacketSize = 1 << 20
	}
	if o.MaxWritesPending == 0 {
		o.MaxWritesPending = 256
	}
	if o.ReceiveMaximum == 0 {
		o.ReceiveMaximum = 256
	}
}

// Validate reports whether the options can start a broker.
func (o *Options) Validate() error {
	if o.Pipeline == nil {
		return errors.New("broker: no ingest pipeline")
	}
	return nil
}

// Broker is a running MQTT broker.
type Broker struct {
	opts  Options
	log   *slog.Logger
	mqtt  *mqtt.Server
	tcp   *listeners.TCP
	stats struct {
		messages      atomic.Int64
		bytes         atomic.Int64
		refused       atomic.Int64
		storeFailures atomic.Int64
	}
}

// Start opens the listeners and begins serving.
func Start(opts Options) (*Broker, error) {
	opts.setDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumPacketSize = opts.MaxPacketSize
	caps.MaximumClientWritesPending = opts.MaxWritesPending
	caps.ReceiveMaximum = opts.ReceiveMaximum
	caps.MaximumQos = 1 // readings need at-least-once; QoS 2's extra round trip buys nothing

	b := &Broker{opts: opts, log: opts.Logger}
	b.mqtt = mqtt.New(&mqtt.Options{
		Capabilities:           caps,
		Logger:                 opts.Logger,
		InlineClient:           true,
		SysTopicResendInterval: 10,
	})
	if err := b.mqtt.AddHook(&ingestHook{b: b, errLast: map[string]time.Time{}}, nil); err != nil {
		return nil, fmt.Errorf("cannot add ingest hook: %w", err)
	}
	b.tcp = listeners.NewTCP(listeners.Config{ID: "tcp", Address: opts.TCPAddr})
	if err := b.mqtt.AddListener(b.tcp); err != nil {
		return nil, fmt.Errorf("cannot listen for MQTT on %s: %w", opts.TCPAddr, err)
	}
	if err := b.mqtt.Serve(); err != nil {
		b.mqtt.Close()
		return nil, fmt.Errorf("cannot start MQTT broker: %w", err)
	}
	if opts.AllowAnonymous && opts.Auth == nil {
		b.log.Warn("MQTT broker admits anonymous clients: development mode, never expose it")
	}
	b.log.Info("listening", "listener", "mqtt-tcp", "addr", b.TCPAddr())
	return b, nil
}

// TCPAddr returns the plain MQTT listener's bound address.
func (b *Broker) TCPAddr() string { return b.tcp.Address() }

// Close stops accepting connections and disconnects every client.
func (b *Broker) Close() error {
	return b.mqtt.Close()
}

// Stats is a snapshot of the broker's counters.
type Stats struct {
	ClientsConnected int64
	Messages         int64 // publishes on data topics
	Bytes            int64 // their payload bytes
	Refused          int64 // messages refused whole
	StoreFailures    int64 // publishes not acknowledged because the store failed
}

// Stats returns the broker's counters.
func (b *Broker) Stats() Stats {
	return Stats{
		ClientsConnected: atomic.LoadInt64(&b.mqtt.Info.ClientsConnected),
		Messages:         b.stats.messages.Load(),
		Bytes:            b.stats.bytes.Load(),
		Refused:          b.stats.refused.Load(),
		StoreFailures:    b.stats.storeFailures.Load(),
	}
}
