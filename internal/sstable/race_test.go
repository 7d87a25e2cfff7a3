//go:build race

package sstable

// raceEnabled scales randomized tests down under the (10x slower) race
// detector.
const raceEnabled = true
