package gwsim

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"time"

	"github.com/quantrac/quantrac/gateway-firmware-sim/queue"
	"github.com/quantrac/quantrac/gateway-firmware-sim/sensor"
	"github.com/quantrac/quantrac/gateway-firmware-sim/wire"
	"github.com/quantrac/quantrac/province"
)

// Options configure a simulation. Start from DefaultOptions; a field left at
// its zero value takes the default given in its comment, except where zero
// is meaningful (QoS 0, Seed 0, Duration 0, no ledger, no faults).
type Options struct {
	// Broker is the broker URL: tcp://host:port, or ssl://, tls:// or
	// mqtts:// for TLS. Default tcp://127.0.0.1:1883.
	Broker string
	// Provinces are the slugs of the provinces to simulate, in order. Empty
	// means all 34.
	Provinces []string
	// GatewaysPerProvince is the gateway count of each province, 1..999.
	// Default 1. Gateway n of a province is <code>-gw-<nnn>.
	GatewaysPerProvince int
	// DevicesPerGateway is the device count of each gateway, 1..4000.
	// Default 20.
	DevicesPerGateway int
	// SampleInterval is how often every device samples: a whole number of
	// milliseconds, at least 10 ms. Default 10 s.
	SampleInterval time.Duration
	// BatchSize cuts a batch when it holds this many readings, 1..2000 (the
	// platform refuses messages over 10 000 values; a hydromet reading has
	// five). Default 200.
	BatchSize int
	// BatchAge cuts a batch when its oldest reading is this old in simulated
	// time; batches are cut at slot boundaries, so an age below the sample
	// interval cuts one batch per slot. Default 30 s.
	BatchAge time.Duration
	// Format is the wire format. Default JSON.
	Format wire.Format
	// QoS is the MQTT QoS of data messages, 0 or 1. DefaultOptions sets 1.
	// At QoS 0 nothing is acknowledged: a batch counts as delivered once
	// written to the socket, and the ledger proves nothing.
	QoS byte
	// Inflight bounds the publishes per gateway awaiting their PUBACK (at
	// QoS 0, awaiting the socket). Default 8.
	Inflight int
	// LiveBuffer is how many freshly cut batches a connected gateway holds in
	// memory while its inflight window is full; past it they spill to the
	// queue (paced) or generation waits (unpaced). Default 4.
	LiveBuffer int

	// Start is the simulated instant the run begins. Zero means now.
	// Readings depend only on the seed and the slot, so two runs that cover
	// the same instants produce the same readings.
	Start time.Time
	// Duration is how much simulated time to generate; zero runs until the
	// context is cancelled. When generation ends the gateways keep
	// publishing their backlog for up to DrainTimeout.
	Duration time.Duration
	// Speed is simulated seconds per wall second. Default 1 (real time).
	Speed float64
	// Unpaced generates as fast as the uplink takes batches, ignoring the
	// wall clock: for load tests and deterministic tests.
	Unpaced bool
	// Seed fixes every device, every value and every fault decision.
	Seed uint64

	// LedgerPath is the file recording acknowledged batches. Empty: none.
	LedgerPath string
	// QueueDir holds each gateway's store-and-forward queue in
	// QueueDir/<gateway-id>. Default "gwsim-queue".
	QueueDir string
	// QueueBytes bounds each gateway's queue. Default 64 MiB.
	QueueBytes int64
	// QueueSegmentBytes is the queue segment file size. Default
	// QueueBytes/16, at least 64 KiB.
	QueueSegmentBytes int64
	// QueueNoSync leaves queue writes to the page cache instead of
	// fsyncing them (queue.Options.NoSync): a backlog survives a crash of
	// the simulator but not of the machine. For load tests that run a
	// fleet on the node's own machine, where every gateway's fsyncs would
	// share one disk with the node's WAL.
	QueueNoSync bool

	// Username and Password are sent on connect when Username is set. In
	// both, {gateway} and {province} are replaced by the gateway id and the
	// province slug.
	Username, Password string
	// PasswordFile, instead of Password, names a file whose first line is
	// the password; {gateway} and {province} are replaced, so each gateway
	// reads its own (as `quantrac gateway add ... > <id>.password` writes
	// them).
	PasswordFile string
	// TLS configures TLS and client certificates for ssl:// brokers.
	TLS TLSOptions

	// Faults injects failures on purpose.
	Faults Faults

	// ConnectTimeout bounds one connection attempt. Default 10 s.
	ConnectTimeout time.Duration
	// KeepAlive is the MQTT keep-alive. Default 30 s.
	KeepAlive time.Duration
	// WriteTimeout bounds how long the MQTT client may take to accept one
	// publish for writing. A broker that reads nothing for this long (far
	// past any backpressure a healthy platform applies) counts as a lost
	// connection: the gateway reconnects and resends what was not
	// acknowledged. It also bounds how long Run waits at its end for a
	// publish caught in the loss of a connection. Default 5 s.
	WriteTimeout time.Duration
	// MinBackoff and MaxBackoff bound the reconnect delay, which doubles
	// per failed attempt and is jittered. Defaults 500 ms and 30 s.
	MinBackoff, MaxBackoff time.Duration
	// DrainTimeout bounds how long gateways keep delivering after generation
	// ends. Default 30 s.
	DrainTimeout time.Duration
	// SyncInterval is how often the queue cursors and the ledger are made
	// durable. Default 200 ms.
	SyncInterval time.Duration

	// Logger receives lifecycle events. Default slog.Default().
	Logger *slog.Logger
}

