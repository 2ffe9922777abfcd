package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/quantrac/quantrac/forward"
)

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// forwardFlags registers the forwarding flags of `quantrac serve` into o
// (docs/deployment.md describes each). The flags' credentials, TLS,
// selectors, labels and queue bound apply to every --forward-url; a
// destination that needs its own goes in the --forward-config file. The
// returned function builds the destinations; call it after Parse.
func forwardFlags(fs *flag.FlagSet, o *forward.Options) (finish func() error) {
	var urls, match, lbls listFlag
	fs.Var(&urls, "forward-url", "forward every stored sample by remote write to `[NAME=]URL`, e.g. https://national.example/api/v1/write (repeatable)")
	fs.Var(&match, "forward-match", "series `selector` to forward, e.g. '{province=\"ha-noi\"}' (repeatable; default every series)")
	fs.Var(&lbls, "forward-label", "`name=value` label added to every forwarded series that lacks it, e.g. region=north (repeatable)")
	var (
		config    = fs.String("forward-config", "", "JSON `file` of forwarding destinations, each with its own credentials, TLS, match and labels")
		bearer    = fs.String("forward-bearer-token-file", "", "`file` holding the bearer token of the --forward-url destinations")
		basicUser = fs.String("forward-basic-auth-user", "", "basic-auth user name of the --forward-url destinations")
		basicPass = fs.String("forward-basic-auth-password-file", "", "`file` holding the basic-auth password")
		caFile    = fs.String("forward-tls-ca-file", "", "PEM `file` of the CAs trusted for https destinations (default the system's)")
		maxQueue  = fs.String("forward-max-queue-bytes", "1GiB", "undelivered bytes kept per --forward-url destination; past it the oldest are dropped")
	)
	return func() error {
		if *config != "" {
			cfg, err := forward.LoadConfig(*config)
			if err != nil {
				return err
			}
			o.SegmentBytes = cfg.SegmentBytes
			o.Destinations = append(o.Destinations, cfg.Destinations...)
		}
		if len(urls) == 0 {
			if len(match)+len(lbls) > 0 || *bearer+*basicUser+*basicPass+*caFile != "" {
				return fmt.Errorf("--forward-match, --forward-label and the --forward credentials need a --forward-url")
			}
			return nil
		}
		queue, err := forward.ParseSize(*maxQueue)
		if err != nil {
			return fmt.Errorf("--forward-max-queue-bytes: %w", err)
		}
		labels := map[string]string{}
		for _, l := range lbls {
			k, v, ok := strings.Cut(l, "=")
			if !ok {
				return fmt.Errorf("--forward-label %q: want name=value", l)
			}
			labels[k] = v
		}
		for _, u := range urls {
			name, raw := forward.ParseURL(u)
			d := forward.Destination{Name: name, URL: raw, BearerTokenFile: *bearer,
				TLS: forward.TLSOptions{CAFile: *caFile}, Match: match, Labels: labels, MaxQueueBytes: queue}
			if *basicUser != "" || *basicPass != "" {
				d.BasicAuth = &forward.BasicAuth{Username: *basicUser, PasswordFile: *basicPass}
			}
			o.Destinations = append(o.Destinations, d)
		}
		return nil
	}
}
