//go:build race

package tsdb

// raceEnabled is true when the tests run with -race, whose instrumentation
// allocates on its own: allocation counts are not held then.
const raceEnabled = true
