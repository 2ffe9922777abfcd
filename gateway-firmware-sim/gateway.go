package gwsim

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/quantrac/quantrac/gateway-firmware-sim/queue"
	"github.com/quantrac/quantrac/gateway-firmware-sim/sensor"
	"github.com/quantrac/quantrac/gateway-firmware-sim/wire"
)

// gateway is one simulated gateway: its devices (site), its queue and its
// counters. The generator and publisher goroutines of run share it.
type gateway struct {
	sim         *Simulator
	site        *sensor.Site
	id          string
	slug        string
	key         uint64 // fault decisions
	dataTopic   string
	errorsTopic string
	log         *slog.Logger
	c           counters

	// sp encodes Sparkplug messages; nil for the other formats. It is used
	// by the publisher goroutine only.
	sp *wire.SparkplugEncoder

	// Set by open, used by run.
	q        *queue.Queue
	seq      *seqAlloc
	tlsCfg   *tls.Config
	username string
	password string

	lastWarn atomic.Int64 // Unix ns of the last rate-limited warning
}

func newGateway(s *Simulator, site *sensor.Site) *gateway {
	slug := site.Province().Slug
	g := &gateway{
		sim:         s,
		site:        site,
		id:          site.Gateway(),
		slug:        slug,
		dataTopic:   wire.Topic(s.opts.Format, slug, site.Gateway()),
		errorsTopic: wire.ErrorsTopic(slug, site.Gateway()),
		log:         s.opts.Logger.With("gateway", site.Gateway()),
	}
	g.key = mix(s.opts.Seed ^ mix(uint64(len(g.id))) ^ fnv(g.id))
	if s.opts.Format == wire.Sparkplug {
		kinds := make([]sensor.Kind, site.Devices())
		numbers := make([]uint16, site.Devices())
		for i := range kinds {
			kinds[i], numbers[i] = site.Device(i)
		}
		g.sp = wire.NewSparkplugEncoder(slug, g.id, kinds, numbers)
	}
	return g
}

// expand substitutes {gateway} and {province} in a template.
func (g *gateway) expand(tmpl string) string {
	return strings.NewReplacer("{gateway}", g.id, "{province}", g.slug).Replace(tmpl)
}

// open opens the gateway's queue and sequence counter and loads its TLS
// material.
func (g *gateway) open() error {
	o := &g.sim.opts
	dir := filepath.Join(o.QueueDir, g.id)
	q, err := queue.Open(queue.Options{Dir: dir, MaxBytes: o.QueueBytes,
		SegmentBytes: o.QueueSegmentBytes, NoSync: o.QueueNoSync, Logger: g.log})
	if err != nil {
		return fmt.Errorf("gateway %s: %w", g.id, err)
	}
	seq, err := openSeq(filepath.Join(dir, "seq"))
	if err != nil {
		q.Close()
		return fmt.Errorf("gateway %s: %w", g.id, err)
	}
	u, _ := url.Parse(o.Broker) // checked by Validate
	if tlsScheme(u.Scheme) {
		if g.tlsCfg, err = g.loadTLS(u.Hostname()); err != nil {
			seq.close()
			q.Close()
			return fmt.Errorf("gateway %s: %w", g.id, err)
		}
	}
	if o.Username != "" {
		g.username, g.password = g.expand(o.Username), g.expand(o.Password)
	}
	if o.PasswordFile != "" {
		if g.password, err = readPassword(g.expand(o.PasswordFile)); err != nil {
			seq.close()
			q.Close()
			return fmt.Errorf("gateway %s: %w", g.id, err)
		}
	}
	g.q, g.seq = q, seq
	st := q.Stats()
	g.c.backlog.Store(st.Weight)
	g.c.backlogBatches.Store(st.Records)
	if st.Records > 0 {
		g.log.Info("resuming backlog from queue", "batches", st.Records, "readings", st.Weight)
	}
	return nil
}

func (g *gateway) loadTLS(host string) (*tls.Config, error) {
	t := &g.sim.opts.TLS
	cfg := &tls.Config{ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify, MinVersion: tls.VersionTLS12}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(g.expand(t.CAFile))
		if err != nil {
			return nil, fmt.Errorf("cannot read CA file: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, errors.New("cannot load CA file: no PEM certificates in it")
		}
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(g.expand(t.CertFile), g.expand(t.KeyFile))
		if err != nil {
			return nil, fmt.Errorf("cannot load client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// readPassword returns the first line of a password file.
func readPassword(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("cannot read password file: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	line = strings.TrimSuffix(line, "\r")
	if line == "" {
		return "", fmt.Errorf("cannot read password file %s: its first line is empty", path)
	}
	return line, nil
}

// simNow is the gateway's simulated clock (Unix ms): the start of the slot
// it last sampled, or the run's start before the first.
func (g *gateway) simNow() int64 {
	if t := g.c.simTime.Load(); t != 0 {
		return t
	}
	return g.site.SlotTime(g.site.FirstSlot(newClockStart(g.sim.opts)))
}

// close releases what open acquired, for a Run that failed to start.
func (g *gateway) close() {
	g.seq.close()
	g.q.Close()
}

// warn logs at most one warning per gateway every 10 seconds: it guards the
// per-message paths (queue write errors, refusals).
func (g *gateway) warn(msg string, args ...any) {
	now := time.Now().UnixNano()
	last := g.lastWarn.Load()
	if now-last < int64(10*time.Second) || !g.lastWarn.CompareAndSwap(last, now) {
		return
	}
	g.log.Warn(msg, args...)
}

// mix is the splitmix64 finaliser, for fault decisions drawn from the seed.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

func fnv(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * 1099511628211
	}
	return h
}

// Fault decision streams.
const (
	streamDuplicate uint64 = iota + 1
	streamMalformed
	streamVariant
	streamFlap
)

// chance draws a fault decision for batch seq: true with probability rate.
func (g *gateway) chance(stream, seq uint64, rate float64) bool {
	if rate <= 0 {
		return false
	}
	h := mix(g.key ^ mix(stream<<56^seq))
	return float64(h>>11)*0x1p-53 < rate
}
