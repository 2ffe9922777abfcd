// Command qbench load-tests a Quantrac node: it starts one with a fresh data
// directory (or uses a running one), drives simulated provincial gateways
// against it, and reports readings and messages per second, acknowledgement
// latency, publish-to-queryable lag, CPU per million readings, peak memory
// and bytes on disk per sample. Scenarios are files in bench/scenarios/;
// with --targets the figures are checked against bench/targets.txt. The
// engine is package bench; docs/bench.md describes scenarios and figures.
//
//	qbench [flags] scenario...
//
// A scenario is a file, or the name of one in bench/scenarios/.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/quantrac/quantrac/bench"
)

const module = "github.com/quantrac/quantrac"

// exitMissed is the exit status when a figure misses its target.
const exitMissed = 3

func main() {
	code, err := run(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "qbench:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

func run(args []string) (int, error) {
	fs := flag.NewFlagSet("qbench", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: qbench [flags] scenario...\n\nA scenario is a file or a name in bench/scenarios/. Flags:")
		fs.PrintDefaults()
	}
	var (
		mode       = fs.String("server", "auto", "node under test: child (quantrac serve as a child process), in-process, or auto (child when the quantrac binary is found)")
		binary     = fs.String("quantrac", "", "quantrac binary for --server child (default: beside qbench, else on PATH)")
		tMQTT      = fs.String("target-mqtt", "", "use a running node: its MQTT URL, e.g. tcp://127.0.0.1:1883 (needs --target-http; the node must admit the simulated gateways and have no rate limit)")
		tHTTP      = fs.String("target-http", "", "use a running node: its HTTP base URL, e.g. http://127.0.0.1:9490")
		token      = fs.String("token", "", "read token for a running node's query API")
		duration   = fs.Duration("duration", 0, "override each scenario's measured window")
		warmup     = fs.Duration("warmup", -1, "override each scenario's warm-up")
		asJSON     = fs.Bool("json", false, "print the results (and checks) as JSON instead of tables")
		cpuprofile = fs.String("cpuprofile", "", "write a CPU profile of qbench's process (with --server in-process it includes the node)")
		nodeprof   = fs.String("node-cpuprofile", "", "with --server child: write a CPU profile of the node's whole run (one scenario: this file; several: the scenario's name is appended)")
		memprofile = fs.String("memprofile", "", "write a heap profile of qbench's process when the (last) measured window closes (with --server in-process it includes the node)")
		workdir    = fs.String("workdir", "", "directory for the node's data, the gateways' queues and logs (default a new temporary one, removed afterwards)")
		keep       = fs.Bool("keep", false, "keep the temporary work directory")
		targets    = fs.String("targets", "", "targets file to check the figures against, e.g. bench/targets.txt")
		micro      = fs.String("micro", "", "go test -bench output whose figures are checked against --targets too")
		dir        = fs.String("scenarios", "bench/scenarios", "directory of named scenarios")
	)
	if err := fs.Parse(args); err != nil {
		return 2, err
	}
	if fs.NArg() == 0 && *micro == "" {
		fs.Usage()
		return 2, errors.New("no scenario given")
	}
	var scs []bench.Scenario
	for _, a := range fs.Args() {
		path := a
		if !strings.ContainsAny(a, "/.") {
			path = filepath.Join(*dir, a+".scn")
		}
		sc, err := bench.LoadScenario(path)
		if err != nil {
			return 2, err
		}
		if *duration > 0 {
			sc.Duration = *duration
		}
		if *warmup >= 0 {
			sc.Warmup = *warmup
		}
		scs = append(scs, sc)
	}
	node, err := nodeOptions(*mode, *binary, *tMQTT, *tHTTP)
	if err != nil {
		return 2, err
	}
	var tgts []bench.Target
	if *targets != "" {
		if tgts, err = bench.LoadTargets(*targets); err != nil {
			return 2, err
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return 1, fmt.Errorf("cannot create CPU profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return 1, fmt.Errorf("cannot start CPU profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}

	figs := bench.Figures{}
	if *micro != "" {
		f, err := os.Open(*micro)
		if err != nil {
			return 1, fmt.Errorf("cannot open benchmark output: %w", err)
		}
		mf, err := bench.ParseBenchOutput(f, module)
		f.Close()
		if err != nil {
			return 1, err
		}
		for src, m := range mf {
			for k, v := range m {
				figs.Add(src, k, v)
			}
		}
	}
	term := isTerminal(os.Stderr)
	var results []*bench.Result
	if *nodeprof != "" && node.Mode != "child" {
		return 2, errors.New("--node-cpuprofile needs --server child")
	}
	for _, sc := range scs {
		node.CPUProfile = *nodeprof
		if *nodeprof != "" && len(scs) > 1 {
			node.CPUProfile = *nodeprof + "." + sc.Name
		}
		res, err := runOne(ctx, sc, node, *workdir, *keep, *token, term, heapProfiler(*memprofile))
		if err != nil {
			return 1, fmt.Errorf("scenario %s: %w", sc.Name, err)
		}
		results = append(results, res)
		for k, v := range res.Figures() {
			figs.Add(sc.Name, k, v)
		}
		if !*asJSON {
			if err := res.WriteTable(os.Stdout); err != nil {
				return 1, err
			}
		}
		if ctx.Err() != nil {
			break
		}
	}
	checks := bench.CheckTargets(tgts, figs, true)
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			Results []*bench.Result `json:"results"`
			Checks  []bench.Check   `json:"checks,omitempty"`
		}{results, checks}); err != nil {
			return 1, err
		}
	} else if len(checks) > 0 {
		fmt.Println("\ntargets (" + *targets + ")")
		if err := bench.WriteChecks(os.Stdout, checks); err != nil {
			return 1, err
		}
	}
	for _, c := range checks {
		if c.Status() != "ok" {
			return exitMissed, nil
		}
	}
	return 0, nil
}

func nodeOptions(mode, binary, tMQTT, tHTTP string) (bench.NodeOptions, error) {
	if tMQTT != "" || tHTTP != "" {
		return bench.NodeOptions{Mode: "remote", Broker: tMQTT, HTTP: tHTTP}, nil
	}
	switch mode {
	case "in-process":
		return bench.NodeOptions{Mode: mode}, nil
	case "child", "auto":
		if binary == "" {
			b, err := bench.FindQuantrac()
			if err != nil && mode == "auto" {
				return bench.NodeOptions{Mode: "in-process"}, nil
			}
			if err != nil {
				return bench.NodeOptions{}, err
			}
			binary = b
		}
		return bench.NodeOptions{Mode: "child", Binary: binary}, nil
	}
	return bench.NodeOptions{}, fmt.Errorf("invalid --server %q: want auto, child or in-process", mode)
}

// heapProfiler returns a function writing a heap profile to path, or nil.
func heapProfiler(path string) func() {
	if path == "" {
		return nil
	}
	return func() {
		f, err := os.Create(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "qbench: cannot create heap profile:", err)
			return
		}
		defer f.Close()
		runtime.GC()
		if err := pprof.WriteHeapProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "qbench: cannot write heap profile:", err)
		}
	}
}

func runOne(ctx context.Context, sc bench.Scenario, node bench.NodeOptions, workdir string, keep bool, token string, term bool, afterWindow func()) (*bench.Result, error) {
	dir := workdir
	if dir == "" {
		d, err := os.MkdirTemp("", "qbench-"+sc.Name+"-")
		if err != nil {
			return nil, fmt.Errorf("cannot create work directory: %w", err)
		}
		dir = d
		if !keep {
			defer os.RemoveAll(d)
		} else {
			fmt.Fprintln(os.Stderr, "work directory:", d)
		}
	} else {
		dir = filepath.Join(workdir, sc.Name+"-"+time.Now().Format("20060102-150405"))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("cannot create work directory: %w", err)
		}
	}
	fmt.Fprintf(os.Stderr, "scenario %s: %s\n", sc.Name, sc.Description)
	return bench.Run(ctx, bench.Options{Scenario: sc, Node: node, WorkDir: dir, Token: token,
		Progress: os.Stderr, Terminal: term, AfterWindow: afterWindow})
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
