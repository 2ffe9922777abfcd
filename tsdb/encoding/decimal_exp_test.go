package encoding

import (
	"math/rand/v2"
	"testing"
)

// lowExponent counts over the span of a block's exponents when it is
// narrow and over every exponent otherwise; both must pick what the
// histogram of every exponent picks.
func TestLowExponentMatchesTheHistogram(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	for trial := range 20000 {
		n := 1 + r.IntN(300)
		span := []int{1, 3, 63, 64, 65, 400}[trial%6]
		base := int16(r.IntN(600) - 300)
		m := make([]int64, n)
		ea := make([]int16, n)
		lo, hi, total := int16(32767), int16(-32768), 0
		var hist expHistogram
		for i := range n {
			if r.IntN(10) == 0 {
				m[i], ea[i] = 0, noExp // zero or not a decimal: not counted
				continue
			}
			m[i] = 1 + r.Int64N(1000)
			ea[i] = min(max(base+int16(r.IntN(span)), -expRange), expRange)
			lo, hi, total = min(lo, ea[i]), max(hi, ea[i]), total+1
			hist.add(ea[i])
		}
		want := hist.lowQuantile(hist.total / 8)
		if got := lowExponent(m, ea, lo, hi, total); got != want {
			t.Fatalf("trial %d (n %d, span %d): got %d, want %d", trial, n, span, got, want)
		}
	}
}
