//go:build race

package broker

// raceEnabled is true under -race: the race runtime drops a share of
// sync.Pool puts on purpose (the pipeline pools its per-message state), so
// allocation counts are not held then.
const raceEnabled = true
