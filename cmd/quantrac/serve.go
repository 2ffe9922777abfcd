package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/quantrac/quantrac/server"
)

func runServe(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var (
		opts      server.Options
		logLevel  = fs.String("log-level", "info", "log level: debug, info, warn or error")
		logFormat = fs.String("log-format", "text", "log format: text or json")
		cpuprof   = fs.String("cpuprofile", "", "write a CPU profile of the node, from start to clean shutdown, to this file (for pprof)")
	)
	fs.StringVar(&opts.DataDir, "data", "./data", "data directory")
	fs.DurationVar(&opts.Retention, "retention", 0, "how long to keep samples, e.g. 2160h; whole days older are dropped (0 keeps everything)")
	fs.StringVar(&opts.MQTTAddr, "mqtt-addr", server.DefaultMQTTAddr, "MQTT TCP listener address")
	fs.StringVar(&opts.HTTPAddr, "http-addr", server.DefaultHTTPAddr, "HTTP listener address (query API, /metrics, /healthz)")
	fs.BoolVar(&opts.AllowAnonymous, "insecure-allow-anonymous", false,
		"development mode: admit anonymous MQTT clients and take the gateway identity from the topic")
	fs.DurationVar(&opts.ShutdownTimeout, "shutdown-timeout", 10*time.Second, "how long a clean shutdown may take")
	fs.StringVar(&opts.TokensFile, "tokens", "", "readers' tokens file (default <data>/tokens.json)")
	fs.StringVar(&opts.AuditLog, "audit-log", "", "audit log of every read, JSON lines (default <data>/audit.log)")
	finishMQTT := mqttFlags(fs, &opts.MQTT)
	finishForward := forwardFlags(fs, &opts.Forward)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := finishMQTT(); err != nil {
		return err
	}
	if err := finishForward(); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	logger, err := newLogger(*logLevel, *logFormat)
	if err != nil {
		return err
	}
	opts.Logger = logger
	opts.Version = version
	if *cpuprof != "" {
		stop, err := startCPUProfile(*cpuprof)
		if err != nil {
			return err
		}
		defer stop()
	}

	// Signals are caught before the listeners open: a SIGINT sent as soon
	// as the node is seen listening must shut it down cleanly, not kill it.
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	srv, err := server.Start(opts)
	if err != nil {
		return err
	}
	s := <-sig
	for s == syscall.SIGHUP {
		if err := srv.Reload(); err != nil {
			logger.Error("reload failed; the previous configuration stays in force", "err", err)
		} else {
			logger.Info("reloaded")
		}
		s = <-sig
	}
	logger.Info("shutting down", "signal", s.String())
	go func() {
		<-sig
		logger.Error("second signal; exiting without a clean shutdown")
		os.Exit(1)
	}()
	return srv.Close()
}

// startCPUProfile profiles the process into path until the returned
// function is called.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cannot create CPU profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cannot start CPU profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

func newLogger(level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("invalid --log-level %q: %w", level, err)
	}
	ho := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, ho)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, ho)), nil
	}
	return nil, fmt.Errorf("invalid --log-format %q: want text or json", format)
}
