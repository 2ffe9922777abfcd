// Package server assembles one Quantrac node: the store, the ingest
// pipeline, the MQTT broker and the HTTP API, started in dependency order and
// stopped in reverse. cmd/quantrac parses flags into Options; tests start the
// same server in-process.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/quantrac/quantrac/access"
	"github.com/quantrac/quantrac/api"
	"github.com/quantrac/quantrac/broker"
	"github.com/quantrac/quantrac/forward"
	"github.com/quantrac/quantrac/ingest/httpingest"
	"github.com/quantrac/quantrac/ingest/pipeline"
	"github.com/quantrac/quantrac/tsdb"
)

// Options configure a node. The zero value of each field means its default.
type Options struct {
	// DataDir holds the store. Default ./data.
	DataDir string
	// Retention is how long the store keeps samples; whole days older than
	// it are dropped. Zero keeps everything.
	Retention time.Duration
	// MQTTAddr is the plain MQTT listener. Default 127.0.0.1:1883.
	MQTTAddr string
	// HTTPAddr serves the query API, /metrics and /healthz. Default
	// 127.0.0.1:9490.
	HTTPAddr string
	// AllowAnonymous is the development mode: any MQTT client may connect
	// and publish to any well-formed topic.
	AllowAnonymous bool
	// MQTT holds the broker's other listeners, TLS files, gateways file and
	// limits (broker.Settings); zero fields take the broker's defaults.
	MQTT broker.Settings
	// ShutdownTimeout bounds Close. Default 10 s.
	ShutdownTimeout time.Duration
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Version is reported by the build info endpoint and /metrics.
	Version string
	// TokensFile holds the readers' tokens (quantrac token add). Default
	// <DataDir>/tokens.json, created empty when missing: then only the
	// development mode can read until a token is added and the node reloads.
	TokensFile string
	// AuditLog is the file every query, series lookup and export is
	// recorded in, as JSON lines. Default <DataDir>/audit.log.
	AuditLog string
	// Forward, when it names destinations, forwards every committed sample
	// by remote write (package forward). Its Dir defaults to
	// <DataDir>/forward and its Logger to Logger. No destinations: off.
	Forward forward.Options
}

// Default addresses, loopback only: exposing a node is a decision.
const (
	DefaultMQTTAddr = "127.0.0.1:1883"
	DefaultHTTPAddr = "127.0.0.1:9490"
)

