//go:build linux && !race

package dbbench

import (
	"syscall"
	"unsafe"
)

// allocInt32s returns n zeroed int32s outside the Go heap and a function
// that gives them back to the system at once. The harness keeps its large
// scratch data (filluniquerandom's key permutation, 4 MB per million keys)
// there for the same reason the C++ driver's vector costs LevelDB nothing
// once freed: glibc serves an allocation that large with mmap and unmaps it
// on free. On the Go heap the permutation would raise the collector's heap
// goal by its own size while live and, once garbage, stay resident until
// the scavenger returns it — memory the harness would charge to whichever
// Go engine it drives (measured: overwrite's peak 97–103 MiB with the
// permutation on the heap, 96–97 MiB without). Falls back to the heap if
// mapping fails.
func allocInt32s(n int) ([]int32, func()) {
	if n <= 0 {
		return nil, func() {}
	}
	b, err := syscall.Mmap(-1, 0, 4*n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return make([]int32, n), func() {}
	}
	return unsafe.Slice((*int32)(unsafe.Pointer(unsafe.SliceData(b))), n), func() { syscall.Munmap(b) }
}
