// Package api serves the Prometheus HTTP API over the store, so that Grafana's
// Prometheus data source, promtool and curl work against Quantrac unchanged.
// PromQL is evaluated by the Prometheus engine itself over the store's
// storage.Queryable.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"

	"github.com/quantrac/quantrac/access"
)

// Options configure the API.
type Options struct {
	// Queryable is the store. Required.
	Queryable storage.Queryable
	// Logger; default slog.Default().
	Logger *slog.Logger
	// MaxSamples bounds the samples one query may hold in memory.
	// Default 50 million, as in Prometheus.
	MaxSamples int
	// Timeout bounds one query's evaluation. Default 2 minutes.
	Timeout time.Duration
	// LookbackDelta is how far back an instant selector looks. Default 5m.
	LookbackDelta time.Duration
	// MaxSeries bounds the series one /api/v1/series or export selection
	// may return. Default 1 million.
	MaxSeries int
	// Tokens authenticates readers. Every read runs restricted to the
	// provinces of the reader's token.
	Tokens *access.Authenticator
	// AllowAnonymous lets a request without a token read everything: the
	// development mode. Without it and without Tokens nothing can be read.
	AllowAnonymous bool
	// Audit records every query, series lookup and export. Nil: none.
	Audit *access.AuditLog
	// Version is reported by /api/v1/status/buildinfo.
	Version string
}

func (o *Options) setDefaults() {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxSamples <= 0 {
		o.MaxSamples = 50_000_000
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Minute
	}
	if o.LookbackDelta <= 0 {
		o.LookbackDelta = 5 * time.Minute
	}
	if o.MaxSeries <= 0 {
		o.MaxSeries = 1_000_000
	}
	if o.Version == "" {
		o.Version = "dev"
	}
}

// API is the Prometheus-compatible HTTP API.
type API struct {
	opts   Options
	log    *slog.Logger
	engine *promql.Engine
}

// New returns the API over opts.Queryable.
func New(opts Options) (*API, error) {
	opts.setDefaults()
	if opts.Queryable == nil {
		return nil, errors.New("api: no queryable")
	}
	eng := promql.NewEngine(promql.EngineOpts{
		Logger:               opts.Logger.With("component", "promql"),
		MaxSamples:           opts.MaxSamples,
		Timeout:              opts.Timeout,
		LookbackDelta:        opts.LookbackDelta,
		EnableAtModifier:     true,
		EnableNegativeOffset: true,
	})
	return &API{opts: opts, log: opts.Logger, engine: eng}, nil
}

// Register adds the API's routes to mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.HandleFunc("/api/v1/query", a.query)
	mux.HandleFunc("/api/v1/query_range", a.queryRange)
	mux.HandleFunc("/api/v1/series", a.series)
	mux.HandleFunc("/api/v1/labels", a.labelNames)
	mux.HandleFunc("/api/v1/label/{name}/values", a.labelValues)
	mux.HandleFunc("/api/v1/metadata", a.metadata)
	mux.HandleFunc("/api/v1/status/buildinfo", a.buildInfo)
	mux.HandleFunc("/api/v1/query_exemplars", a.exemplars)
	mux.HandleFunc("/api/v1/rules", a.rules)
	mux.HandleFunc("/api/v1/export", a.export)
}

// Error types of the Prometheus API, and the status each one is sent with.
type errorType string

const (
	errorBadData   errorType = "bad_data"
	errorExec      errorType = "execution"
	errorTimeout   errorType = "timeout"
	errorCanceled  errorType = "canceled"
	errorInternal  errorType = "internal"
	errorNotFound  errorType = "not_found"
	errorForbidden errorType = "forbidden"
	errorUnauth    errorType = "unauthorized"
	errorTooLarge  errorType = "too_large"
)

func (t errorType) status() int {
	switch t {
	case errorBadData:
		return http.StatusBadRequest
	case errorExec:
		return http.StatusUnprocessableEntity
	case errorTimeout:
		return http.StatusServiceUnavailable
	case errorCanceled:
		return 499
	case errorNotFound:
		return http.StatusNotFound
	case errorForbidden:
		return http.StatusForbidden
	case errorUnauth:
		return http.StatusUnauthorized
	case errorTooLarge:
		return http.StatusUnprocessableEntity
	}
	return http.StatusInternalServerError
}

type response struct {
	Status    string    `json:"status"`
	Data      any       `json:"data,omitempty"`
	ErrorType errorType `json:"errorType,omitempty"`
	Error     string    `json:"error,omitempty"`
	Warnings  []string  `json:"warnings,omitempty"`
	Infos     []string  `json:"infos,omitempty"`
}

func (a *API) respond(w http.ResponseWriter, data any, warnings, infos []string) {
	a.write(w, http.StatusOK, response{Status: "success", Data: data, Warnings: warnings, Infos: infos})
}

func (a *API) fail(w http.ResponseWriter, t errorType, err error) {
	if t == errorUnauth {
		w.Header().Set("WWW-Authenticate", `Bearer realm="quantrac"`)
	}
	a.write(w, t.status(), response{Status: "error", ErrorType: t, Error: err.Error()})
}

func (a *API) write(w http.ResponseWriter, status int, r response) {
	b, err := json.Marshal(r)
	if err != nil {
		a.log.Error("cannot encode API response", "err", err)
		http.Error(w, `{"status":"error","errorType":"internal","error":"cannot encode response"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// classify maps a query error to the Prometheus API's error type.
func classify(err error) errorType {
	var (
		eqc promql.ErrQueryCanceled
		eqt promql.ErrQueryTimeout
		es  promql.ErrStorage
	)
	switch {
	case errors.As(err, &eqc), errors.Is(err, context.Canceled):
		return errorCanceled
	case errors.As(err, &eqt), errors.Is(err, context.DeadlineExceeded):
		return errorTimeout
	case errors.As(err, &es):
		return errorInternal
	}
	return errorExec
}
