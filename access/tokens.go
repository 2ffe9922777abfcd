package access

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/quantrac/quantrac/ingest"
	"github.com/quantrac/quantrac/internal/fsutil"
)

// FileVersion is the tokens file format version this package reads and
// writes.
const FileVersion = 1

// TokenPrefix starts every token, so that secret scanners and people can
// tell a Quantrac read token from other strings.
const TokenPrefix = "qtr_"

// tokenBytes is the token's entropy: 256 bits from crypto/rand.
const tokenBytes = 32

// Token is one entry of the tokens file. It holds the SHA-256 of the token,
// never the token itself.
type Token struct {
	Name      string    `json:"name"`
	SHA256    string    `json:"sha256"`    // hex of SHA-256 of the whole token string
	Provinces []string  `json:"provinces"` // province slugs, or ["*"]
	Export    bool      `json:"export"`
	Created   time.Time `json:"created"`
	// Write, when set, makes this a write token: it may write over HTTP as
	// the grant says, and may not read.
	Write *WriteGrant `json:"write,omitempty"`
}

// WriteGrant is what a write token may write. Exactly one of its fields is
// set.
type WriteGrant struct {
	// Gateway makes the token one gateway's, for HTTP line protocol: its
	// readings are labelled with the token's one province and this gateway
	// id, as MQTT publishes are.
	Gateway string `json:"gateway,omitempty"`
	// Relay lets the token write series that carry their own province and
	// gateway labels, for the token's provinces: remote write from another
	// node.
	Relay bool `json:"relay,omitempty"`
}

// tokensFile is the on-disk document.
type tokensFile struct {
	Version int     `json:"version"`
	Tokens  []Token `json:"tokens"`
}

// ErrNoSuchToken is returned by Revoke for a name the file does not hold.
var ErrNoSuchToken = errors.New("no such token")

// ErrTokenExists is returned by Add for a name the file already holds.
var ErrTokenExists = errors.New("token name already in use")

// ParseTokens decodes and validates a tokens file. Unknown fields are
// refused: in an access-control file a misspelt field ("exports") must not
// silently mean its default.
func ParseTokens(data []byte) ([]Token, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f tokensFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("cannot parse tokens file: %w", err)
	}
	if dec.More() {
		return nil, errors.New("cannot parse tokens file: data after the document")
	}
	if f.Version != FileVersion {
		return nil, fmt.Errorf("cannot parse tokens file: version %d, want %d", f.Version, FileVersion)
	}
	seen := make(map[string]bool, len(f.Tokens))
	for i, t := range f.Tokens {
		if err := t.validate(); err != nil {
			return nil, fmt.Errorf("cannot parse tokens file: entry %d: %w", i, err)
		}
		if seen[t.Name] {
			return nil, fmt.Errorf("cannot parse tokens file: entry %d: name %q used twice", i, t.Name)
		}
		seen[t.Name] = true
	}
	return f.Tokens, nil
}

// validate checks one entry.
func (t Token) validate() error {
	if err := validName(t.Name); err != nil {
		return err
	}
	if h, err := hex.DecodeString(t.SHA256); err != nil || len(h) != sha256.Size {
		return fmt.Errorf("token %q: sha256 is not 64 hex digits", t.Name)
	}
	if _, err := NewScope(t.Name, t.Provinces, t.Export); err != nil {
		return err
	}
	if err := t.Write.validate(t); err != nil {
		return err
	}
	if t.Created.IsZero() {
		return fmt.Errorf("token %q: no created time", t.Name)
	}
	return nil
}

func (g *WriteGrant) validate(t Token) error {
	switch {
	case g == nil:
		return nil
	case t.Export:
		return fmt.Errorf("token %q: a write token cannot export", t.Name)
	case g.Relay == (g.Gateway != ""):
		return fmt.Errorf("token %q: a write grant names either a gateway or relay, not both or neither", t.Name)
	case g.Gateway != "" && (len(t.Provinces) != 1 || t.Provinces[0] == AllProvinces):
		return fmt.Errorf("token %q: a gateway's write token names exactly one province", t.Name)
	case g.Gateway != "" && !ingest.ValidGatewayID(g.Gateway):
		return fmt.Errorf("token %q: gateway id %q: want 1 to 64 letters, digits, '-' or '_'", t.Name, g.Gateway)
	}
	return nil
}

// validName accepts 1 to 64 letters, digits, '.', '-' and '_': names go into
// logs and audit records unquoted.
func validName(name string) error {
	if len(name) == 0 || len(name) > 64 {
		return fmt.Errorf("token name %q: want 1 to 64 characters", name)
	}
	for _, c := range []byte(name) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_'
		if !ok {
			return fmt.Errorf("token name %q: only letters, digits, '.', '-' and '_' are allowed", name)
		}
	}
	return nil
}

