//go:build !race

package memtable

// raceEnabled scales randomized tests down under the (slow) race detector.
const raceEnabled = false
