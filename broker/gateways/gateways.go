// Package gateways reads and writes the gateways file: the list of gateways
// a Quantrac node admits over MQTT, each with its province, a bcrypt hash of
// its password and the common name of its client certificate.
//
// The broker loads the file at start and again on SIGHUP; `quantrac gateway`
// edits it. The format is line-based so that operators can read, grep and
// diff it; docs/security.md specifies it. Version 1:
//
//	quantrac-gateways 1
//	# id         province   password-hash                                                  cert-cn
//	hn-gw-001    ha-noi       $2a$10$...(60 characters)   -
//	hc-gw-017    ho-chi-minh  -                           hc-gw-017.gw.example.vn
//
// Blank lines and lines starting with '#' are ignored. The first other line
// is the version line. Each entry is a gateway id, a province slug, a bcrypt
// hash or "-", and the rest of the line is the certificate common name (which
// may contain spaces) or "-". An entry needs a hash, a common name or both.
package gateways

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/quantrac/quantrac/ingest"
	"github.com/quantrac/quantrac/province"
)

// Version is the file format version this package reads and writes.
const Version = 1

const (
	versionKeyword = "quantrac-gateways"
	none           = "-"
	// MaxIDLen bounds a gateway id, which is also an MQTT client id and a
	// label value.
	MaxIDLen = ingest.MaxGatewayIDLen
	// ReservedID is mochi's own inline client id; a gateway may not take it.
	ReservedID = "inline"
	// maxLineLen bounds a line of the file, so a corrupt file cannot make
	// the reader buffer without limit.
	maxLineLen = 4096
)

// Entry is one gateway.
type Entry struct {
	// ID is the gateway id: its MQTT username and client id, and the
	// gateway label of its series.
	ID string
	// Province is the slug of the province the gateway writes for.
	Province string
	// PasswordHash is a bcrypt hash, or empty when the gateway
	// authenticates by certificate only.
	PasswordHash string
	// CertCN is the common name of the gateway's client certificate, or
	// empty when it authenticates by password only.
	CertCN string
}

// ValidID reports whether id is a well-formed gateway id: 1 to 64 letters,
// digits, '-' or '_' (ingest.ValidGatewayID). It does not allocate.
func ValidID(id string) bool { return ingest.ValidGatewayID(id) }

// Validate reports whether e is a usable entry on its own.
func (e *Entry) Validate() error {
	if !ValidID(e.ID) {
		return fmt.Errorf("invalid gateway id %q: want 1 to %d letters, digits, '-' or '_'", e.ID, MaxIDLen)
	}
	if e.ID == ReservedID {
		return fmt.Errorf("gateway id %q is reserved", e.ID)
	}
	if _, ok := province.Lookup(e.Province); !ok {
		return fmt.Errorf("gateway %s: unknown province slug %q", e.ID, e.Province)
	}
	if e.PasswordHash == "" && e.CertCN == "" {
		return fmt.Errorf("gateway %s: neither a password hash nor a certificate common name", e.ID)
	}
	if e.PasswordHash != "" {
		if _, err := bcrypt.Cost([]byte(e.PasswordHash)); err != nil {
			return fmt.Errorf("gateway %s: password hash is not bcrypt: %w", e.ID, err)
		}
	}
	if e.CertCN == none || strings.ContainsAny(e.CertCN, "\r\n") || strings.TrimSpace(e.CertCN) != e.CertCN {
		return fmt.Errorf("gateway %s: invalid certificate common name %q", e.ID, e.CertCN)
	}
	return nil
}

// ParseError is a problem at one line of a gateways file.
type ParseError struct {
	Line int
	Err  error
}

func (e *ParseError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e *ParseError) Unwrap() error { return e.Err }

