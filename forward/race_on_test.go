//go:build race

package forward

// raceEnabled is true under -race, whose runtime changes allocation counts.
const raceEnabled = true
