//go:build race

package iterator

// raceEnabled scales randomized tests down under the (slow) race detector.
const raceEnabled = true
