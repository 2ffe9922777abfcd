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
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *name == "" || *provinces == "" {
		return errors.New("--name and --provinces are required")
	}
	if err := os.MkdirAll(filepath.Dir(*file), 0o755); err != nil {
		return fmt.Errorf("cannot create the tokens file's directory: %w", err)
	}
	secret, tok, err := access.AddToken(*file, access.AddRequest{
		Name: *name, Provinces: strings.Split(*provinces, ","), Export: *exp,
	}, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "token %q added to %s; it reads %s%s.\nThis is the only time it is shown:\n",
		tok.Name, *file, strings.Join(tok.Provinces, ","), map[bool]string{true: " and may export"}[tok.Export])
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
	fmt.Fprintln(tw, "NAME\tPROVINCES\tEXPORT\tCREATED")
	for _, t := range toks {
		fmt.Fprintf(tw, "%s\t%s\t%v\t%s\n", t.Name, strings.Join(t.Provinces, ","), t.Export, t.Created.Format(time.RFC3339))
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
