// Command gwsim simulates provincial IoT gateways publishing sensor readings
// to a Quantrac node over MQTT, with store-and-forward through outages. Its
// engine is package gwsim in gateway-firmware-sim/; this file only parses
// flags and draws the live status line.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	gwsim "github.com/quantrac/quantrac/gateway-firmware-sim"
	"github.com/quantrac/quantrac/gateway-firmware-sim/wire"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "gwsim:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	o := gwsim.DefaultOptions()
	fs := flag.NewFlagSet("gwsim", flag.ContinueOnError)
	fs.StringVar(&o.Broker, "broker", o.Broker, "broker URL: tcp://host:port, or ssl://host:port for TLS")
	provinces := fs.String("provinces", "all", `province slugs, comma-separated, or "all" for the 34`)
	fs.IntVar(&o.GatewaysPerProvince, "gateways", o.GatewaysPerProvince, "gateways per province")
	fs.IntVar(&o.DevicesPerGateway, "devices", o.DevicesPerGateway, "devices per gateway")
	fs.DurationVar(&o.SampleInterval, "interval", o.SampleInterval, "how often every device samples")
	fs.IntVar(&o.BatchSize, "batch-size", o.BatchSize, "readings per message at most")
	fs.DurationVar(&o.BatchAge, "batch-age", o.BatchAge, "send a batch once its oldest reading is this old")
	format := fs.String("format", o.Format.String(), "payload format: json, lp or sparkplug")
	qos := fs.Int("qos", int(o.QoS), "MQTT QoS of data messages: 0 or 1")
	fs.IntVar(&o.Inflight, "inflight", o.Inflight, "unacknowledged publishes per gateway at most")
	fs.DurationVar(&o.Duration, "duration", 0, "simulated time to generate; 0 runs until interrupted")
	fs.Float64Var(&o.Speed, "speed", o.Speed, "simulated seconds per wall-clock second")
	fs.BoolVar(&o.Unpaced, "unpaced", false, "generate as fast as the broker acknowledges, ignoring the clock (load tests)")
	start := fs.String("start", "", "simulated start time, RFC 3339 (default now)")
	fs.Uint64Var(&o.Seed, "seed", 1, "seed that fixes every device, value and fault")
	fs.StringVar(&o.LedgerPath, "ledger", "", "file recording every acknowledged batch")
	fs.StringVar(&o.QueueDir, "queue-dir", o.QueueDir, "store-and-forward queues, one folder per gateway")
	fs.Int64Var(&o.QueueBytes, "queue-bytes", o.QueueBytes, "bytes each gateway's queue may hold before the oldest readings are dropped")
	fs.BoolVar(&o.QueueNoSync, "queue-nosync", o.QueueNoSync, "do not fsync the queues: a backlog survives a crash of gwsim, not of the machine (for many gateways on one disk)")
	fs.StringVar(&o.Username, "username", "", "MQTT username; {gateway} and {province} are replaced")
	fs.StringVar(&o.Password, "password", "", "MQTT password; {gateway} and {province} are replaced")
	fs.StringVar(&o.PasswordFile, "password-file", "", "file whose first line is the MQTT password; {gateway} and {province} are replaced")
	fs.StringVar(&o.TLS.CAFile, "ca", "", "CA bundle (PEM) for ssl:// brokers")
	fs.StringVar(&o.TLS.CertFile, "cert", "", "client certificate (PEM); {gateway} is replaced")
	fs.StringVar(&o.TLS.KeyFile, "key", "", "client key (PEM); {gateway} is replaced")
	fs.DurationVar(&o.Faults.FlapEvery, "flap-every", 0, "drop each gateway's link once per this much simulated time")
	fs.DurationVar(&o.Faults.FlapDown, "flap-down", 0, "how long a dropped link stays down")
	fs.BoolVar(&o.Faults.FlapTogether, "flap-together", false, "drop every gateway's link at the same instants, as a broker restart does")
	fs.Float64Var(&o.Faults.DuplicateRate, "duplicate-rate", 0, "fraction of acknowledged batches sent again")
	fs.Float64Var(&o.Faults.MalformedRate, "malformed-rate", 0, "fraction of batches followed by a malformed payload")
	quiet := fs.Bool("quiet", false, "no live status line")
	logLevel := fs.String("log-level", "warn", "log level: debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if *provinces != "all" && *provinces != "" {
		o.Provinces = strings.Split(*provinces, ",")
	}
	var err error
	if o.Format, err = wire.ParseFormat(*format); err != nil {
		return err
	}
	if *qos != 0 && *qos != 1 {
		return fmt.Errorf("--qos %d: want 0 or 1", *qos)
	}
	o.QoS = byte(*qos)
	if *start != "" {
		if o.Start, err = time.Parse(time.RFC3339, *start); err != nil {
			return fmt.Errorf("--start: %w", err)
		}
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lv}))

	sim, err := gwsim.New(o)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- sim.Run(ctx) }()
	started := time.Now()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if !*quiet {
				fmt.Fprintln(os.Stderr)
			}
			summary(os.Stdout, sim.Status(), time.Since(started))
			return err
		case <-tick.C:
			if !*quiet {
				statusLine(os.Stderr, sim.Status(), time.Since(started))
			}
		}
	}
}

// statusLine redraws one line: what a person watching a load or an outage
// wants to see at a glance.
func statusLine(w io.Writer, st gwsim.Status, el time.Duration) {
	fmt.Fprintf(w, "\r%s  gateways %d/%d  %9.0f readings/s  acked %d  backlog %d  dropped %d  refused %d  sim %s ",
		el.Round(time.Second), st.Connected, st.Gateways, st.AckedPerSecond, st.Acked, st.Backlog,
		st.Dropped, st.Refused, st.SimTime.UTC().Format("01-02 15:04:05"))
}

func summary(w io.Writer, st gwsim.Status, el time.Duration) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	rows := []struct {
		k string
		v any
	}{
		{"gateways", st.Gateways},
		{"readings generated", st.Generated},
		{"readings acknowledged", st.Acked},
		{"batches acknowledged", st.AckedBatches},
		{"backlog (readings queued)", st.Backlog},
		{"dropped (queue full)", st.Dropped},
		{"lost (queue write failed)", st.Lost},
		{"refused by the platform", st.Refused},
		{"reconnects", st.Reconnects},
		{"ack latency p50 / p99 / p99.9", fmt.Sprintf("%v / %v / %v", st.AckLatency.Quantile(0.5),
			st.AckLatency.Quantile(0.99), st.AckLatency.Quantile(0.999))},
		{"wall time", el.Round(time.Millisecond)},
		{"acknowledged readings/s", fmt.Sprintf("%.0f", float64(st.Acked)/max(el.Seconds(), 1e-3))},
	}
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%v\t\n", r.k, r.v)
	}
	tw.Flush()
}
