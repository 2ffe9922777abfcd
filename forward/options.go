package forward

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// Options configure a Forwarder. The zero value of each field means its
// default.
type Options struct {
	// Dir holds the queue: the shared log in Dir/log and one cursor per
	// destination in Dir/cursors. Required; the server uses <data>/forward.
	Dir string
	// Destinations are the remote-write receivers. At least one.
	Destinations []Destination
	// SegmentBytes is the size after which the log starts a new segment
	// file; a full queue drops whole segments. Default 16 MiB.
	SegmentBytes int64
	// MaxPendingSamples bounds the samples waiting for the next commit
	// group; Append blocks beyond it. Default 1,048,576.
	MaxPendingSamples int
	// SyncInterval is how often cursors are persisted, the size bounds
	// checked and delivered segments deleted. Default 1 s.
	SyncInterval time.Duration
	// UserAgent is sent with every request. Default "quantrac".
	UserAgent string
	// LogsPerMinute bounds the warnings about retries, rejections and
	// drops, per destination. Default 12.
	LogsPerMinute int
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Now is the clock, for tests. Default time.Now.
	Now func() time.Time
}

// Destination is one remote-write receiver: another Quantrac's
// /api/v1/write, VictoriaMetrics, Mimir, Thanos receive or Prometheus.
// The zero value of each optional field means its default.
type Destination struct {
	// Name identifies the destination's cursor and metrics; it must stay
	// the same across restarts for delivery to resume where it stopped.
	// Letters, digits, '-' and '_'. Default: derived from the URL's host
	// and port (DefaultName).
	Name string
	// URL is the receiver's remote-write endpoint, http or https.
	URL string
	// BearerTokenFile holds a token sent as "Authorization: Bearer". It is
	// read for every request, so a rotated token takes effect at once.
	BearerTokenFile string
	// BasicAuth, if set, is sent instead of a bearer token.
	BasicAuth *BasicAuth
	// TLS configures https connections.
	TLS TLSOptions
	// Headers are added to every request, for example X-Scope-OrgID for a
	// multi-tenant Mimir. They cannot replace the protocol's headers.
	Headers map[string]string
	// Match selects the series forwarded: a series goes if it matches any
	// selector (`{province=~"ha-noi|lao-cai"}`, `air_temperature_celsius`).
	// Empty: every series.
	Match []string
	// Labels are added to every series forwarded (region="north"). A label
	// the series already has is never replaced: province and gateway come
	// from the node that authenticated the gateway.
	Labels map[string]string
	// MaxQueueBytes bounds the undelivered records of this destination.
	// When the backlog grows past it, the oldest segments are dropped for
	// this destination, counted and logged. Default 1 GiB; at least twice
	// SegmentBytes.
	MaxQueueBytes int64
	// MaxSamplesPerSend is the largest batch of one request. Default 5000.
	MaxSamplesPerSend int
	// MinShards and MaxShards bound the parallel senders; more are used
	// while a backlog is being delivered. Defaults 1 and 8.
	MinShards, MaxShards int
	// Timeout bounds one request. Default 30 s.
	Timeout time.Duration
	// MinBackoff and MaxBackoff bound the wait before a retry, which
	// doubles from one attempt to the next, with jitter. Defaults 100 ms
	// and 10 s.
	MinBackoff, MaxBackoff time.Duration
}

// BasicAuth is HTTP basic authentication; the password is read from a file
// for every request.
type BasicAuth struct {
	Username     string
	PasswordFile string
}

// TLSOptions configure the client side of https.
type TLSOptions struct {
	CAFile   string // PEM roots to trust instead of the system's
	CertFile string // client certificate (PEM), with KeyFile
	KeyFile  string
	// ServerName overrides the name checked in the server's certificate.
	ServerName string
	// InsecureSkipVerify accepts any server certificate: for tests only.
	InsecureSkipVerify bool
}

