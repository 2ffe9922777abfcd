package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

func runExport(args []string) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	client := clientFlags(fs)
	match := fs.String("match", "", `series selector, e.g. 'air_temperature_celsius{province="ha-noi"}' (required)`)
	start := fs.String("start", "24h", "start (RFC 3339, Unix seconds, or a duration ago like 24h)")
	end := fs.String("end", "now", "end")
	format := fs.String("format", "", "parquet, arrow, csv or jsonl (default: from the -o file's extension, else parquet)")
	out := fs.String("o", "", "output file (required)")
	quiet := fs.Bool("quiet", false, "no progress line")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *match == "" || *out == "" {
		return errors.New("--match and -o are required")
	}
	if *format == "" {
		*format = formatFromExt(*out)
	}
	c, err := client()
	if err != nil {
		return err
	}
	now := time.Now()
	ts, err := parseWhen(*start, now)
	if err != nil {
		return err
	}
	te, err := parseWhen(*end, now)
	if err != nil {
		return err
	}
	expected := expectedRows(c, *match, ts, te)

	resp, err := c.get("/api/v1/export", url.Values{"match[]": {*match}, "start": {unixParam(ts)},
		"end": {unixParam(te)}, "format": {*format}})
	if err != nil {
		return err
	}
	defer resp.Body.Close()

	// Write beside the target and rename once complete: a cut-short export
	// must not leave a file that looks whole.
	tmp, err := os.CreateTemp(filepath.Dir(*out), "."+filepath.Base(*out)+".*")
	if err != nil {
		return fmt.Errorf("cannot create output file: %w", err)
	}
	defer os.Remove(tmp.Name())
	p := &progress{total: expected, countLines: *format == "csv" || *format == "jsonl", quiet: *quiet, start: time.Now()}
	n, err := io.Copy(io.MultiWriter(tmp, p), resp.Body)
	p.finish()
	if err != nil {
		tmp.Close()
		return fmt.Errorf("export cut short after %d bytes: %w", n, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("cannot sync output file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("cannot close output file: %w", err)
	}
	if err := os.Rename(tmp.Name(), *out); err != nil {
		return fmt.Errorf("cannot move output into place: %w", err)
	}
	fmt.Fprintf(os.Stderr, "wrote %s (%s, %s)\n", *out, *format, humanBytes(float64(n)))
	return nil
}

func formatFromExt(name string) string {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".arrow", ".arrows", ".ipc":
		return "arrow"
	case ".csv":
		return "csv"
	case ".jsonl", ".ndjson":
		return "jsonl"
	}
	return "parquet"
}

// expectedRows asks the node how many samples the selection holds, for the
// progress bar. It returns 0 when it cannot tell; the export goes on.
func expectedRows(c *apiClient, match string, start, end time.Time) int64 {
	rng := int64(math.Ceil(end.Sub(start).Seconds()))
	if rng <= 0 {
		return 0
	}
	resp, err := c.get("/api/v1/query", url.Values{
		"query": {fmt.Sprintf("sum(count_over_time(%s[%ds]))", match, rng)}, "time": {unixParam(end)}})
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var a struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if json.NewDecoder(resp.Body).Decode(&a) != nil || len(a.Data.Result) == 0 {
		return 0
	}
	var n float64
	fmt.Sscan(fmt.Sprint(a.Data.Result[0].Value[1]), &n)
	return int64(n)
}

// progress draws one live line on stderr: a bar when the row count is known
// and countable (the text formats have one row per line after the header),
// else bytes and rate.
type progress struct {
	total      int64
	countLines bool
	quiet      bool
	start      time.Time
	bytes      int64
	lines      int64
	last       time.Time
}

func (p *progress) Write(b []byte) (int, error) {
	p.bytes += int64(len(b))
	if p.countLines {
		p.lines += int64(bytes.Count(b, []byte{'\n'}))
	}
	if now := time.Now(); now.Sub(p.last) >= 200*time.Millisecond {
		p.last = now
		p.draw()
	}
	return len(b), nil
}

func (p *progress) draw() {
	if p.quiet {
		return
	}
	el := time.Since(p.start).Seconds()
	rate := humanBytes(float64(p.bytes)/max(el, 1e-3)) + "/s"
	if p.countLines && p.total > 0 {
		rows := max(p.lines-1, 0) // the CSV header; JSON lines has none, so this errs low by one
		frac := min(float64(rows)/float64(p.total), 1)
		const width = 30
		bar := strings.Repeat("█", int(frac*width)) + strings.Repeat("░", width-int(frac*width))
		fmt.Fprintf(os.Stderr, "\r%s %5.1f%%  %d/%d rows  %s  %s ", bar, frac*100, rows, p.total, humanBytes(float64(p.bytes)), rate)
		return
	}
	if p.total > 0 {
		fmt.Fprintf(os.Stderr, "\rreceived %s  %s  (%d rows) ", humanBytes(float64(p.bytes)), rate, p.total)
		return
	}
	fmt.Fprintf(os.Stderr, "\rreceived %s  %s ", humanBytes(float64(p.bytes)), rate)
}

func (p *progress) finish() {
	p.draw()
	if !p.quiet {
		fmt.Fprintln(os.Stderr)
	}
}

func humanBytes(b float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for b >= 1024 && i < len(units)-1 {
		b /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %s", b, units[i])
}
