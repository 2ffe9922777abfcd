package province

import (
	"regexp"
	"testing"
)

func TestList(t *testing.T) {
	if len(All()) != Count {
		t.Fatalf("got %d provinces, want %d", len(All()), Count)
	}
	slug := regexp.MustCompile(`^[a-z]+(-[a-z]+)*$`)
	cities, codes := 0, map[string]bool{}
	for _, p := range All() {
		if !slug.MatchString(p.Slug) {
			t.Errorf("slug %q is not lower-case ASCII words joined by '-'", p.Slug)
		}
		if codes[p.Code] {
			t.Errorf("code %q of %s is used twice", p.Code, p.Slug)
		}
		codes[p.Code] = true
		if p.City {
			cities++
		}
		if got, ok := Lookup(p.Slug); !ok || got != p {
			t.Errorf("Lookup(%q) = %v, %v", p.Slug, got, ok)
		}
		if !Valid([]byte(p.Slug)) {
			t.Errorf("Valid(%q) = false", p.Slug)
		}
	}
	if cities != 6 {
		t.Errorf("got %d cities, want 6", cities)
	}
	if Valid([]byte("ha-tay")) {
		t.Error("a former province is accepted")
	}
}

func TestValidDoesNotAllocate(t *testing.T) {
	b := []byte("ho-chi-minh")
	if n := testing.AllocsPerRun(100, func() { Valid(b) }); n != 0 {
		t.Fatalf("Valid allocates %v times", n)
	}
}
