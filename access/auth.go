package access

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
)

// ErrUnauthenticated is returned by Authenticate for a missing, malformed
// or unknown token. It does not say which, so that it is no oracle; the HTTP
// layer answers 401.
var ErrUnauthenticated = errors.New("unauthenticated: missing or unknown token")

// ErrExportDenied is what callers return (HTTP 403) when a token without
// the export grant asks for a bulk export; see Scope.CanExport.
var ErrExportDenied = errors.New("forbidden: token may not export")

// Authenticator checks bearer tokens against the tokens file. It is safe
// for concurrent use; Reload swaps the whole set at once.
//
// Tokens are stored as SHA-256 hashes. A token carries 256 random bits, so
// recovering one from its hash means searching 2^256 values, and a slow
// password hash (bcrypt, scrypt, argon2) would add nothing but its cost:
// those exist to stretch low-entropy passwords. That cost would be paid on
// every request (Grafana sends a dozen queries per dashboard refresh) and
// would hand anyone with a wrong token a cheap way to burn CPU; bcrypt also
// ignores input past 72 bytes.
type Authenticator struct {
	path   string
	logger *slog.Logger

	mu struct {
		sync.RWMutex
		entries []entry
	}
}

type entry struct {
	hash  [sha256.Size]byte
	scope Scope
	write *WriteGrant // nil for a read token
}

// NewAuthenticator loads the tokens file at path. The file must exist
// (`quantrac token add` creates it).
func NewAuthenticator(path string, logger *slog.Logger) (*Authenticator, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	a := &Authenticator{path: path, logger: logger}
	if err := a.Reload(); err != nil {
		return nil, err
	}
	return a, nil
}

// Reload rereads the tokens file; the server calls it on SIGHUP. If the
// file cannot be read or is invalid, the tokens loaded before stay in force
// and the error is returned.
func (a *Authenticator) Reload() error {
	tokens, err := LoadTokens(a.path)
	if err != nil {
		return err
	}
	entries := make([]entry, 0, len(tokens))
	for _, t := range tokens {
		var e entry
		if _, err := hex.Decode(e.hash[:], []byte(t.SHA256)); err != nil {
			panic(fmt.Sprintf("BUG: validated token %q has a bad hash: %v", t.Name, err))
		}
		if e.scope, err = NewScope(t.Name, t.Provinces, t.Export); err != nil {
			panic(fmt.Sprintf("BUG: validated token %q has a bad scope: %v", t.Name, err))
		}
		e.write = t.Write
		entries = append(entries, e)
	}
	if fi, err := os.Stat(a.path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		a.logger.Warn("tokens file is readable by other users; want mode 0600",
			"path", a.path, "mode", fi.Mode().Perm().String())
	}
	a.mu.Lock()
	a.mu.entries = entries
	a.mu.Unlock()
	a.logger.Info("tokens loaded", "path", a.path, "tokens", len(entries))
	return nil
}

// Len returns the number of tokens in force.
func (a *Authenticator) Len() int {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return len(a.mu.entries)
}

// Authenticate returns the scope of the read token bearer (the credential
// alone, without the "Bearer " scheme; see BearerToken).
//
// A write token does not authenticate here: it may write, not read.
func (a *Authenticator) Authenticate(bearer string) (Scope, error) {
	e, ok := a.lookup(bearer)
	if !ok || e.write != nil {
		return Scope{}, ErrUnauthenticated
	}
	return e.scope, nil
}

// Writer is what a write token may write.
type Writer struct {
	// Name is the token's name, for logs and counters.
	Name string
	// Province and Gateway are set for a gateway's token: its readings are
	// labelled with them.
	Province, Gateway string
	// Relay is set for a relay token: each series carries its own province
	// and gateway, which Allows must accept.
	Relay bool
	scope Scope
}

// Allows reports whether the writer may write series of province slug.
func (w Writer) Allows(slug string) bool { return w.scope.Allows(slug) }

// AuthenticateWriter returns what the write token bearer may write. A read
// token does not authenticate here.
func (a *Authenticator) AuthenticateWriter(bearer string) (Writer, error) {
	e, ok := a.lookup(bearer)
	if !ok || e.write == nil {
		return Writer{}, ErrUnauthenticated
	}
	w := Writer{Name: e.scope.Token(), Relay: e.write.Relay, scope: e.scope}
	if !w.Relay {
		w.Province, w.Gateway = e.scope.Provinces()[0], e.write.Gateway
	}
	return w, nil
}

// lookup finds bearer's entry. The token's hash is compared with every entry
// in constant time and the loop never stops early, so the time taken says
// nothing about which entry, if any, was close.
func (a *Authenticator) lookup(bearer string) (entry, bool) {
	if bearer == "" {
		return entry{}, false
	}
	sum := sha256.Sum256([]byte(bearer))
	a.mu.RLock()
	defer a.mu.RUnlock()
	found := -1
	for i := range a.mu.entries {
		if subtle.ConstantTimeCompare(sum[:], a.mu.entries[i].hash[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return entry{}, false
	}
	return a.mu.entries[found], true
}

// BearerToken extracts the credential from an Authorization header value
// ("Bearer <token>", scheme case-insensitive, RFC 6750).
func BearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
