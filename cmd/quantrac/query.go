package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

func runQuery(args []string) error {
	fs := flag.NewFlagSet("query", flag.ContinueOnError)
	client := clientFlags(fs)
	start := fs.String("start", "", "range start (RFC 3339, Unix seconds, or a duration ago like 1h); empty: an instant query")
	end := fs.String("end", "now", "range end, or the instant of an instant query")
	step := fs.Duration("step", time.Minute, "range query resolution")
	asJSON := fs.Bool("json", false, "print the API's JSON answer instead of a table")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: quantrac query [flags] 'PROMQL'")
		fs.PrintDefaults()
	}
	// Allow flags after the expression, as people type them.
	var expr []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		expr = append(expr, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(expr) != 1 {
		fs.Usage()
		return errors.New("want exactly one PromQL expression")
	}
	c, err := client()
	if err != nil {
		return err
	}
	now := time.Now()
	te, err := parseWhen(*end, now)
	if err != nil {
		return err
	}
	params := url.Values{"query": {expr[0]}}
	path := "/api/v1/query"
	if *start != "" {
		ts, err := parseWhen(*start, now)
		if err != nil {
			return err
		}
		path = "/api/v1/query_range"
		params.Set("start", unixParam(ts))
		params.Set("end", unixParam(te))
		params.Set("step", fmt.Sprintf("%g", step.Seconds()))
	} else {
		params.Set("time", unixParam(te))
	}
	resp, err := c.get(path, params)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("cannot read answer: %w", err)
	}
	if *asJSON {
		_, err := os.Stdout.Write(append(body, '\n'))
		return err
	}
	return printResult(os.Stdout, body)
}

type queryAnswer struct {
	Data struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	} `json:"data"`
	Warnings []string `json:"warnings"`
}

type seriesAnswer struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
	Values [][2]any          `json:"values"`
}

// printResult prints a query answer as a table: one column per label, then
// the time and the value; a range answer has one row per point.
func printResult(w io.Writer, body []byte) error {
	var a queryAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return fmt.Errorf("cannot decode answer: %w", err)
	}
	for _, warn := range a.Warnings {
		fmt.Fprintln(os.Stderr, "warning:", warn)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	switch a.Data.ResultType {
	case "scalar", "string":
		var p [2]any
		if err := json.Unmarshal(a.Data.Result, &p); err != nil {
			return fmt.Errorf("cannot decode %s: %w", a.Data.ResultType, err)
		}
		fmt.Fprintln(tw, "TIME\tVALUE")
		fmt.Fprintf(tw, "%s\t%v\n", fmtTime(p[0]), p[1])
		return tw.Flush()
	}
	var series []seriesAnswer
	if err := json.Unmarshal(a.Data.Result, &series); err != nil {
		return fmt.Errorf("cannot decode %s: %w", a.Data.ResultType, err)
	}
	var names []string
	for _, s := range series {
		for n := range s.Metric {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	slices.Sort(names)
	header := make([]string, 0, len(names)+2)
	for _, n := range names {
		header = append(header, strings.ToUpper(strings.TrimPrefix(strings.TrimSuffix(n, "__"), "__")))
	}
	fmt.Fprintln(tw, strings.Join(append(header, "TIME", "VALUE"), "\t"))
	rows := 0
	for _, s := range series {
		cells := make([]string, 0, len(names))
		for _, n := range names {
			cells = append(cells, s.Metric[n])
		}
		points := s.Values
		if points == nil {
			points = [][2]any{s.Value}
		}
		for _, p := range points {
			row := append(slices.Clone(cells), fmtTime(p[0]), fmt.Sprint(p[1]))
			fmt.Fprintln(tw, strings.Join(row, "\t"))
			rows++
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "%d series, %d rows\n", len(series), rows)
	return nil
}

func fmtTime(v any) string {
	f, ok := v.(float64)
	if !ok {
		return fmt.Sprint(v)
	}
	return time.UnixMilli(int64(f * 1000)).UTC().Format("2006-01-02T15:04:05.000Z")
}
