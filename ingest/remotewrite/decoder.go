// Package remotewrite decodes Prometheus remote-write 1.0 requests (snappy-
// compressed protobuf WriteRequest) into the ingest Sink, so that another
// Quantrac node, a Prometheus server, vmagent or Grafana Alloy can write to a
// node over HTTP.
//
// Unlike the gateway formats this path allocates per series: the protobuf
// library decodes label strings into fresh memory. It carries relayed data in
// batches of thousands of samples from a few senders, not the per-reading
// traffic of thousands of gateways.
package remotewrite

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"unsafe"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"

	"github.com/quantrac/quantrac/ingest"
)

// formatName names the format in a PayloadError.
const formatName = "remote-write request"

// Default limits of one request.
const (
	// DefaultMaxBodyBytes bounds the decompressed request. Prometheus sends
	// at most a few hundred KiB; this leaves room for large batches.
	DefaultMaxBodyBytes = 64 << 20
	// DefaultMaxSamples bounds the samples of one request.
	DefaultMaxSamples = 500_000
)

// Options bound one request; zero fields take the defaults.
type Options struct {
	MaxBodyBytes int
	MaxSamples   int
}

// Decoder decodes requests, reusing its buffers. One request at a time.
type Decoder struct {
	opts Options
	raw  []byte
	req  prompb.WriteRequest
	tags []ingest.Tag
}

// New returns a decoder with the given limits.
func New(opts Options) *Decoder {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.MaxSamples <= 0 {
		opts.MaxSamples = DefaultMaxSamples
	}
	return &Decoder{opts: opts}
}

// Decode decompresses and decodes body and calls sink.Sample for every float
// sample. Native histograms are skipped with ReasonValue; a series without a
// metric name, with ReasonMetricName. A request that cannot be decompressed
// or decoded, or is over a limit, is refused whole with a *ingest.PayloadError
// before any Sink call.
func (d *Decoder) Decode(body []byte, sink ingest.Sink) error {
	n, err := snappy.DecodedLen(body)
	if err != nil {
		return &ingest.PayloadError{Format: formatName, Reason: ingest.ReasonSyntax, Err: fmt.Errorf("not snappy-compressed: %w", err)}
	}
	if n > d.opts.MaxBodyBytes {
		return &ingest.PayloadError{Format: formatName, Reason: ingest.ReasonTooLarge, Err: fmt.Errorf("decompressed size %d is over the %d-byte limit", n, d.opts.MaxBodyBytes)}
	}
	if cap(d.raw) < n {
		d.raw = make([]byte, n)
	}
	raw, err := snappy.Decode(d.raw[:cap(d.raw)], body)
	if err != nil {
		return &ingest.PayloadError{Format: formatName, Reason: ingest.ReasonSyntax, Err: fmt.Errorf("bad snappy block: %w", err)}
	}
	d.req.Timeseries = d.req.Timeseries[:0]
	d.req.Metadata = d.req.Metadata[:0]
	if err := d.req.Unmarshal(raw); err != nil {
		return &ingest.PayloadError{Format: formatName, Reason: ingest.ReasonSyntax, Err: fmt.Errorf("bad protobuf: %w", err)}
	}
	total := 0
	for i := range d.req.Timeseries {
		total += len(d.req.Timeseries[i].Samples) + len(d.req.Timeseries[i].Histograms)
	}
	if total > d.opts.MaxSamples {
		return &ingest.PayloadError{Format: formatName, Reason: ingest.ReasonTooManyReadings, Err: fmt.Errorf("%d samples, over the limit of %d", total, d.opts.MaxSamples)}
	}
	for i := range d.req.Timeseries {
		d.series(i, &d.req.Timeseries[i], sink)
	}
	return nil
}

var errNoName = errors.New("series has no __name__ label")

func (d *Decoder) series(i int, ts *prompb.TimeSeries, sink ingest.Sink) {
	var name []byte
	d.tags = d.tags[:0]
	for _, l := range ts.Labels {
		if l.Name == "__name__" {
			name = bytesOf(l.Value)
			continue
		}
		d.tags = append(d.tags, ingest.Tag{Key: bytesOf(l.Name), Value: bytesOf(l.Value)})
	}
	if len(name) == 0 {
		sink.Invalid(ingest.ReasonMetricName, fmt.Errorf("series %d: %w", i, errNoName))
		return
	}
	if bytes.IndexByte(name, 0) >= 0 {
		// The Sink contract: a metric name never holds a NUL byte (the
		// pipeline's series keys separate their parts with them).
		sink.Invalid(ingest.ReasonMetricName, fmt.Errorf("series %d: metric name %q has a NUL byte", i, name))
		return
	}
	sink.Tags(d.tags)
	for _, s := range ts.Samples {
		if math.IsInf(s.Value, 0) {
			sink.Invalid(ingest.ReasonValue, fmt.Errorf("series %d (%s): infinite value", i, name))
			continue
		}
		sink.Sample(name, s.Timestamp, s.Value)
	}
	if n := len(ts.Histograms); n > 0 {
		sink.Invalid(ingest.ReasonValue, fmt.Errorf("series %d (%s): %d native histogram samples are not stored", i, name, n))
	}
}

// bytesOf returns s's bytes without copying. The Sink contract makes the
// slice read-only and valid only during the call, and the request (whose
// strings these are) outlives every call.
func bytesOf(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}
