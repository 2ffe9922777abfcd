package forward

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config is the content of a forwarding configuration file (quantrac serve
// --forward-config), for destinations that need more than the command
// line's flags say: several destinations, each with its own credentials,
// TLS, selectors and labels. The file is JSON; docs/deployment.md has an
// example.
type Config struct {
	// SegmentBytes sets Options.SegmentBytes; 0 keeps the default.
	SegmentBytes int64
	Destinations []Destination
}

type configFile struct {
	SegmentBytes *size             `json:"segment_bytes"`
	Destinations []destinationFile `json:"destinations"`
}

type destinationFile struct {
	Name            string            `json:"name"`
	URL             string            `json:"url"`
	BearerTokenFile string            `json:"bearer_token_file"`
	BasicAuth       *basicAuthFile    `json:"basic_auth"`
	TLS             tlsFile           `json:"tls"`
	Headers         map[string]string `json:"headers"`
	Match           []string          `json:"match"`
	Labels          map[string]string `json:"labels"`
	MaxQueueBytes   *size             `json:"max_queue_bytes"`
	MaxSamples      int               `json:"max_samples_per_send"`
	MinShards       int               `json:"min_shards"`
	MaxShards       int               `json:"max_shards"`
	Timeout         duration          `json:"timeout"`
	MinBackoff      duration          `json:"min_backoff"`
	MaxBackoff      duration          `json:"max_backoff"`
}

type basicAuthFile struct {
	Username     string `json:"username"`
	PasswordFile string `json:"password_file"`
}

type tlsFile struct {
	CAFile             string `json:"ca_file"`
	CertFile           string `json:"cert_file"`
	KeyFile            string `json:"key_file"`
	ServerName         string `json:"server_name"`
	InsecureSkipVerify bool   `json:"insecure_skip_verify"`
}

// LoadConfig reads a forwarding configuration file. Unknown keys are an
// error, so that a misspelt option is not silently ignored.
func LoadConfig(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("cannot read forward config: %w", err)
	}
	cfg, err := ParseConfig(b)
	if err != nil {
		return Config{}, fmt.Errorf("cannot load forward config %s: %w", path, err)
	}
	return cfg, nil
}

// ParseConfig parses the content of a forwarding configuration file.
func ParseConfig(b []byte) (Config, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f configFile
	if err := dec.Decode(&f); err != nil {
		return Config{}, err
	}
	if dec.More() {
		return Config{}, errors.New("trailing data after the JSON object")
	}
	var cfg Config
	if f.SegmentBytes != nil {
		cfg.SegmentBytes = int64(*f.SegmentBytes)
	}
	for _, d := range f.Destinations {
		dst := Destination{Name: d.Name, URL: d.URL, BearerTokenFile: d.BearerTokenFile,
			TLS: TLSOptions(d.TLS), Headers: d.Headers, Match: d.Match, Labels: d.Labels,
			MaxSamplesPerSend: d.MaxSamples, MinShards: d.MinShards, MaxShards: d.MaxShards,
			Timeout: time.Duration(d.Timeout), MinBackoff: time.Duration(d.MinBackoff),
			MaxBackoff: time.Duration(d.MaxBackoff)}
		if d.BasicAuth != nil {
			dst.BasicAuth = &BasicAuth{Username: d.BasicAuth.Username, PasswordFile: d.BasicAuth.PasswordFile}
		}
		if d.MaxQueueBytes != nil {
			dst.MaxQueueBytes = int64(*d.MaxQueueBytes)
		}
		if dst.URL == "" {
			return Config{}, fmt.Errorf("destination %d has no url", len(cfg.Destinations)+1)
		}
		cfg.Destinations = append(cfg.Destinations, dst)
	}
	return cfg, nil
}

// ParseURL parses the command line's form of a destination, "URL" or
// "NAME=URL", into its name (empty when not given) and URL.
func ParseURL(v string) (name, rawURL string) {
	if i := strings.IndexByte(v, '='); i > 0 && !strings.ContainsAny(v[:i], ":/?") {
		return v[:i], v[i+1:]
	}
	return "", v
}

// ParseSize parses a byte size: a number with an optional suffix KiB, MiB,
// GiB, TiB (or KB, MB, GB, TB in powers of 1000).
func ParseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(num), u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n < 0 || n*float64(mult) > 1<<62 {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	return int64(n * float64(mult)), nil
}

// size is a byte size in JSON: a number, or a string ParseSize reads.
type size int64

func (s *size) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch v := v.(type) {
	case float64:
		*s = size(v)
		return nil
	case string:
		n, err := ParseSize(v)
		*s = size(n)
		return err
	}
	return fmt.Errorf("invalid size %s", b)
}

// duration is a duration in JSON, as Go writes it ("30s", "100ms").
type duration time.Duration

func (d *duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("invalid duration %s: want a string like \"30s\"", b)
	}
	v, err := time.ParseDuration(s)
	*d = duration(v)
	return err
}
