package bench

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Target is one line of the targets file: a figure of a scenario or of a
// micro-benchmark, and the bound it must meet.
//
// The file holds one target per line, four fields separated by blanks:
//
//	# source                                       metric            op  bound
//	qos1-batched                                   readings_per_s    >=  1000000
//	ingest/pipeline.BenchmarkIngestSim/json/mix    readings/cpu-s    >=  3e6
//
// The source is a scenario name, or a micro-benchmark as
// <package under the module>.<benchmark name without the -N suffix>. The
// metric is a Result field (its JSON name) or a benchmark unit.
type Target struct {
	Source, Metric string
	Op             string // ">=" or "<="
	Bound          float64
}

// Met reports whether v meets the target.
func (t Target) Met(v float64) bool {
	if t.Op == ">=" {
		return v >= t.Bound
	}
	return v <= t.Bound
}

// LoadTargets reads a targets file.
func LoadTargets(path string) ([]Target, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot open targets: %w", err)
	}
	defer f.Close()
	ts, err := ParseTargets(f)
	if err != nil {
		return nil, fmt.Errorf("cannot read targets %s: %w", path, err)
	}
	return ts, nil
}

// ParseTargets reads targets in the format of Target.
func ParseTargets(r io.Reader) ([]Target, error) {
	var out []Target
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 4 {
			return nil, fmt.Errorf("line %d: want source, metric, op and bound, got %q", n, strings.TrimSpace(line))
		}
		if f[2] != ">=" && f[2] != "<=" {
			return nil, fmt.Errorf("line %d: invalid operator %q: want >= or <=", n, f[2])
		}
		v, err := strconv.ParseFloat(f[3], 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: invalid bound %q: %w", n, f[3], err)
		}
		out = append(out, Target{Source: f[0], Metric: f[1], Op: f[2], Bound: v})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("cannot read: %w", err)
	}
	return out, nil
}

// Figures are measured values by source and metric.
type Figures map[string]map[string]float64

// Add records one figure.
func (fs Figures) Add(source, metric string, v float64) {
	m := fs[source]
	if m == nil {
		m = map[string]float64{}
		fs[source] = m
	}
	m[metric] = v
}

// Check is one target with what was measured.
type Check struct {
	Target
	Got   float64
	Found bool
}

// Status is "ok", "MISS" or "no figure".
func (c Check) Status() string {
	switch {
	case !c.Found:
		return "no figure"
	case c.Met(c.Got):
		return "ok"
	}
	return "MISS"
}

// CheckTargets pairs every target with its figure. A target whose source
// was not run in this check is left out when skipMissing is set.
func CheckTargets(ts []Target, fs Figures, skipMissing bool) []Check {
	var out []Check
	for _, t := range ts {
		m, ran := fs[t.Source]
		if !ran && skipMissing {
			continue
		}
		v, ok := m[t.Metric]
		out = append(out, Check{Target: t, Got: v, Found: ok})
	}
	return out
}

// ParseBenchOutput reads `go test -bench` output (benchstat's input
// format) into figures: source <package under module>.<benchmark without
// the -N suffix>, one metric per unit. Where a benchmark ran more than once
// (-count), the median is kept.
func ParseBenchOutput(r io.Reader, module string) (Figures, error) {
	all := map[string]map[string][]float64{}
	pkg := ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(p), module), "/")
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		name := f[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		src := pkg + "." + name
		if all[src] == nil {
			all[src] = map[string][]float64{}
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			all[src][f[i+1]] = append(all[src][f[i+1]], v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("cannot read benchmark output: %w", err)
	}
	out := Figures{}
	for src, m := range all {
		for unit, vs := range m {
			slices.Sort(vs)
			out.Add(src, unit, vs[len(vs)/2])
		}
	}
	return out, nil
}
