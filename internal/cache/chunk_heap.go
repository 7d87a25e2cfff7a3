//go:build !linux || race

package cache

// allocChunk takes n bytes from the Go heap. (Race builds use the heap so
// the race detector sees block memory.)
func allocChunk(n int) chunk { return chunk{buf: make([]byte, n)} }

func freeChunk(chunk) {}

// populate does nothing: heap memory faults in as it is first written.
func populate([]byte) {}
