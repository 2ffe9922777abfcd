package bench

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quantrac/quantrac/gateway-firmware-sim/wire"
)

func TestStandardScenariosParse(t *testing.T) {
	files, err := filepath.Glob("scenarios/*.scn")
	if err != nil || len(files) < 5 {
		t.Fatalf("want the standard scenarios and smoke, got %v (%v)", files, err)
	}
	names := map[string]bool{}
	for _, f := range files {
		sc, err := LoadScenario(f)
		if err != nil {
			t.Fatal(err)
		}
		if want := strings.TrimSuffix(filepath.Base(f), ".scn"); sc.Name != want {
			t.Errorf("%s: name %q, want the file's name %q", f, sc.Name, want)
		}
		names[sc.Name] = true
	}
	for _, n := range []string{"qos1-batched", "qos0-single", "idle-10k", "outage-replay"} {
		if !names[n] {
			t.Errorf("standard scenario %s is missing", n)
		}
	}
	s1, _ := LoadScenario("scenarios/qos1-batched.scn")
	if s1.Gateways() != 1020 || s1.BatchSize != 100 || s1.QoS != 1 || s1.Duration != time.Minute {
		t.Errorf("scenario 1 is not 34 x 30 gateways, 100 readings per message, QoS 1, 60 s: %+v", s1)
	}
	s3, _ := LoadScenario("scenarios/idle-10k.scn")
	if s3.Gateways() < 9800 || s3.MemoryBudget == 0 {
		t.Errorf("scenario 3 has %d gateways and budget %d MiB", s3.Gateways(), s3.MemoryBudget)
	}
}

func TestParseScenario(t *testing.T) {
	sc, err := ParseScenario(strings.NewReader(`
# a comment
name = t1   # trailing comment
provinces = 2
format = lp
qos = 0
duration = 2s
backlog = 10m
gateway_fsync = true
`))
	if err != nil {
		t.Fatal(err)
	}
	if sc.Name != "t1" || sc.Provinces != 2 || sc.Format != wire.LineProtocol || sc.QoS != 0 ||
		sc.Duration != 2*time.Second || sc.Backlog != 10*time.Minute || sc.BatchSize != DefaultScenario().BatchSize ||
		!sc.GatewayFsync || DefaultScenario().GatewayFsync {
		t.Errorf("parsed %+v", sc)
	}
	for _, bad := range []struct{ in, want string }{
		{"colour = blue", `line 1: unknown key "colour"`},
		{"provinces 3", "line 1: want key = value"},
		{"\nqos = x", "line 2: invalid qos"},
		{"provinces = 35", "provinces 35"},
		{"qos = 2", "qos 2"},
		{"duration = 0s", "duration 0s"},
		{"unpaced = true\nbacklog = 1h", "needs paced live data"},
		{"format = xml", "invalid format"},
		{"gateway_fsync = sometimes", "invalid gateway_fsync"},
	} {
		_, err := ParseScenario(strings.NewReader(bad.in))
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: error %v, want one containing %q", bad.in, err, bad.want)
		}
	}
}

