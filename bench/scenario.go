// Package bench is the engine behind qbench, Quantrac's load test: it starts
// a node (in this process, as a child process, or uses a running one),
// drives simulated gateways of gateway-firmware-sim against it, and measures
// what an operator needs before trusting the node with a province: readings
// and messages accepted per second, acknowledgement latency, how soon a
// published reading can be queried, server CPU per million readings, peak
// memory and bytes on disk per sample. Scenarios are files (see Scenario);
// targets are a file too (see Targets), checked by `make bench-check`.
package bench

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/quantrac/quantrac/gateway-firmware-sim/wire"
)

// Scenario is one repeatable load test. Scenario files hold one
// `key = value` per line; `#` starts a comment; keys are the field tags
// below. A key left out keeps the default of DefaultScenario.
type Scenario struct {
	Name        string // name
	Description string // description

	// The fleet, as gateway-firmware-sim builds it.
	Provinces           int           // provinces: the first N of the 34, in their official order
	GatewaysPerProvince int           // gateways_per_province
	DevicesPerGateway   int           // devices_per_gateway
	SampleInterval      time.Duration // sample_interval
	BatchSize           int           // batch_size: readings per message
	BatchAge            time.Duration // batch_age
	Format              wire.Format   // format: json, lp or sparkplug
	QoS                 byte          // qos: 0 or 1
	Inflight            int           // inflight: publishes per gateway awaiting their acknowledgement
	// Unpaced gateways publish as fast as the node takes their batches;
	// paced ones sample on the wall clock times Speed.
	Unpaced bool    // unpaced
	Speed   float64 // speed
	// GatewayFsync makes the simulated gateways fsync their
	// store-and-forward queues, as the firmware does on its own flash.
	// Off by default: the fleet here shares one disk with the node, and a
	// thousand gateways' fsyncs would stand in line with the node's WAL
	// fsync, which no real fleet does. The node's durability is the same
	// either way.
	GatewayFsync bool // gateway_fsync

	// Timing.
	Warmup   time.Duration // warmup: load before measuring
	Duration time.Duration // duration: the measured window
	// ConnectTimeout bounds how long the fleet may take to connect before
	// the warm-up starts.
	ConnectTimeout time.Duration // connect_timeout

	// Backlog, when set, is the outage scenario: every gateway first
	// records Backlog of readings with its link down, then connects and
	// replays it while live data continues. The measured window runs
	// until the backlog is delivered (at most Duration).
	Backlog time.Duration // backlog
	// LiveMetric is the metric whose freshest sample shows that live data
	// stays queryable during the replay.
	LiveMetric string // live_metric

	// Probes are QoS 1 connections of their own, publishing batches of
	// BatchSize readings one at a time, whose acknowledgements are timed.
	Probes int // probes
	// ProbeEvery is the pause between one probe's publishes; zero publishes
	// the next as soon as the last is acknowledged.
	ProbeEvery time.Duration // probe_every
	// MarkerEvery is how often a marker reading is published and the
	// query API polled until it answers, for the publish-to-queryable lag.
	MarkerEvery time.Duration // marker_every

	// MemoryBudget, when set, is the documented bound on the server's peak
	// resident memory for this scenario, in MiB.
	MemoryBudget int // memory_budget_mib
}

// DefaultScenario is what a scenario file starts from.
func DefaultScenario() Scenario {
	return Scenario{
		Name: "unnamed", Provinces: 34, GatewaysPerProvince: 1, DevicesPerGateway: 20,
		SampleInterval: 10 * time.Second, BatchSize: 100, BatchAge: 30 * time.Second,
		Format: wire.JSON, QoS: 1, Inflight: 8, Speed: 1,
		Warmup: 5 * time.Second, Duration: 30 * time.Second, ConnectTimeout: 60 * time.Second,
		LiveMetric: "energy_kilowatt_hours_total", Probes: 2, MarkerEvery: time.Second,
	}
}

// Gateways is the size of the fleet.
func (s Scenario) Gateways() int { return s.Provinces * s.GatewaysPerProvince }