// TLSOptions configure TLS to the broker. File names may contain {gateway}
// and {province}, so each gateway can present its own certificate.
type TLSOptions struct {
	// CAFile is a PEM bundle of CAs that sign the broker's certificate.
	// Empty: the system roots.
	CAFile string
	// CertFile and KeyFile are the gateway's client certificate and key
	// (PEM). Empty: no client certificate.
	CertFile, KeyFile string
	// ServerName overrides the name checked in the broker's certificate.
	ServerName string
	// InsecureSkipVerify accepts any broker certificate. For tests only.
	InsecureSkipVerify bool
}

// Faults inject failures so tests can watch the platform cope. Times are in
// simulated time. Each decision is drawn from the seed, so a run's faults
// repeat with its data.
type Faults struct {
	// FlapEvery, if set, drops each gateway's link once per FlapEvery (at a
	// phase drawn per gateway) for FlapDown. The link goes down abruptly:
	// the TCP connection is closed without an MQTT DISCONNECT. Flaps start
	// and end on slot boundaries.
	FlapEvery, FlapDown time.Duration
	// FlapTogether drops every gateway's link at the same instants instead
	// of at a phase of its own: what the gateways see when the broker
	// restarts or a province's uplink fails, with the reconnect storm that
	// follows. (Restarting the broker itself is up to whoever runs it; the
	// e2e tests kill and restart the node.)
	FlapTogether bool
	// DuplicateRate is the fraction of acknowledged batches published a
	// second time, as a broker or gateway bug would: the platform must store
	// their readings once.
	DuplicateRate float64
	// MalformedRate is the fraction of batches followed by a payload the
	// platform must refuse (see wire.AppendMalformed), published on the same
	// topic.
	MalformedRate float64
}

// MaxBatchSize is the largest BatchSize: 2000 hydromet readings are the
// platform's 10 000 values per message.
const MaxBatchSize = 2000

// DefaultOptions returns the options cmd/gwsim starts from: everything at
// its default, QoS 1.
func DefaultOptions() Options {
	o := Options{QoS: 1}
	return o.withDefaults()
}

