package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/quantrac/quantrac/tsdb"
)

// runInspect prints what a data directory holds: partitions, parts, series,
// samples, bytes on disk and bytes per sample. It only reads, so it may run
// beside a server; it says so when one holds the directory.
func runInspect(args []string) error {
	fs := flag.NewFlagSet("inspect", flag.ContinueOnError)
	dir := fs.String("data", "./data", "data directory")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	parts := fs.Bool("parts", false, "list every part under its partition")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	rep, err := tsdb.Inspect(*dir)
	if err != nil {
		return err
	}
	if rep.InUse {
		fmt.Fprintf(os.Stderr, "quantrac inspect: warning: a server holds %s; the figures may change while it runs\n", *dir)
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return printReport(os.Stdout, rep, *parts)
}

func printReport(w io.Writer, rep *tsdb.Report, parts bool) error {
	held := "no server holds it"
	if rep.InUse {
		held = "a server holds it"
	}
	fmt.Fprintf(w, "data directory %s (%s)\n", rep.Dir, held)
	fmt.Fprintf(w, "series %d in %d series files; WAL %d segments, %s not yet in parts\n\n",
		rep.Series, rep.SeriesFiles, rep.WALSegments, bytesText(rep.WALBytes))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "partition\tparts\tseries\tsamples\tbytes\tbytes/sample\tfirst sample\tlast sample\t")
	for _, p := range rep.Partitions {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%.3f\t%s\t%s\t\n", p.Name, len(p.Parts), p.Series, p.Samples,
			bytesText(p.Bytes), p.BytesPerSample, p.MinTime.Format(time.RFC3339), p.MaxTime.Format(time.RFC3339))
		if parts {
			for _, pt := range p.Parts {
				fmt.Fprintf(tw, "  %s\t\t%d\t%d\t%s\t%.3f\t%s\t%s\t\n", pt.Name, pt.Series, pt.Samples,
					bytesText(pt.Bytes), pt.BytesPerSample, pt.MinTime.Format(time.RFC3339), pt.MaxTime.Format(time.RFC3339))
			}
		}
	}
	fmt.Fprintf(tw, "total\t%d\t%d\t%d\t%s\t%.3f\t\t\t\n", rep.Parts, rep.Series, rep.Samples,
		bytesText(rep.Bytes), rep.BytesPerSample)
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, b := range rep.Broken {
		fmt.Fprintf(w, "unreadable: %s\n", b)
	}
	return nil
}

func bytesText(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