func (o *Options) setDefaults() {
	if o.DataDir == "" {
		o.DataDir = "data"
	}
	if o.MQTTAddr == "" {
		o.MQTTAddr = DefaultMQTTAddr
	}
	if o.HTTPAddr == "" {
		o.HTTPAddr = DefaultHTTPAddr
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	if o.TokensFile == "" {
		o.TokensFile = filepath.Join(o.DataDir, "tokens.json")
	}
	if o.AuditLog == "" {
		o.AuditLog = filepath.Join(o.DataDir, "audit.log")
	}
	if o.Forward.Dir == "" {
		o.Forward.Dir = filepath.Join(o.DataDir, "forward")
	}
	if o.Forward.Logger == nil {
		o.Forward.Logger = o.Logger
	}
}

// Server is a running node.
type Server struct {
	opts     Options
	log      *slog.Logger
	db       *tsdb.DB
	pipeline *pipeline.Pipeline
	forward  *forward.Forwarder // nil when not forwarding
	broker   *broker.Broker
	http     *http.Server
	httpLn   net.Listener
	httpDone chan error
	tokens   *access.Authenticator
	audit    *os.File

	closeOnce sync.Once
	closeErr  error
}

// Start opens the store and starts serving. On error, whatever had started
// is stopped again.
func Start(opts Options) (_ *Server, err error) {
	opts.setDefaults()
	s := &Server{opts: opts, log: opts.Logger}
	defer func() {
		if err != nil {
			s.closeAll(context.Background())
		}
	}()

	s.db, err = tsdb.Open(tsdb.Options{Dir: opts.DataDir, Retention: opts.Retention, Logger: opts.Logger.With("component", "tsdb")})
	if err != nil {
		return nil, fmt.Errorf("cannot open store: %w", err)
	}
	po := pipeline.Options{Store: s.db, Logger: opts.Logger.With("component", "ingest")}
	if len(opts.Forward.Destinations) > 0 {
		if s.forward, err = forward.Open(opts.Forward); err != nil {
			return nil, fmt.Errorf("cannot start forwarding: %w", err)
		}
		po.Forwarder = s.forward
	}
	s.pipeline, err = pipeline.New(po)
	if err != nil {
		return nil, fmt.Errorf("cannot create ingest pipeline: %w", err)
	}
	// An empty tokens file is created if there is none, so that tokens
	// added later take effect on a reload, without a restart.
	if _, err := os.Stat(opts.TokensFile); errors.Is(err, os.ErrNotExist) {
		if err := access.SaveTokens(opts.TokensFile, nil); err != nil {
			return nil, fmt.Errorf("cannot create empty tokens file: %w", err)
		}
	}
	if s.tokens, err = access.NewAuthenticator(opts.TokensFile, opts.Logger.With("component", "access")); err != nil {
		return nil, fmt.Errorf("cannot load tokens: %w", err)
	}
	if s.audit, err = access.OpenAuditFile(opts.AuditLog); err != nil {
		return nil, err
	}
	q, err := api.New(api.Options{Queryable: s.db, Logger: opts.Logger,
		Tokens: s.tokens, Audit: access.NewAuditLog(s.audit),
		AllowAnonymous: opts.AllowAnonymous, Version: opts.Version})
	if err != nil {
		return nil, fmt.Errorf("cannot create query API: %w", err)
	}
	writes, err := httpingest.New(httpingest.Options{Pipeline: s.pipeline, Tokens: s.tokens,
		AllowAnonymous: opts.AllowAnonymous, Logger: opts.Logger.With("component", "httpingest")})
	if err != nil {
		return nil, fmt.Errorf("cannot create HTTP ingest: %w", err)
	}
	mux := http.NewServeMux()
	q.Register(mux)
	writes.Register(mux)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.Handle("/metrics", s.metricsHandler())

	s.broker, err = broker.Start(broker.Options{
		Settings:       opts.MQTT,
		TCPAddr:        opts.MQTTAddr,
		StateDir:       filepath.Join(opts.DataDir, "mqtt"),
		Pipeline:       s.pipeline,
		AllowAnonymous: opts.AllowAnonymous,
		Logger:         opts.Logger.With("component", "broker"),
	})
	if err != nil {
		return nil, fmt.Errorf("cannot start MQTT broker: %w", err)
	}

	s.httpLn, err = net.Listen("tcp", opts.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("cannot listen for HTTP on %s: %w", opts.HTTPAddr, err)
	}
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	s.httpDone = make(chan error, 1)
	go func() { s.httpDone <- s.http.Serve(s.httpLn) }()
	s.log.Info("listening", "listener", "http", "addr", s.HTTPAddr())
	return s, nil
}

// MQTTAddr returns the bound MQTT address.
func (s *Server) MQTTAddr() string { return s.broker.TCPAddr() }

// MQTTTLSAddr returns the bound MQTT-over-TLS address, or "" when it is off.
func (s *Server) MQTTTLSAddr() string { return s.broker.TLSAddr() }

// MQTTWSAddr returns the bound MQTT-over-WebSocket address, or "" when it is
// off.
func (s *Server) MQTTWSAddr() string { return s.broker.WSAddr() }

// HTTPAddr returns the bound HTTP address.
func (s *Server) HTTPAddr() string { return s.httpLn.Addr().String() }

// DB returns the node's store.
func (s *Server) DB() *tsdb.DB { return s.db }

// Forwarder returns the node's forwarding, or nil when it has no
// destinations.
func (s *Server) Forwarder() *forward.Forwarder { return s.forward }

// Reload rereads the files an operator edits while the node runs: the
// readers' tokens, the MQTT gateways file and the MQTT TLS files. A file
// that fails to load leaves the previous contents in force.
func (s *Server) Reload() error {
	var errs []error
	if err := s.tokens.Reload(); err != nil {
		errs = append(errs, fmt.Errorf("cannot reload tokens: %w", err))
	}
	if err := s.broker.Reload(); err != nil {
		errs = append(errs, fmt.Errorf("cannot reload MQTT gateways or TLS files: %w", err))
	}
	return errors.Join(errs...)
}

// Close stops the node: it stops accepting MQTT and HTTP traffic, lets
// requests in flight finish, commits what is queued and closes the store,
// all within ShutdownTimeout.
//
// Close may be called more than once, from more than one goroutine: the
// first call stops the server and every call returns its error.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout)
		defer cancel()
		s.closeErr = s.closeAll(ctx)
	})
	return s.closeErr
}

func (s *Server) closeAll(ctx context.Context) error {
	var errs []error
	if s.broker != nil {
		if err := s.broker.Close(); err != nil {
			errs = append(errs, fmt.Errorf("cannot close MQTT broker: %w", err))
		}
	}
	if s.http != nil {
		if err := s.http.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("cannot shut HTTP down: %w", err))
		}
		if err := <-s.httpDone; err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, fmt.Errorf("HTTP server failed: %w", err))
		}
	}
	if s.forward != nil { // after every writer has stopped
		if err := s.forward.Close(); err != nil {
			errs = append(errs, fmt.Errorf("cannot close forward queue: %w", err))
		}
	}
	if s.db != nil {
		if err := s.db.Close(); err != nil {
			errs = append(errs, fmt.Errorf("cannot close store: %w", err))
		}
	}
	if s.audit != nil {
		if err := s.audit.Close(); err != nil {
			errs = append(errs, fmt.Errorf("cannot close audit log: %w", err))
		}
	}
	s.log.Info("stopped")
	return errors.Join(errs...)
}
