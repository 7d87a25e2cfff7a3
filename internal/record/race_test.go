//go:build race

package record

// raceEnabled trims the exhaustive tests under the race detector, where
// every byte copied or checksummed costs ~50x more.
const raceEnabled = true