// Parse reads a gateways file. It returns the entries in file order, or the
// first problem found: a file with any bad line is refused whole, so that a
// typo never silently locks a gateway out or lets one in.
func Parse(r io.Reader) ([]Entry, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 512), maxLineLen)
	var (
		entries    []Entry
		sawVersion bool
		ids        = map[string]int{}
		cns        = map[string]int{}
	)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		if !sawVersion {
			if err := parseVersion(line); err != nil {
				return nil, &ParseError{n, err}
			}
			sawVersion = true
			continue
		}
		e, err := parseEntry(line)
		if err != nil {
			return nil, &ParseError{n, err}
		}
		if prev, dup := ids[e.ID]; dup {
			return nil, &ParseError{n, fmt.Errorf("gateway %s already defined at line %d", e.ID, prev)}
		}
		ids[e.ID] = n
		if e.CertCN != "" {
			if prev, dup := cns[e.CertCN]; dup {
				return nil, &ParseError{n, fmt.Errorf("certificate common name %q already used at line %d", e.CertCN, prev)}
			}
			cns[e.CertCN] = n
		}
		entries = append(entries, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("cannot read gateways file: %w", err)
	}
	if !sawVersion {
		return nil, fmt.Errorf("not a gateways file: no %q line", versionKeyword)
	}
	return entries, nil
}

func parseVersion(line string) error {
	kw, v, _ := strings.Cut(line, " ")
	if kw != versionKeyword {
		return fmt.Errorf("not a gateways file: want %q first, found %q", versionKeyword+" 1", line)
	}
	if strings.TrimSpace(v) != "1" {
		return fmt.Errorf("unsupported gateways file version %q (this build reads %d)", strings.TrimSpace(v), Version)
	}
	return nil
}

func parseEntry(line string) (Entry, error) {
	var f [3]string
	rest := line
	for i := range f {
		rest = strings.TrimLeft(rest, " \t")
		end := strings.IndexAny(rest, " \t")
		if end < 0 {
			return Entry{}, fmt.Errorf("want: id province password-hash cert-cn, found %d fields", i+1)
		}
		f[i], rest = rest[:end], rest[end:]
	}
	cn := strings.TrimSpace(rest)
	if cn == "" {
		return Entry{}, errors.New("want: id province password-hash cert-cn, found 3 fields")
	}
	e := Entry{ID: f[0], Province: f[1], PasswordHash: f[2], CertCN: cn}
	if e.PasswordHash == none {
		e.PasswordHash = ""
	}
	if e.CertCN == none {
		e.CertCN = ""
	}
	return e, e.Validate()
}

// Append appends the file form of entries to dst, with the version line and
// a header comment, and returns the extended slice.
func Append(dst []byte, entries []Entry) []byte {
	dst = append(dst, "# Quantrac gateways file, managed by `quantrac gateway`; format in docs/security.md.\n"...)
	dst = append(dst, versionKeyword+" 1\n"...)
	w := [3]int{len("# id"), len("province"), len("password-hash")}
	for _, e := range entries {
		w[0] = max(w[0], len(e.ID))
		w[1] = max(w[1], len(e.Province))
		w[2] = max(w[2], len(e.PasswordHash))
	}
	dst = appendRow(dst, w, "# id", "province", "password-hash", "cert-cn")
	for _, e := range entries {
		dst = appendRow(dst, w, e.ID, e.Province, orNone(e.PasswordHash), orNone(e.CertCN))
	}
	return dst
}

func appendRow(dst []byte, w [3]int, a, b, c, d string) []byte {
	for i, s := range [3]string{a, b, c} {
		dst = append(dst, s...)
		dst = append(dst, bytes.Repeat([]byte{' '}, w[i]-len(s)+2)...)
	}
	dst = append(dst, d...)
	return append(dst, '\n')
}

func orNone(s string) string {
	if s == "" {
		return none
	}
	return s
}

// HashPassword returns the bcrypt hash of password at the given cost
// (bcrypt.MinCost to bcrypt.MaxCost).
func HashPassword(password []byte, cost int) (string, error) {
	if cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
		return "", fmt.Errorf("cannot hash password: cost %d outside %d..%d", cost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	h, err := bcrypt.GenerateFromPassword(password, cost)
	if err != nil {
		return "", fmt.Errorf("cannot hash password: %w", err)
	}
	return string(h), nil
}

// CheckPassword reports whether password matches the bcrypt hash. It takes as
// long as the hash's cost makes it take.
func CheckPassword(hash string, password []byte) bool {
	return bcrypt.CompareHashAndPassword([]byte(hash), password) == nil
}
