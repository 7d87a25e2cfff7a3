//go:build race

package strata

// raceEnabled reports whether the tests run under the race detector, which
// makes them several times slower; long loops sample in that case.
const raceEnabled = true
