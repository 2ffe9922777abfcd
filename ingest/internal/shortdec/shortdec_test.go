package shortdec

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

var shortDecimalCases = []string{"0", "-0", "1", "-1", "27.4", "-3.25", "0.1", ".5", "5.", "-.5", "007.50",
	"123456789012345", "12345678901234.5", "0.000000000000001", "1234567890123456", "1e5", "1.2.3", "-", ".",
	"", "+1", "1_0", "0x10", "inf", "NaN", "9007199254740993", "4.35", "0.3", "2.675", "1.0000000000000002"}

// checkShortDecimal holds Parse to strconv.ParseFloat: when it
// parses, it must give the very same bits.
func checkShortDecimal(t *testing.T, s string) {
	got, ok := Parse([]byte(s))
	if !ok {
		return
	}
	want, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("%q: parsed as %v, strconv refuses it: %v", s, got, err)
	}
	if math.Float64bits(got) != math.Float64bits(want) {
		t.Fatalf("%q: got %v (%#x), strconv %v (%#x)", s, got, math.Float64bits(got), want, math.Float64bits(want))
	}
}

func TestParseMatchesStrconv(t *testing.T) {
	for _, s := range shortDecimalCases {
		checkShortDecimal(t, s)
	}
	if _, ok := Parse([]byte("27.4")); !ok {
		t.Fatal("the common case 27.4 took the slow path")
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		digits := 1 + r.IntN(15)
		m := r.Uint64N(uint64(math.Pow10(digits)))
		s := strconv.FormatUint(m, 10)
		if p := r.IntN(len(s) + 1); p < len(s) {
			s = s[:p] + "." + s[p:]
		}
		if r.IntN(2) == 0 {
			s = "-" + s
		}
		checkShortDecimal(t, s)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range shortDecimalCases {
		f.Add(s)
	}
	f.Fuzz(checkShortDecimal)
}

// Prefix stops where the short decimal stops and leaves the next byte to
// the caller, even when that byte would make it another number.
func TestPrefixStopsAtTheFirstOtherByte(t *testing.T) {
	for _, c := range []struct {
		in   string
		f    float64
		n    int
		okay bool
	}{
		{"27.4,", 27.4, 4, true},
		{"-3}", -3, 2, true},
		{"1.5e3", 1.5, 3, true},
		{"1.2.3", 1.2, 3, true},
		{"-", 0, 1, false},
		{".x", 0, 1, false},
		{"1234567890123456 ", 0, 16, false},
		{"", 0, 0, false},
	} {
		f, n, ok := Prefix([]byte(c.in))
		if ok != c.okay || n != c.n || ok && f != c.f {
			t.Errorf("Prefix(%q) = %v, %d, %v; want %v, %d, %v", c.in, f, n, ok, c.f, c.n, c.okay)
		}
	}
}

// Digits takes exactly the runs of 1 to 19 ASCII digits, with
// strconv.ParseUint's value; a byte next to the digits in the byte order
// (such as '/', ':' or '?') anywhere in the run makes it refuse.
func TestDigitsMatchesStrconv(t *testing.T) {
	cases := []string{"", "0", "7", "00000000", "12345678", "123456789", "1764806438452", "1764806438452000000",
		"9999999999999999999", "99999999999999999999", "1234567/", "1234567:", "?2345678", "-1", "+1", " 1"}
	r := rand.New(rand.NewPCG(5, 6))
	odd := []byte("/:?@ -+.e\x00\xb0\xb9")
	for range 100000 {
		b := make([]byte, r.IntN(21))
		for i := range b {
			b[i] = byte('0' + r.IntN(10))
		}
		if len(b) > 0 && r.IntN(2) == 0 {
			b[r.IntN(len(b))] = odd[r.IntN(len(odd))]
		}
		cases = append(cases, string(b))
	}
	for _, s := range cases {
		got, ok := Digits([]byte(s))
		want, err := strconv.ParseUint(s, 10, 64)
		wantOK := err == nil && len(s) <= 19 && s[0] >= '0' && s[0] <= '9'
		if ok != wantOK || ok && got != want {
			t.Fatalf("Digits(%q) = %d, %v; strconv: %d, %v", s, got, ok, want, err)
		}
	}
}
