// Package access decides what an analyst's token may read: the tokens file
// and its command-line edits, authentication of bearer tokens, the Scope a
// token grants (a set of provinces, and whether it may export), enforcement
// of that scope beneath the PromQL engine, and the audit log of reads and
// exports.
//
// A scope is enforced twice. Every selection the engine makes is narrowed by
// a province matcher before it reaches the store, and every series the store
// returns is checked again, so a store that mishandles a matcher still leaks
// nothing. docs/access.md describes the tokens file, the scope rules and
// the audit log.
package access

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/quantrac/quantrac/province"
)

// ProvinceLabel is the label that carries a series' province slug. The
// platform sets it from the gateway's authenticated identity, never from a
// payload, which is what makes it safe to scope on.
const ProvinceLabel = "province"

// AllProvinces is the provinces entry that grants every province.
const AllProvinces = "*"

// Scope is what one token may read. The zero Scope may read nothing.
// A Scope is immutable and safe for concurrent use.
type Scope struct {
	token     string
	all       bool
	provinces []string // sorted, unique, valid slugs; nil when all
	export    bool
	matcher   *labels.Matcher
}

// NewScope returns the scope of the named token. provinces lists province
// slugs, or is exactly ["*"] for all provinces; it may not be empty.
func NewScope(token string, provinces []string, export bool) (Scope, error) {
	if len(provinces) == 0 {
		return Scope{}, fmt.Errorf("cannot build scope of token %q: no provinces", token)
	}
	if slices.Contains(provinces, AllProvinces) {
		if len(provinces) != 1 {
			return Scope{}, fmt.Errorf("cannot build scope of token %q: %q must be the only province", token, AllProvinces)
		}
		return Scope{token: token, all: true, export: export}, nil
	}
	sorted := slices.Clone(provinces)
	slices.Sort(sorted)
	for i, p := range sorted {
		if _, ok := province.Lookup(p); !ok {
			return Scope{}, fmt.Errorf("cannot build scope of token %q: unknown province %q", token, p)
		}
		if i > 0 && sorted[i-1] == p {
			return Scope{}, fmt.Errorf("cannot build scope of token %q: province %q listed twice", token, p)
		}
	}
	s := Scope{token: token, provinces: sorted, export: export}
	s.matcher = provinceMatcher(sorted)
	return s, nil
}

// FullScope returns a scope that may read and export everything, for
// operators on the local machine and for tests.
func FullScope(token string) Scope { return Scope{token: token, all: true, export: true} }

// provinceMatcher returns province="a" for one province and
// province=~"a|b" (each slug quoted) for several. Prometheus matchers are
// anchored, and the engine turns an alternation of literals into a set
// lookup.
func provinceMatcher(provinces []string) *labels.Matcher {
	if len(provinces) == 1 {
		return labels.MustNewMatcher(labels.MatchEqual, ProvinceLabel, provinces[0])
	}
	quoted := make([]string, len(provinces))
	for i, p := range provinces {
		quoted[i] = regexp.QuoteMeta(p)
	}
	return labels.MustNewMatcher(labels.MatchRegexp, ProvinceLabel, strings.Join(quoted, "|"))
}

// noneMatcher matches no series at all, not even those without a province
// label: an empty character class has no member.
var noneMatcher = labels.MustNewMatcher(labels.MatchRegexp, ProvinceLabel, `[^\x00-\x{10FFFF}]`)

// Token returns the name of the token the scope belongs to.
func (s Scope) Token() string { return s.token }

// All reports whether the scope covers every province.
func (s Scope) All() bool { return s.all }

// CanExport reports whether the token may make bulk exports.
func (s Scope) CanExport() bool { return s.export }

// Provinces returns the granted province slugs in sorted order, or nil when
// the scope covers all provinces. The caller may modify the result.
func (s Scope) Provinces() []string { return slices.Clone(s.provinces) }

// Allows reports whether series of the given province may be read. A
// restricted scope does not allow series without a province ("").
func (s Scope) Allows(slug string) bool {
	if s.all {
		return true
	}
	// A token rarely holds more than a few provinces; a scan beats a map.
	for _, p := range s.provinces {
		if p == slug {
			return true
		}
	}
	return false
}

// AllowsLabels reports whether a series with these labels may be read. It
// does not allocate.
func (s Scope) AllowsLabels(lset labels.Labels) bool {
	if s.all {
		return true
	}
	return s.Allows(lset.Get(ProvinceLabel))
}

// Matcher returns the matcher to add to every selection made for this
// scope, or nil when the scope covers all provinces. For a scope that may
// read nothing it returns a matcher that no series matches. The matcher is
// shared; callers must not modify it.
func (s Scope) Matcher() *labels.Matcher {
	switch {
	case s.all:
		return nil
	case s.matcher == nil:
		return noneMatcher
	}
	return s.matcher
}

// String describes the scope for logs: token name, provinces, export.
func (s Scope) String() string {
	provinces := strings.Join(s.provinces, ",")
	if s.all {
		provinces = AllProvinces
	}
	return fmt.Sprintf("token=%s provinces=%s export=%t", s.token, provinces, s.export)
}