func (o *Options) setDefaults() {
	if o.SegmentBytes <= 0 {
		o.SegmentBytes = 16 << 20
	}
	if o.MaxPendingSamples <= 0 {
		o.MaxPendingSamples = 1 << 20
	}
	if o.SyncInterval <= 0 {
		o.SyncInterval = time.Second
	}
	if o.UserAgent == "" {
		o.UserAgent = "quantrac"
	}
	if o.LogsPerMinute <= 0 {
		o.LogsPerMinute = 12
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	for i := range o.Destinations {
		o.Destinations[i].setDefaults()
	}
}

func (d *Destination) setDefaults() {
	if d.Name == "" {
		d.Name = DefaultName(d.URL)
	}
	if d.MaxQueueBytes <= 0 {
		d.MaxQueueBytes = 1 << 30
	}
	if d.MaxSamplesPerSend <= 0 {
		d.MaxSamplesPerSend = 5000
	}
	if d.MinShards <= 0 {
		d.MinShards = 1
	}
	if d.MaxShards <= 0 {
		d.MaxShards = max(8, d.MinShards)
	}
	if d.Timeout <= 0 {
		d.Timeout = 30 * time.Second
	}
	if d.MinBackoff <= 0 {
		d.MinBackoff = 100 * time.Millisecond
	}
	if d.MaxBackoff <= 0 {
		d.MaxBackoff = max(10*time.Second, d.MinBackoff)
	}
}

// DefaultName derives a destination name from its URL: the host and port
// with every other character than letters and digits turned into '-'.
func DefaultName(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return ""
	}
	return strings.Trim(badNameChars.ReplaceAllString(u.Host, "-"), "-")
}

var (
	badNameChars = regexp.MustCompile(`[^A-Za-z0-9]+`)
	nameRE       = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)
	labelNameRE  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// Validate reports whether the options can build a forwarder.
func (o *Options) Validate() error {
	if o.Dir == "" {
		return errors.New("forward: no queue directory")
	}
	if len(o.Destinations) == 0 {
		return errors.New("forward: no destination")
	}
	if o.SegmentBytes < 4096 {
		return fmt.Errorf("forward: segment size %d is below 4096 bytes", o.SegmentBytes)
	}
	seen := map[string]bool{}
	for i := range o.Destinations {
		d := &o.Destinations[i]
		if err := d.validate(o.SegmentBytes); err != nil {
			return fmt.Errorf("forward destination %q: %w", d.Name, err)
		}
		if seen[d.Name] {
			return fmt.Errorf("forward: two destinations are named %q", d.Name)
		}
		seen[d.Name] = true
	}
	return nil
}

func (d *Destination) validate(segmentBytes int64) error {
	u, err := url.Parse(d.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("URL %q is not an http or https URL", d.URL)
	}
	if !nameRE.MatchString(d.Name) {
		return fmt.Errorf("name %q: want letters, digits, '-' or '_', at most 64", d.Name)
	}
	if _, err := parseSelectors(d.Match); err != nil {
		return err
	}
	if _, err := externalLabels(d.Labels); err != nil {
		return err
	}
	if d.MaxQueueBytes < 2*segmentBytes {
		return fmt.Errorf("queue bound of %d bytes is below two segments (%d)", d.MaxQueueBytes, 2*segmentBytes)
	}
	if d.MaxShards < d.MinShards || d.MaxShards > 64 {
		return fmt.Errorf("shards %d..%d: want 1 <= min <= max <= 64", d.MinShards, d.MaxShards)
	}
	if d.MaxBackoff < d.MinBackoff {
		return fmt.Errorf("backoff %v..%v: the maximum is below the minimum", d.MinBackoff, d.MaxBackoff)
	}
	if d.BasicAuth != nil && d.BearerTokenFile != "" {
		return errors.New("both basic authentication and a bearer token are set")
	}
	if (d.TLS.CertFile == "") != (d.TLS.KeyFile == "") {
		return errors.New("a client certificate needs both a certificate and a key file")
	}
	for k := range d.Headers {
		switch strings.ToLower(k) {
		case "authorization", "content-type", "content-encoding", "x-prometheus-remote-write-version", "user-agent":
			return fmt.Errorf("header %q is set by the forwarder", k)
		}
	}
	return nil
}

// parseSelectors parses match[] series selectors.
func parseSelectors(match []string) ([][]*labels.Matcher, error) {
	p := parser.NewParser(parser.Options{})
	sels := make([][]*labels.Matcher, 0, len(match))
	for _, m := range match {
		ms, err := p.ParseMetricSelector(m)
		if err != nil {
			return nil, fmt.Errorf("cannot parse series selector %q: %w", m, err)
		}
		sels = append(sels, ms)
	}
	return sels, nil
}

// externalLabels validates the labels added on the way and returns them
// sorted by name.
func externalLabels(m map[string]string) (labels.Labels, error) {
	for k, v := range m {
		if !labelNameRE.MatchString(k) || strings.HasPrefix(k, "__") {
			return labels.EmptyLabels(), fmt.Errorf("added label name %q is not a valid, non-reserved label name", k)
		}
		if v == "" || !utf8.ValidString(v) {
			return labels.EmptyLabels(), fmt.Errorf("added label %s has an empty or invalid value", k)
		}
	}
	return labels.FromMap(m), nil
}