func (o Options) withDefaults() Options {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	if o.Broker == "" {
		o.Broker = "tcp://127.0.0.1:1883"
	}
	def(&o.GatewaysPerProvince, 1)
	def(&o.DevicesPerGateway, 20)
	def(&o.BatchSize, 200)
	def(&o.Inflight, 8)
	def(&o.LiveBuffer, 4)
	defDur(&o.SampleInterval, 10*time.Second)
	defDur(&o.BatchAge, 30*time.Second)
	defDur(&o.ConnectTimeout, 10*time.Second)
	defDur(&o.KeepAlive, 30*time.Second)
	defDur(&o.WriteTimeout, 5*time.Second)
	defDur(&o.MinBackoff, 500*time.Millisecond)
	defDur(&o.MaxBackoff, 30*time.Second)
	defDur(&o.DrainTimeout, 30*time.Second)
	defDur(&o.SyncInterval, 200*time.Millisecond)
	if o.Format == 0 {
		o.Format = wire.JSON
	}
	if o.Speed == 0 {
		o.Speed = 1
	}
	if o.QueueDir == "" {
		o.QueueDir = "gwsim-queue"
	}
	if o.QueueBytes == 0 {
		o.QueueBytes = queue.DefaultMaxBytes
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Validate reports whether the options describe a runnable simulation.
func (o Options) Validate() error {
	c := o.withDefaults()
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if u, err := url.Parse(c.Broker); err != nil || u.Host == "" || !knownScheme(u.Scheme) {
		bad("invalid broker %q: want tcp://, ssl://, tls:// or mqtts:// host:port", c.Broker)
	}
	seen := map[string]bool{}
	for _, slug := range c.Provinces {
		if _, ok := province.Lookup(slug); !ok {
			bad("invalid province %q: not one of the 34 slugs", slug)
		}
		if seen[slug] {
			bad("province %q listed twice", slug)
		}
		seen[slug] = true
	}
	if c.GatewaysPerProvince < 1 || c.GatewaysPerProvince > sensor.MaxGatewayNumber {
		bad("invalid gateways per province %d: want 1..%d", c.GatewaysPerProvince, sensor.MaxGatewayNumber)
	}
	if c.DevicesPerGateway < 1 || c.DevicesPerGateway > sensor.MaxDevices {
		bad("invalid devices per gateway %d: want 1..%d", c.DevicesPerGateway, sensor.MaxDevices)
	}
	if c.SampleInterval < sensor.MinInterval || c.SampleInterval%time.Millisecond != 0 {
		bad("invalid sample interval %v: want whole milliseconds, at least %v", c.SampleInterval, sensor.MinInterval)
	}
	if c.BatchSize < 1 || c.BatchSize > MaxBatchSize {
		bad("invalid batch size %d: want 1..%d", c.BatchSize, MaxBatchSize)
	}
	if c.BatchAge < 0 {
		bad("invalid batch age %v", c.BatchAge)
	}
	if !c.Format.Valid() {
		bad("invalid format %v", c.Format)
	}
	if c.QoS > 1 {
		bad("invalid QoS %d: want 0 or 1", c.QoS)
	}
	if c.Inflight < 1 || c.Inflight > 65000 {
		bad("invalid inflight window %d: want 1..65000", c.Inflight)
	}
	if c.LiveBuffer < 1 {
		bad("invalid live buffer %d", c.LiveBuffer)
	}
	if c.Duration < 0 {
		bad("invalid duration %v", c.Duration)
	}
	if c.Speed < 0 || math.IsNaN(c.Speed) || math.IsInf(c.Speed, 0) {
		bad("invalid speed %v", c.Speed)
	}
	qo := queue.Options{Dir: c.QueueDir, MaxBytes: c.QueueBytes, SegmentBytes: c.QueueSegmentBytes}
	if err := qo.Validate(); err != nil {
		errs = append(errs, err)
	} else if minQ := int64(c.BatchSize)*maxReadingBytes + 64; c.QueueBytes < minQ {
		bad("invalid queue size %d: a full batch needs up to %d bytes", c.QueueBytes, minQ)
	}
	if (c.Password != "" || c.PasswordFile != "") && c.Username == "" {
		bad("a password needs a username")
	}
	if c.Password != "" && c.PasswordFile != "" {
		bad("a password and a password file exclude each other")
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		bad("a client certificate needs both a certificate and a key file")
	}
	errs = append(errs, c.Faults.validate()...)
	if c.Faults.FlapEvery > 0 && c.Faults.FlapDown < c.SampleInterval {
		bad("invalid link flap: down %v is shorter than the sample interval %v", c.Faults.FlapDown, c.SampleInterval)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"connect timeout", c.ConnectTimeout}, {"keep-alive", c.KeepAlive}, {"write timeout", c.WriteTimeout}, {"minimum backoff", c.MinBackoff},
		{"maximum backoff", c.MaxBackoff}, {"drain timeout", c.DrainTimeout}, {"sync interval", c.SyncInterval}} {
		if d.v < 0 {
			bad("invalid %s %v", d.name, d.v)
		}
	}
	if c.MaxBackoff < c.MinBackoff {
		bad("maximum backoff %v below minimum %v", c.MaxBackoff, c.MinBackoff)
	}
	return errors.Join(errs...)
}

// maxReadingBytes bounds one reading in batch.Append form (the form queued
// on disk): kind, device,
// timestamp delta and five mantissas as varints.
const maxReadingBytes = 1 + 3 + 10 + sensor.MaxFields*10

func (f Faults) validate() []error {
	var errs []error
	if f.FlapEvery < 0 || f.FlapDown < 0 || (f.FlapEvery > 0 && f.FlapDown >= f.FlapEvery) {
		errs = append(errs, fmt.Errorf("invalid link flap: down %v every %v", f.FlapDown, f.FlapEvery))
	}
	for _, r := range []struct {
		name string
		v    float64
	}{{"duplicate", f.DuplicateRate}, {"malformed", f.MalformedRate}} {
		if !(r.v >= 0 && r.v <= 1) {
			errs = append(errs, fmt.Errorf("invalid %s rate %v: want 0..1", r.name, r.v))
		}
	}
	return errs
}

func knownScheme(s string) bool {
	switch s {
	case "tcp", "mqtt", "ssl", "tls", "mqtts", "tcps":
		return true
	}
	return false
}

func tlsScheme(s string) bool { return s != "tcp" && s != "mqtt" }
