//go:build !linux || race

package dbbench

// allocInt32s returns n zeroed int32s and a function to call when they are
// no longer needed. Off Linux (and in race builds, whose detector does not
// track memory outside the Go heap) they live on the Go heap and the
// function does nothing; see offheap_linux.go.
func allocInt32s(n int) ([]int32, func()) {
	return make([]int32, n), func() {}
}
