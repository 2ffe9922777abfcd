package main

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"golang.org/x/crypto/bcrypt"

	"github.com/quantrac/quantrac/broker/gateways"
)

const gatewayUsage = `Usage:
  quantrac gateway add    --file FILE --id ID --province SLUG [--cn NAME]
                          [--password-file F | --password-stdin | --no-password]
                          [--cost N] [--replace]
  quantrac gateway list   --file FILE
  quantrac gateway remove --file FILE --id ID

add, without --password-file, --password-stdin or --no-password, generates a
random password and prints it once on standard output. Passwords are never
taken as a flag value, which would land in the shell history and in ps.
After a change, send SIGHUP to the running node to apply it.
`

// runGateway manages the gateways file (docs/security.md).
func runGateway(args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, gatewayUsage)
		return errors.New("missing subcommand")
	}
	switch args[0] {
	case "add":
		return gatewayAdd(args[1:], os.Stdin, os.Stdout, os.Stderr)
	case "list":
		return gatewayList(args[1:], os.Stdout)
	case "remove":
		return gatewayRemove(args[1:], os.Stderr)
	case "-h", "--help", "help":
		fmt.Fprint(os.Stdout, gatewayUsage)
		return nil
	}
	fmt.Fprint(os.Stderr, gatewayUsage)
	return fmt.Errorf("unknown subcommand %q", args[0])
}

func gatewayFlags(name string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("gateway "+name, flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(fs.Output(), gatewayUsage) }
	return fs, fs.String("file", "", "gateways file (required)")
}

func parseGatewayFlags(fs *flag.FlagSet, file *string, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if *file == "" {
		return errors.New("--file is required")
	}
	return nil
}

// generatedPasswordBytes of randomness: 192 bits, far past any guessing.
const generatedPasswordBytes = 24

func gatewayAdd(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs, file := gatewayFlags("add")
	var (
		id      = fs.String("id", "", "gateway id: letters, digits, '-' or '_' (required)")
		prov    = fs.String("province", "", "province slug, e.g. ha-noi (required)")
		cn      = fs.String("cn", "", "common name of the gateway's client certificate")
		pwFile  = fs.String("password-file", "", "read the password from the first line of this file")
		pwStdin = fs.Bool("password-stdin", false, "read the password from the first line of standard input")
		noPw    = fs.Bool("no-password", false, "certificate only: no password (needs --cn)")
		cost    = fs.Int("cost", 0, "bcrypt cost (default 10 for a given password, 4 for a generated one)")
		replace = fs.Bool("replace", false, "replace the gateway if it exists (to rotate its password)")
	)
	if err := parseGatewayFlags(fs, file, args); err != nil {
		return err
	}
	sources := 0
	for _, set := range []bool{*pwFile != "", *pwStdin, *noPw} {
		if set {
			sources++
		}
	}
	if sources > 1 {
		return errors.New("give at most one of --password-file, --password-stdin and --no-password")
	}
	e := gateways.Entry{ID: *id, Province: *prov, CertCN: *cn}
	var generated []byte
	if !*noPw {
		pw, gen, err := readPassword(*pwFile, *pwStdin, stdin)
		if err != nil {
			return err
		}
		c := *cost
		if c == 0 {
			// bcrypt's cost guards guessable passwords; a generated one
			// cannot be guessed, and a cheap hash lets 10 000 gateways
			// reconnect after a restart in seconds (docs/security.md).
			c = bcrypt.DefaultCost
			if gen {
				c = bcrypt.MinCost
			}
		}
		if e.PasswordHash, err = gateways.HashPassword(pw, c); err != nil {
			return err
		}
		if gen {
			generated = pw
		} else if len(pw) < 16 {
			fmt.Fprintln(stderr, "warning: a password under 16 characters can be guessed; prefer a generated one")
		}
	}
	if err := e.Validate(); err != nil {
		return err
	}
	err := editGateways(*file, func(list []gateways.Entry) ([]gateways.Entry, error) {
		for i := range list {
			switch {
			case list[i].ID == e.ID && !*replace:
				return nil, fmt.Errorf("gateway %s exists; use --replace to replace it", e.ID)
			case list[i].ID == e.ID:
				list[i] = e
				return list, nil
			case e.CertCN != "" && list[i].CertCN == e.CertCN:
				return nil, fmt.Errorf("certificate common name %q is already gateway %s's", e.CertCN, list[i].ID)
			}
		}
		return append(list, e), nil
	})
	if err != nil {
		return err
	}
	if generated != nil {
		fmt.Fprintf(stderr, "gateway %s added; its password, shown once:\n", e.ID)
		fmt.Fprintln(stdout, string(generated))
	} else {
		fmt.Fprintf(stderr, "gateway %s added\n", e.ID)
	}
	fmt.Fprintln(stderr, "send SIGHUP to the running node to apply the change")
	return nil
}

// readPassword reads the password from a file or standard input, or
// generates one (gen set).
func readPassword(file string, fromStdin bool, stdin io.Reader) (pw []byte, gen bool, err error) {
	var line string
	switch {
	case file != "":
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, false, fmt.Errorf("cannot read password file: %w", err)
		}
		line, _, _ = strings.Cut(string(data), "\n")
	case fromStdin:
		line, err = bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, false, fmt.Errorf("cannot read password: %w", err)
		}
		line = strings.TrimSuffix(line, "\n")
	default:
		raw := make([]byte, generatedPasswordBytes)
		if _, err := rand.Read(raw); err != nil {
			return nil, false, fmt.Errorf("cannot generate password: %w", err)
		}
		return []byte(base64.RawURLEncoding.EncodeToString(raw)), true, nil
	}
	line = strings.TrimSuffix(line, "\r")
	switch {
	case len(line) < 8:
		return nil, false, errors.New("password under 8 characters")
	case len(line) > 72:
		return nil, false, errors.New("password over 72 bytes, bcrypt's limit")
	}
	return []byte(line), false, nil
}

func gatewayList(args []string, stdout io.Writer) error {
	fs, file := gatewayFlags("list")
	if err := parseGatewayFlags(fs, file, args); err != nil {
		return err
	}
	list, err := gateways.Read(*file)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPROVINCE\tAUTH\tCERT CN")
	for _, e := range list {
		auth := "password"
		switch {
		case e.PasswordHash != "" && e.CertCN != "":
			auth = "password, certificate"
		case e.PasswordHash == "":
			auth = "certificate"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.ID, e.Province, auth, e.CertCN)
	}
	return tw.Flush()
}

func gatewayRemove(args []string, stderr io.Writer) error {
	fs, file := gatewayFlags("remove")
	id := fs.String("id", "", "gateway id (required)")
	if err := parseGatewayFlags(fs, file, args); err != nil {
		return err
	}
	err := editGateways(*file, func(list []gateways.Entry) ([]gateways.Entry, error) {
		for i := range list {
			if list[i].ID == *id {
				return append(list[:i], list[i+1:]...), nil
			}
		}
		return nil, fmt.Errorf("no gateway %q in %s", *id, *file)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "gateway %s removed; send SIGHUP to the running node to disconnect it\n", *id)
	return nil
}

// editGateways applies edit to the file under its lock and writes the result
// atomically.
func editGateways(file string, edit func([]gateways.Entry) ([]gateways.Entry, error)) error {
	unlock, err := gateways.Lock(file)
	if err != nil {
		return err
	}
	defer unlock()
	list, err := gateways.ReadOrEmpty(file)
	if err != nil {
		return err
	}
	if list, err = edit(list); err != nil {
		return err
	}
	return gateways.Write(file, list)
}
