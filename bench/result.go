package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
)

// Result is what one scenario run measured. The JSON names are the metric
// names of the targets file.
type Result struct {
	Scenario string `json:"scenario"`
	// Node is how the server ran: in-process, child or remote. CPUSource
	// says where the CPU and memory figures come from.
	Node      string `json:"node"`
	CPUSource string `json:"cpu_source"`
	Load      string `json:"load"` // /proc/loadavg when the window opened

	Gateways  int     `json:"gateways"`
	Connected int     `json:"connected"`
	Seconds   float64 `json:"seconds"` // the measured window

	// Readings are what the gateways and probes got acknowledged (at QoS 0:
	// wrote to their sockets) in the window; messages and samples are what
	// the node counted.
	Readings        int64   `json:"readings"`
	ReadingsPerSec  float64 `json:"readings_per_s"`
	ReadingsMin5s   float64 `json:"readings_per_s_min5s"`
	MessagesPerSec  float64 `json:"messages_per_s"`
	SamplesPerSec   float64 `json:"samples_per_s"`
	Rejected        float64 `json:"rejected"`
	AckP50ms        float64 `json:"ack_p50_ms"`
	AckP99ms        float64 `json:"ack_p99_ms"`
	AckP999ms       float64 `json:"ack_p999_ms"`
	AckCount        int     `json:"ack_count"`
	LagP50ms        float64 `json:"lag_p50_ms"`
	LagMaxms        float64 `json:"lag_max_ms"`
	LagCount        int     `json:"lag_count"`
	LagMisses       int64   `json:"lag_misses"`
	ServerCPUSec    float64 `json:"server_cpu_s"`
	CPUPerMReadings float64 `json:"cpu_s_per_m_readings"`
	LoadgenCPUSec   float64 `json:"loadgen_cpu_s"`
	PeakRSSMiB      float64 `json:"peak_rss_mib"`
	MemoryBudgetMiB float64 `json:"memory_budget_mib,omitempty"`
	StoreBytes      int64   `json:"store_bytes"`
	SamplesStored   float64 `json:"samples_stored"`
	BytesPerSample  float64 `json:"disk_bytes_per_sample"`

	// The outage replay: the backlog recorded, how long its delivery took,
	// and how fresh live data stayed meanwhile.
	BacklogReadings int64   `json:"backlog_readings,omitempty"`
	ReplaySec       float64 `json:"replay_s,omitempty"`
	LiveLagMaxms    float64 `json:"live_lag_max_ms,omitempty"`
	LiveLagMisses   int64   `json:"live_lag_misses,omitempty"`

	Errors []string `json:"errors,omitempty"`
}

// Figures returns the result's numeric figures by their JSON names, for
// CheckTargets.
func (r *Result) Figures() map[string]float64 {
	b, _ := json.Marshal(r)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	out := map[string]float64{}
	for k, v := range m {
		if f, ok := v.(float64); ok {
			out[k] = f
		}
	}
	return out
}

// row is one line of the result table.
type row struct{ name, value, note string }

func (r *Result) rows() []row {
	f0 := func(v float64) string { return fmtNum(v, 0) }
	f1 := func(v float64) string { return fmtNum(v, 1) }
	f2 := func(v float64) string { return fmtNum(v, 2) }
	slowest := "n/a (window under 5 s)"
	if r.ReadingsMin5s > 0 {
		slowest = f0(r.ReadingsMin5s) + "/s"
	}
	rows := []row{
		{"node", r.Node, r.Load},
		{"gateways connected", fmt.Sprintf("%d / %d", r.Connected, r.Gateways), ""},
		{"measured window", f1(r.Seconds) + " s", ""},
		{"readings/s", f0(r.ReadingsPerSec), fmt.Sprintf("%d readings; slowest 5 s: %s", r.Readings, slowest)},
		{"messages/s", f0(r.MessagesPerSec), "counted by the node"},
		{"samples/s", f0(r.SamplesPerSec), "committed by the store"},
		{"rejected readings", f0(r.Rejected), "since the node started"},
		{"ack latency p50 / p99 / p99.9", fmt.Sprintf("%s / %s / %s ms", f1(r.AckP50ms), f1(r.AckP99ms), f1(r.AckP999ms)),
			fmt.Sprintf("%d QoS 1 probe publishes", r.AckCount)},
		{"publish-to-queryable lag p50 / max", fmt.Sprintf("%s / %s ms", f1(r.LagP50ms), f1(r.LagMaxms)),
			fmt.Sprintf("%d markers, %d not queryable in %v", r.LagCount, r.LagMisses, markerTimeout)},
		{"server CPU per million readings", f2(r.CPUPerMReadings) + " s", fmt.Sprintf("%s s in the window; %s", f1(r.ServerCPUSec), r.CPUSource)},
		{"load generator CPU", f1(r.LoadgenCPUSec) + " s", "qbench's own process in the window"},
		{"peak RSS", f0(r.PeakRSSMiB) + " MiB", budgetNote(r)},
		{"bytes on disk per sample", f2(r.BytesPerSample), fmt.Sprintf("%d bytes for %s samples, after a clean shutdown", r.StoreBytes, f0(r.SamplesStored))},
	}
	if r.BacklogReadings > 0 {
		rows = append(rows,
			row{"backlog replayed", fmt.Sprintf("%d readings", r.BacklogReadings), ""},
			row{"replay time", f1(r.ReplaySec) + " s", "until every gateway's queue was empty"},
			row{"live data lag during replay, max", f0(r.LiveLagMaxms) + " ms", fmt.Sprintf("%d polls found no live data", r.LiveLagMisses)})
	}
	for _, e := range r.Errors {
		rows = append(rows, row{"error", e, ""})
	}
	return rows
}

func budgetNote(r *Result) string {
	if r.MemoryBudgetMiB == 0 {
		return "VmHWM of the server"
	}
	verdict := "within"
	if r.PeakRSSMiB > r.MemoryBudgetMiB {
		verdict = "OVER"
	}
	return fmt.Sprintf("VmHWM of the server; %s the budget of %s MiB", verdict, fmtNum(r.MemoryBudgetMiB, 0))
}

// WriteTable writes the result as a table.
func (r *Result) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "\nscenario %s\n", r.Scenario)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, x := range r.rows() {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", x.name, x.value, x.note)
	}
	return tw.Flush()
}

// WriteChecks writes targets against figures as a table.
func WriteChecks(w io.Writer, cs []Check) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "source\tmetric\tmeasured\ttarget\tstatus\n")
	for _, c := range cs {
		got := "-"
		if c.Found {
			got = fmtNum(c.Got, 2)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s %s\t%s\n", c.Source, c.Metric, got, c.Op, fmtNum(c.Bound, 2), c.Status())
	}
	return tw.Flush()
}

// fmtNum prints v with thousands separated by blanks and at most prec
// decimals, trailing zeros trimmed.
func fmtNum(v float64, prec int) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Sprint(v)
	}
	s := fmt.Sprintf("%.*f", prec, v)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	intPart, frac, _ := strings.Cut(s, ".")
	neg := strings.HasPrefix(intPart, "-")
	intPart = strings.TrimPrefix(intPart, "-")
	var b strings.Builder
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(c)
	}
	out := b.String()
	if neg {
		out = "-" + out
	}
	if frac != "" {
		out += "." + frac
	}
	return out
}