// Validate reports the first thing wrong with s. The fleet's own limits are
// checked again by gateway-firmware-sim.
func (s Scenario) Validate() error {
	switch {
	case s.Provinces < 1 || s.Provinces > 34:
		return fmt.Errorf("invalid scenario %s: provinces %d, want 1..34", s.Name, s.Provinces)
	case s.GatewaysPerProvince < 1:
		return fmt.Errorf("invalid scenario %s: gateways_per_province %d", s.Name, s.GatewaysPerProvince)
	case s.QoS > 1:
		return fmt.Errorf("invalid scenario %s: qos %d, want 0 or 1", s.Name, s.QoS)
	case s.Duration <= 0 || s.Warmup < 0:
		return fmt.Errorf("invalid scenario %s: duration %v, warmup %v", s.Name, s.Duration, s.Warmup)
	case s.Probes < 0 || s.ProbeEvery < 0 || s.MarkerEvery < 0 || s.Backlog < 0 || s.MemoryBudget < 0:
		return fmt.Errorf("invalid scenario %s: negative probes, marker_every, backlog or memory budget", s.Name)
	case s.Backlog > 0 && s.Unpaced:
		return fmt.Errorf("invalid scenario %s: an outage replay needs paced live data, not unpaced", s.Name)
	}
	return nil
}

// LoadScenario reads a scenario file.
func LoadScenario(path string) (Scenario, error) {
	f, err := os.Open(path)
	if err != nil {
		return Scenario{}, fmt.Errorf("cannot open scenario: %w", err)
	}
	defer f.Close()
	s, err := ParseScenario(f)
	if err != nil {
		return Scenario{}, fmt.Errorf("cannot read scenario %s: %w", path, err)
	}
	return s, nil
}

// ParseScenario reads a scenario in the file format of Scenario.
func ParseScenario(r io.Reader) (Scenario, error) {
	s := DefaultScenario()
	err := parseKeyValues(r, func(key, val string) error { return s.set(key, val) })
	if err != nil {
		return Scenario{}, err
	}
	return s, s.Validate()
}

func (s *Scenario) set(key, val string) error {
	var err error
	switch key {
	case "name":
		s.Name = val
	case "description":
		s.Description = val
	case "provinces":
		s.Provinces, err = strconv.Atoi(val)
	case "gateways_per_province":
		s.GatewaysPerProvince, err = strconv.Atoi(val)
	case "devices_per_gateway":
		s.DevicesPerGateway, err = strconv.Atoi(val)
	case "sample_interval":
		s.SampleInterval, err = time.ParseDuration(val)
	case "batch_size":
		s.BatchSize, err = strconv.Atoi(val)
	case "batch_age":
		s.BatchAge, err = time.ParseDuration(val)
	case "format":
		s.Format, err = wire.ParseFormat(val)
	case "qos":
		var q uint64
		q, err = strconv.ParseUint(val, 10, 8)
		s.QoS = byte(q)
	case "inflight":
		s.Inflight, err = strconv.Atoi(val)
	case "unpaced":
		s.Unpaced, err = strconv.ParseBool(val)
	case "speed":
		s.Speed, err = strconv.ParseFloat(val, 64)
	case "gateway_fsync":
		s.GatewayFsync, err = strconv.ParseBool(val)
	case "warmup":
		s.Warmup, err = time.ParseDuration(val)
	case "duration":
		s.Duration, err = time.ParseDuration(val)
	case "connect_timeout":
		s.ConnectTimeout, err = time.ParseDuration(val)
	case "backlog":
		s.Backlog, err = time.ParseDuration(val)
	case "live_metric":
		s.LiveMetric = val
	case "probes":
		s.Probes, err = strconv.Atoi(val)
	case "probe_every":
		s.ProbeEvery, err = time.ParseDuration(val)
	case "marker_every":
		s.MarkerEvery, err = time.ParseDuration(val)
	case "memory_budget_mib":
		s.MemoryBudget, err = strconv.Atoi(val)
	default:
		return fmt.Errorf("unknown key %q", key)
	}
	if err != nil {
		return fmt.Errorf("invalid %s %q: %w", key, val, err)
	}
	return nil
}

// parseKeyValues calls set for each `key = value` line of r, skipping blank
// lines and `#` comments.
func parseKeyValues(r io.Reader, set func(key, val string) error) error {
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok {
			return fmt.Errorf("line %d: want key = value, got %q", n, line)
		}
		if err := set(strings.TrimSpace(key), strings.TrimSpace(val)); err != nil {
			return fmt.Errorf("line %d: %w", n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("cannot read: %w", err)
	}
	return nil
}
