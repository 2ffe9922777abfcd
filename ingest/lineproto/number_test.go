package lineproto

import (
	"math/rand/v2"
	"strconv"
	"testing"
)

// parseInt's loop for short digit runs gives strconv.ParseInt's answer,
// errors included, at and around the edges of int64.
func TestParseIntMatchesStrconv(t *testing.T) {
	cases := []string{"0", "7", "00012", "1796299237527000000", "9223372036854775807", "9223372036854775808",
		"9999999999999999999", "18446744073709551616", "-5", "+5", "-9223372036854775808", "", "12a", " 1", "1_0"}
	r := rand.New(rand.NewPCG(3, 4))
	for range 10000 {
		cases = append(cases, strconv.FormatUint(r.Uint64()>>r.IntN(64), 10))
	}
	for _, s := range cases {
		got, err := parseInt([]byte(s))
		want, werr := strconv.ParseInt(s, 10, 64)
		if got != want || (err == nil) != (werr == nil) {
			t.Fatalf("parseInt(%q) = %d, %v; strconv: %d, %v", s, got, err, want, werr)
		}
	}
}
