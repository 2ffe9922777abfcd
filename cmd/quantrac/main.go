// Command quantrac is the Quantrac node and its command-line tools.
//
//	quantrac serve     run the node: MQTT broker, ingest, store, HTTP API
//	quantrac gateway   manage the gateways file the MQTT broker admits
//	quantrac query     run a PromQL query and print a table
//	quantrac export    stream a selection to a file
//	quantrac token     manage readers' tokens
//
// Run `quantrac <command> -h` for a command's flags.
package main

import (
	"fmt"
	"os"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

type command struct {
	name    string
	summary string
	run     func(args []string) error
}

func commands() []command {
	return []command{
		{"serve", "run the node: MQTT broker, ingest, store and HTTP API", runServe},
		{"gateway", "manage the gateways file: add, list, remove", runGateway},
		{"query", "run a PromQL query against a node and print a table", runQuery},
		{"export", "stream a selection to a Parquet, Arrow, CSV or JSON lines file", runExport},
		{"token", "add, list or revoke readers' tokens", runToken},
		{"inspect", "report the partitions, parts, series and bytes per sample of a data directory", runInspect},
		{"version", "print the version", func([]string) error { fmt.Println(version); return nil }},
	}
}

func usage() {
	fmt.Fprintf(os.Stderr, "Quantrac %s: IoT telemetry ingestion for provincial gateways.\n\nUsage: quantrac <command> [flags]\n\nCommands:\n", version)
	for _, c := range commands() {
		fmt.Fprintf(os.Stderr, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(os.Stderr, "\nRun 'quantrac <command> -h' for a command's flags.\n")
}

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	name := os.Args[1]
	if name == "-h" || name == "--help" || name == "help" {
		usage()
		return
	}
	for _, c := range commands() {
		if c.name == name {
			if err := c.run(os.Args[2:]); err != nil {
				fmt.Fprintf(os.Stderr, "quantrac %s: %v\n", name, err)
				os.Exit(1)
			}
			return
		}
	}
	fmt.Fprintf(os.Stderr, "quantrac: unknown command %q\n\n", name)
	usage()
	os.Exit(2)
}