// LoadTokens reads and validates the tokens file at path. A missing file is
// an error that wraps fs.ErrNotExist.
func LoadTokens(path string) ([]Token, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read tokens file: %w", err)
	}
	tokens, err := ParseTokens(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return tokens, nil
}

// SaveTokens writes tokens to path atomically: to a temporary file in the
// same directory with mode 0600, fsynced, renamed over path, and the
// directory fsynced, so a crash leaves either the old file or the new one.
func SaveTokens(path string, tokens []Token) error {
	if tokens == nil {
		tokens = []Token{}
	}
	data, err := json.MarshalIndent(tokensFile{Version: FileVersion, Tokens: tokens}, "", "  ")
	if err != nil {
		return fmt.Errorf("cannot encode tokens file: %w", err)
	}
	data = append(data, '\n')
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("cannot write tokens file: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if err := writeSynced(tmp, data); err != nil {
		return fmt.Errorf("cannot write tokens file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("cannot write tokens file: %w", err)
	}
	if err := fsutil.SyncDir(dir); err != nil {
		return fmt.Errorf("cannot write tokens file: %w", err)
	}
	return nil
}

// writeSynced sets f's mode to 0600, writes data, fsyncs and closes f.
func writeSynced(f *os.File, data []byte) error {
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// AddRequest describes a token to create.
type AddRequest struct {
	Name      string
	Provinces []string // slugs, or ["*"]
	Export    bool
	Write     *WriteGrant // nil for a read token
}

// AddToken creates a token, records its hash in the tokens file at path
// (creating the file if missing) and returns the token. The token is
// shown to nobody else and cannot be recovered: the caller prints it once.
func AddToken(path string, req AddRequest, now time.Time) (string, Token, error) {
	if err := validName(req.Name); err != nil {
		return "", Token{}, fmt.Errorf("cannot add token: %w", err)
	}
	if _, err := NewScope(req.Name, req.Provinces, req.Export); err != nil {
		return "", Token{}, fmt.Errorf("cannot add token: %w", err)
	}
	if err := req.Write.validate(Token{Name: req.Name, Provinces: req.Provinces, Export: req.Export}); err != nil {
		return "", Token{}, fmt.Errorf("cannot add token: %w", err)
	}
	secret := newSecret()
	sum := sha256.Sum256([]byte(secret))
	tok := Token{
		Name:      req.Name,
		SHA256:    hex.EncodeToString(sum[:]),
		Provinces: slices.Clone(req.Provinces),
		Export:    req.Export,
		Created:   now.UTC().Truncate(time.Second),
		Write:     req.Write,
	}
	err := editTokens(path, func(tokens []Token) ([]Token, error) {
		if slices.ContainsFunc(tokens, func(t Token) bool { return t.Name == req.Name }) {
			return nil, fmt.Errorf("%q: %w", req.Name, ErrTokenExists)
		}
		return append(tokens, tok), nil
	})
	if err != nil {
		return "", Token{}, fmt.Errorf("cannot add token: %w", err)
	}
	return secret, tok, nil
}

// RevokeToken removes the named token from the file at path. A running
// server stops accepting it at its next reload.
func RevokeToken(path, name string) error {
	err := editTokens(path, func(tokens []Token) ([]Token, error) {
		i := slices.IndexFunc(tokens, func(t Token) bool { return t.Name == name })
		if i < 0 {
			return nil, fmt.Errorf("%q: %w", name, ErrNoSuchToken)
		}
		return slices.Delete(tokens, i, i+1), nil
	})
	if err != nil {
		return fmt.Errorf("cannot revoke token: %w", err)
	}
	return nil
}

// editTokens applies edit to the file's tokens under an exclusive lock, so
// that two concurrent `quantrac token` commands do not lose each other's
// change. A missing file is edited as an empty one.
func editTokens(path string, edit func([]Token) ([]Token, error)) error {
	unlock, err := lockFile(path + ".lock")
	if err != nil {
		return err
	}
	defer unlock()
	tokens, err := LoadTokens(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	tokens, err = edit(tokens)
	if err != nil {
		return err
	}
	return SaveTokens(path, tokens)
}

// newSecret returns TokenPrefix and 256 random bits in unpadded base64url.
// crypto/rand.Read does not fail (it aborts the program if the system's
// random source is broken).
func newSecret() string {
	var b [tokenBytes]byte
	_, _ = rand.Read(b[:])
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}
