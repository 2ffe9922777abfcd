package cputime

import (
	"testing"
	"time"
)

func TestUsedGrowsWithWork(t *testing.T) {
	start := Used()
	x := uint64(1)
	for deadline := time.Now().Add(5 * time.Second); Used() <= start; {
		if time.Now().After(deadline) {
			t.Fatal("five seconds of work used no CPU time")
		}
		for i := range 1_000_000 {
			x = x*6364136223846793005 + uint64(i)
		}
	}
	if x == 0 {
		t.Log(x) // keeps the loop from being optimised away
	}
}
