package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/quantrac/quantrac/access"
)

const defaultTokensFile = "./data/tokens.json"

func runToken(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: quantrac token add|list|revoke [flags]")
	}
	switch args[0] {
	case "add":
		return tokenAdd(args[1:])
	case "list":
		return tokenList(args[1:])
	case "revoke":
		return tokenRevoke(args[1:])
	}
	return fmt.Errorf("unknown token command %q: want add, list or revoke", args[0])
}

func tokenAdd(args []string) error {
	fs := flag.NewFlagSet("token add", flag.ContinueOnError)
	file := fs.String("tokens", defaultTokensFile, "tokens file")
	name := fs.String("name", "", "token name: who holds it (required)")
	provinces := fs.String("provinces", "", `comma-separated province slugs it may read, or "*" for all (required)`)
	exp := fs.Bool("export", false, "may use the bulk export endpoint")
	writeGW := fs.String("write-gateway", "", "make a write token for this gateway id (one province): HTTP line protocol")
	relay := fs.Bool("relay", false, "make a write token for another node's remote write, for --provinces")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var grant *access.WriteGrant
	if *writeGW != "" || *relay {
		grant = &access.WriteGrant{Gateway: *writeGW, Relay: *relay}
	}
	if *name == "" || *provinces == "" {
		return errors.New("--name and --provinces are required")
	}
	if err := os.MkdirAll(filepath.Dir(*file), 0o755); err != nil {
		return fmt.Errorf("cannot create the tokens file's directory: %w", err)
	}
	secret, tok, err := access.AddToken(*file, access.AddRequest{
		Name: *name, Provinces: strings.Split(*provinces, ","), Export: *exp, Write: grant,
	}, time.Now())
	if err != nil {
		return err
	}
	what := "reads " + strings.Join(tok.Provinces, ",") + map[bool]string{true: " and may export"}[tok.Export]
	switch {
	case grant != nil && grant.Relay:
		what = "relays remote writes for " + strings.Join(tok.Provinces, ",")
	case grant != nil:
		what = "writes as gateway " + tok.Provinces[0] + "/" + grant.Gateway
	}
	fmt.Fprintf(os.Stderr, "token %q added to %s; it %s.\nThis is the only time it is shown:\n", tok.Name, *file, what)
	fmt.Println(secret)
	return nil
}

func tokenList(args []string) error {
	fs := flag.NewFlagSet("token list", flag.ContinueOnError)
	file := fs.String("tokens", defaultTokensFile, "tokens file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	toks, err := access.LoadTokens(*file)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tPROVINCES\tEXPORT\tCREATED")
	for _, t := range toks {
		kind := "read"
		switch {
		case t.Write != nil && t.Write.Relay:
			kind = "write: relay"
		case t.Write != nil:
			kind = "write: gateway " + t.Write.Gateway
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\n", t.Name, kind, strings.Join(t.Provinces, ","), t.Export, t.Created.Format(time.RFC3339))
	}
	return tw.Flush()
}

func tokenRevoke(args []string) error {
	fs := flag.NewFlagSet("token revoke", flag.ContinueOnError)
	file := fs.String("tokens", defaultTokensFile, "tokens file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: quantrac token revoke [--tokens FILE] NAME")
	}
	if err := access.RevokeToken(*file, fs.Arg(0)); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "token %q revoked; a running server drops it on SIGHUP or restart\n", fs.Arg(0))
	return nil
}
