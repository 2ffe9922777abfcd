// Package pipeline is the ingest hot path: it runs a payload's decoder,
// resolves every reading to a series from the authenticated identity, checks
// the limits, and hands the columnar batch to the store, waiting for the
// commit when the caller must acknowledge durably.
//
// Nothing here allocates per reading in steady state: per-message state
// (decoder, batch, scratch key) comes from a pool, and a known series is found
// by hashing its label bytes into a sharded cache. A new series allocates its
// labels once.
package pipeline

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/quantrac/quantrac/tsdb"
)

// Store is what the pipeline needs of the store; *tsdb.DB implements it.
type Store interface {
	GetOrCreate(labels.Labels) (tsdb.SeriesRef, error)
	Append(*tsdb.Batch) (*tsdb.Commit, error)
}

// Forwarder takes every batch the pipeline commits, for delivery to another
// store (remote write to the national tier). Its queue is part of the
// acknowledgement: Ingest appends to the store and to the forwarder, and
// waits for both, so an acknowledged reading is durable locally and queued
// for forwarding, whatever crashes afterwards.
type Forwarder interface {
	// Append queues the samples; lsets[i] are sample i's labels. It must
	// copy what it keeps. The returned Waiter reports when they are durable
	// in the forwarder's queue.
	Append(lsets []labels.Labels, ts []int64, vals []float64) (Waiter, error)
}

// Waiter is a pending durable append; *tsdb.Commit is one.
type Waiter interface {
	Wait() error
}

// Limits bound what one message may carry. They are part of the contract with
// gateways and documented in docs/ingest.md.
type Limits struct {
	// MaxLabels is the most labels a series may have, the platform's
	// province, gateway and __name__ included. Default 16.
	MaxLabels int
	// MaxLabelValueLen is the longest label value in bytes. Default 128.
	MaxLabelValueLen int
	// MaxPast is how far behind the server's clock a timestamp may be.
	// Default 366 days: a gateway may replay a long backlog.
	MaxPast time.Duration
	// MaxFuture is how far ahead of the server's clock a timestamp may be.
	// Default 10 minutes, for gateway clock skew.
	MaxFuture time.Duration
}

// Options configure a Pipeline.
type Options struct {
	Store  Store            // required
	Logger *slog.Logger     // default slog.Default()
	Limits Limits           // zero fields take their defaults
	Now    func() time.Time // clock, for tests; default time.Now
	// LogsPerSecond bounds the warnings about refused input. Default 10.
	LogsPerSecond int
	// Forwarder, if set, receives every committed batch. Nil: none.
	Forwarder Forwarder
}

func (o *Options) setDefaults() {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.LogsPerSecond <= 0 {
		o.LogsPerSecond = 10
	}
	l := &o.Limits
	if l.MaxLabels <= 0 {
		l.MaxLabels = 16
	}
	if l.MaxLabelValueLen <= 0 {
		l.MaxLabelValueLen = 128
	}
	if l.MaxPast <= 0 {
		l.MaxPast = 366 * 24 * time.Hour
	}
	if l.MaxFuture <= 0 {
		l.MaxFuture = 10 * time.Minute
	}
}

// Validate reports whether the options can build a pipeline.
func (o *Options) Validate() error {
	if o.Store == nil {
		return errors.New("pipeline: no store")
	}
	if o.Limits.MaxLabels < 4 {
		return fmt.Errorf("pipeline: MaxLabels %d leaves no room for a device label", o.Limits.MaxLabels)
	}
	return nil
}
