// Package broker is Quantrac's MQTT front door: an embedded mochi-mqtt v2
// broker that authenticates provincial gateways (by password or client
// certificate, from the gateways file), holds each to its own topics, hands
// every publish on a data topic to the ingest pipeline and acknowledges it
// only once its readings are durable.
//
// It serves MQTT 3.1.1 and 5 over TCP, TLS and WebSocket, bounds what any
// client can cost (connections, packet size, inflight window, write queue,
// publish rate, keepalive), keeps persistent sessions in a session log under
// the data directory, and counts every refusal by reason. docs/mqtt.md and
// docs/security.md describe it for operators and gateway builders.
package broker

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"

	"github.com/quantrac/quantrac/broker/sessionlog"
)

// Listener ids, as they appear in logs and mochi's client records.
const (
	listenerTCP = "mqtt-tcp"
	listenerTLS = "mqtt-tls"
	listenerWS  = "mqtt-ws"
)

// maxOutboundInflight bounds the QoS 1 messages queued or in flight to one
// client (commands to an offline gateway, mostly); past it mochi drops new
// ones. mochi's default is 8192.
const maxOutboundInflight = 1024

// Broker is a running MQTT broker.
type Broker struct {
	opts       Options
	log        *slog.Logger
	limitedLog *slog.Logger // for anything a client can trigger at will
	mqtt       *mqtt.Server
	hook       *hook
	store      *storageHook // nil without a StateDir
	tls        *tlsFiles    // nil without TLS
	gate       connGate
	addrs      map[string]func() string
	done       chan struct{}
	closeOnce  sync.Once

	gateways atomic.Pointer[gatewayTable]
	sessions sync.Map // *mqtt.Client -> *session
	// authSlots bounds the bcrypt checks in progress.
	authSlots chan struct{}
	authKey   [32]byte
	// reloadMu serialises reloads.
	reloadMu sync.Mutex

	stats counters
	// dataSubscribed is set once a filter that may match a data topic is
	// subscribed to (fanout.go).
	dataSubscribed atomic.Bool
}

// Start opens the listeners and begins serving.
func Start(opts Options) (_ *Broker, err error) {
	opts.setDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	b := &Broker{
		opts:       opts,
		log:        opts.Logger,
		limitedLog: newThrottledLogger(opts.Logger, opts.LogsPerSecond),
		gate:       connGate{max: int64(opts.MaxConnections)},
		addrs:      map[string]func() string{},
		done:       make(chan struct{}),
		authSlots:  make(chan struct{}, opts.AuthConcurrency),
	}
	b.gateways.Store(emptyTable())
	if _, err := rand.Read(b.authKey[:]); err != nil {
		return nil, fmt.Errorf("cannot seed password cache key: %w", err)
	}
	res, err := b.loadGateways()
	if err != nil {
		return nil, fmt.Errorf("cannot load gateways: %w", err)
	}
	if opts.TLSAddr != "" || opts.WSTLS {
		if b.tls, err = newTLSFiles(&opts.Settings); err != nil {
			return nil, err
		}
	}
	b.mqtt = mqtt.New(&mqtt.Options{
		Capabilities: b.capabilities(),
		// mochi logs per client and per packet; let it through only at a
		// bounded rate.
		Logger:                 b.limitedLog,
		InlineClient:           true,
		SysTopicResendInterval: 10,
	})
	defer func() {
		if err != nil {
			b.shutdown()
		}
	}()
	if err := b.addHooks(); err != nil {
		return nil, err
	}
	if err := b.addListeners(); err != nil {
		return nil, err
	}
	if err := b.mqtt.Serve(); err != nil {
		return nil, fmt.Errorf("cannot start MQTT broker: %w", err)
	}
	b.announce(res)
	return b, nil
}

func (b *Broker) capabilities() *mqtt.Capabilities {
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumPacketSize = b.opts.MaxPacketSize
	caps.MaximumClientWritesPending = b.opts.MaxWritesPending
	caps.ReceiveMaximum = b.opts.ReceiveMaximum
	caps.MaximumInflight = maxOutboundInflight
	caps.MaximumClients = int64(b.opts.MaxConnections)
	caps.MaximumSessionExpiryInterval = uint32(b.opts.SessionExpiry / time.Second)
	caps.MaximumQos = 1 // readings need at-least-once; QoS 2's extra round trip buys nothing
	// No topic aliases: mochi checks the ACL before it resolves an alias,
	// and each alias a client may define is memory it could fill.
	caps.TopicAliasMaximum = 0
	return caps
}

