package lineproto

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

var shortDecimalCases = []string{"0", "-0", "1", "-1", "27.4", "-3.25", "0.1", ".5", "5.", "-.5", "007.50",
	"123456789012345", "12345678901234.5", "0.000000000000001", "1234567890123456", "1e5", "1.2.3", "-", ".",
	"", "+1", "1_0", "0x10", "inf", "NaN", "9007199254740993", "4.35", "0.3", "2.675", "1.0000000000000002"}

// checkShortDecimal holds parseShortDecimal to strconv.ParseFloat: when it
// parses, it must give the very same bits.
func checkShortDecimal(t *testing.T, s string) {
	got, ok := parseShortDecimal([]byte(s))
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

func TestShortDecimalMatchesStrconv(t *testing.T) {
	for _, s := range shortDecimalCases {
		checkShortDecimal(t, s)
	}
	if _, ok := parseShortDecimal([]byte("27.4")); !ok {
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

func FuzzShortDecimal(f *testing.F) {
	for _, s := range shortDecimalCases {
		f.Add(s)
	}
	f.Fuzz(checkShortDecimal)
}