func TestParseTargets(t *testing.T) {
	ts, err := ParseTargets(strings.NewReader(`
# source   metric   op  bound
s1  readings_per_s  >=  1e6
ingest/pipeline.BenchmarkX/a  allocs/op  <=  0   # zero allocations
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []Target{{"s1", "readings_per_s", ">=", 1e6}, {"ingest/pipeline.BenchmarkX/a", "allocs/op", "<=", 0}}
	if len(ts) != 2 || ts[0] != want[0] || ts[1] != want[1] {
		t.Fatalf("parsed %+v, want %+v", ts, want)
	}
	for _, bad := range []struct{ in, want string }{
		{"s1 readings_per_s >= ", "line 1: want source, metric, op and bound"},
		{"s1 readings_per_s > 5", `invalid operator ">"`},
		{"s1 readings_per_s >= lots", `invalid bound "lots"`},
	} {
		_, err := ParseTargets(strings.NewReader(bad.in))
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: error %v, want one containing %q", bad.in, err, bad.want)
		}
	}
	if _, err := LoadTargets("targets.txt"); err != nil {
		t.Errorf("the repository's targets file: %v", err)
	}
}

const benchOut = `goos: linux
pkg: github.com/quantrac/quantrac/ingest/pipeline
BenchmarkIngestSim/json/mix        	   11976	     86099 ns/op	 1000 readings/cpu-s	0 allocs/op
BenchmarkIngestSim/json/mix        	   11976	     86099 ns/op	 3000 readings/cpu-s	0 allocs/op
BenchmarkIngestSim/json/mix        	   11976	     86099 ns/op	 2000 readings/cpu-s	0 allocs/op
BenchmarkIngestJSON-2              	   17655	     67293 ns/op	 12.5 MB/s	3 allocs/op
PASS
`

func TestParseBenchOutputAndCheck(t *testing.T) {
	fs, err := ParseBenchOutput(strings.NewReader(benchOut), "github.com/quantrac/quantrac")
	if err != nil {
		t.Fatal(err)
	}
	if got := fs["ingest/pipeline.BenchmarkIngestSim/json/mix"]["readings/cpu-s"]; got != 2000 {
		t.Errorf("median of three runs: got %v, want 2000", got)
	}
	if got := fs["ingest/pipeline.BenchmarkIngestJSON"]["allocs/op"]; got != 3 {
		t.Errorf("-N suffix not stripped: %v", fs)
	}
	fs.Add("s1", "ack_p99_ms", 70)
	checks := CheckTargets([]Target{
		{"ingest/pipeline.BenchmarkIngestSim/json/mix", "readings/cpu-s", ">=", 1500},
		{"ingest/pipeline.BenchmarkIngestJSON", "allocs/op", "<=", 0},
		{"s1", "ack_p99_ms", "<=", 50},
		{"s1", "readings_per_s", ">=", 1},
		{"s2", "readings_per_s", ">=", 1}, // not run: left out
	}, fs, true)
	var got []string
	for _, c := range checks {
		got = append(got, c.Status())
	}
	if strings.Join(got, ",") != "ok,MISS,MISS,no figure" {
		t.Errorf("statuses %v", got)
	}
	var buf bytes.Buffer
	if err := WriteChecks(&buf, checks); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"readings/cpu-s  2 000", ">= 1 500", "MISS", "no figure"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("checks table lacks %q:\n%s", want, buf.String())
		}
	}
}

func TestResultTable(t *testing.T) {
	r := &Result{Scenario: "s1", Node: "child", Gateways: 10, Connected: 10, Seconds: 60,
		Readings: 61234567, ReadingsPerSec: 1020576.1, AckP50ms: 3.21, AckP99ms: 48.5, AckP999ms: 120,
		AckCount: 5000, PeakRSSMiB: 812, MemoryBudgetMiB: 512, BytesPerSample: 0.734,
		BacklogReadings: 12240000, ReplaySec: 42.5}
	var buf bytes.Buffer
	if err := r.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"scenario s1", "1 020 576", "3.2 / 48.5 / 120 ms", "10 / 10",
		"812 MiB", "OVER the budget of 512 MiB", "0.73", "12240000 readings", "42.5 s"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, buf.String())
		}
	}
	f := r.Figures()
	if f["readings_per_s"] != 1020576.1 || f["ack_p99_ms"] != 48.5 {
		t.Errorf("figures %v", f)
	}
}

func TestProcUsage(t *testing.T) {
	u, err := procUsage(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if u.PeakRSS <= 0 || u.RSS <= 0 || u.PeakRSS < u.RSS {
		t.Errorf("memory: %+v", u)
	}
	s, err := selfUsage()
	if err != nil || s.CPU <= 0 {
		t.Errorf("self usage %+v, %v", s, err)
	}
}

// TestRunSmoke runs a scenario of a few seconds through a real node in
// this process: real MQTT connections, a real store, the query API.
func TestRunSmoke(t *testing.T) {
	sc, err := LoadScenario("scenarios/smoke.scn")
	if err != nil {
		t.Fatal(err)
	}
	sc.Warmup, sc.Duration = 500*time.Millisecond, 2*time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var progress bytes.Buffer
	res, err := Run(ctx, Options{Scenario: sc, Node: NodeOptions{Mode: "in-process"},
		WorkDir: t.TempDir(), Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Errors) > 0 {
		t.Errorf("errors: %v", res.Errors)
	}
	if res.Connected != 4 || res.Gateways != 4 {
		t.Errorf("connected %d of %d", res.Connected, res.Gateways)
	}
	if res.Readings <= 0 || res.ReadingsPerSec <= 0 || res.MessagesPerSec <= 0 || res.SamplesPerSec <= 0 {
		t.Errorf("nothing measured: %+v", res)
	}
	if res.Rejected != 0 {
		t.Errorf("%v readings rejected", res.Rejected)
	}
	if res.AckCount == 0 || res.AckP50ms <= 0 || res.AckP99ms < res.AckP50ms {
		t.Errorf("ack latency: %d probes, p50 %v, p99 %v", res.AckCount, res.AckP50ms, res.AckP99ms)
	}
	if res.LagCount == 0 || res.LagMaxms <= 0 {
		t.Errorf("publish-to-queryable lag: %d markers, max %v ms, %d misses", res.LagCount, res.LagMaxms, res.LagMisses)
	}
	if res.ServerCPUSec <= 0 || res.PeakRSSMiB <= 0 || res.StoreBytes <= 0 || res.BytesPerSample <= 0 {
		t.Errorf("usage or disk not measured: %+v", res)
	}
	if !strings.Contains(progress.String(), "readings/s") {
		t.Errorf("no progress line: %q", progress.String())
	}
}