func (b *Broker) addHooks() error {
	b.hook = &hook{b: b}
	if err := b.mqtt.AddHook(b.hook, nil); err != nil {
		return fmt.Errorf("cannot add broker hook: %w", err)
	}
	if b.opts.StateDir == "" {
		return nil
	}
	log, err := sessionlog.Open(filepath.Join(b.opts.StateDir, "sessions"), sessionlog.Options{})
	if err != nil {
		return fmt.Errorf("cannot open MQTT session store: %w", err)
	}
	b.store = &storageHook{b: b, log: log}
	if err := b.mqtt.AddHook(b.store, nil); err != nil {
		return fmt.Errorf("cannot add session store hook: %w", err)
	}
	return nil
}

func (b *Broker) addListeners() error {
	var ls []listeners.Listener
	if b.opts.TCPAddr != Off {
		ls = append(ls, &tcpListener{b: b, id: listenerTCP, addr: b.opts.TCPAddr})
	}
	if b.opts.TLSAddr != "" {
		ls = append(ls, &tcpListener{b: b, id: listenerTLS, addr: b.opts.TLSAddr, tls: b.tls.config()})
	}
	if b.opts.WSAddr != "" {
		ls = append(ls, newWSListener(b, listenerWS, b.opts.WSAddr, b.tls.configIf(b.opts.WSTLS, "http/1.1")))
	}
	for _, l := range ls {
		if err := b.mqtt.AddListener(l); err != nil {
			return fmt.Errorf("cannot listen for MQTT (%s) on %s: %w", l.Protocol(), l.Address(), err)
		}
		b.addrs[l.ID()] = l.Address
	}
	return nil
}

// announce logs what the broker serves and warns about risky settings.
func (b *Broker) announce(res reloadResult) {
	for _, id := range []string{listenerTCP, listenerTLS, listenerWS} {
		if addr, ok := b.addrs[id]; ok {
			b.log.Info("listening", "listener", id, "addr", addr())
			if id == listenerTCP && !isLoopback(addr()) && b.opts.GatewaysFile != "" {
				b.log.Warn("plain MQTT listener is reachable from the network: gateway passwords cross it in clear; prefer TLS", "addr", addr())
			}
		}
	}
	if b.opts.GatewaysFile != "" {
		b.log.Info("gateways loaded", "file", b.opts.GatewaysFile, "gateways", res.added)
	}
	if b.opts.AllowAnonymous {
		b.log.Warn("MQTT broker admits anonymous clients: development mode, never expose it")
	} else if b.opts.GatewaysFile == "" {
		b.log.Warn("no gateways file and anonymous access off: every MQTT client will be refused")
	}
}

func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// TCPAddr returns the plain MQTT listener's bound address, or "" if it is
// off.
func (b *Broker) TCPAddr() string { return b.addr(listenerTCP) }

// TLSAddr returns the TLS listener's bound address, or "" if it is off.
func (b *Broker) TLSAddr() string { return b.addr(listenerTLS) }

// WSAddr returns the WebSocket listener's bound address, or "" if it is off.
func (b *Broker) WSAddr() string { return b.addr(listenerWS) }

func (b *Broker) addr(id string) string {
	if f, ok := b.addrs[id]; ok {
		return f()
	}
	return ""
}

// Reload reads the gateways file and the TLS files again. Gateways added
// can connect at once; gateways removed or changed are disconnected; every
// other connection stays. On error nothing changes.
func (b *Broker) Reload() error {
	b.reloadMu.Lock()
	defer b.reloadMu.Unlock()
	var errs []error
	if b.tls != nil {
		if err := b.tls.load(); err != nil {
			errs = append(errs, err)
		}
	}
	res, err := b.loadGateways()
	if err != nil {
		errs = append(errs, fmt.Errorf("cannot reload gateways: %w", err))
	} else if b.opts.GatewaysFile != "" {
		dropped := b.disconnectStale(b.gateways.Load())
		b.stats.reloads.Add(1)
		b.log.Info("gateways reloaded", "file", b.opts.GatewaysFile, "added", res.added, "removed", res.removed,
			"changed", res.changed, "unchanged", res.unchanged, "disconnected", dropped)
	}
	return errors.Join(errs...)
}

// Close stops accepting connections, disconnects every client, waits for
// their goroutines (so no publish is in the pipeline after it returns) and
// closes the session store.
func (b *Broker) Close() error {
	return b.shutdown()
}

func (b *Broker) shutdown() error {
	var err error
	b.closeOnce.Do(func() {
		close(b.done)
		if b.mqtt != nil {
			_ = b.mqtt.Close() // closes the listeners, which wait for their clients
		}
		if b.store != nil {
			err = b.store.log.Close()
		}
	})
	return err
}
