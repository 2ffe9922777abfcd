//go:build race

package pipeline

// raceEnabled is true under -race: the race runtime drops a share of
// sync.Pool puts on purpose, so pooled paths allocate and allocation counts
// are not held then.
const raceEnabled = true
