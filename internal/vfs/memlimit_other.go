//go:build !linux

package vfs

// MemoryLimit returns 0: the memory the process may use is not known here.
func MemoryLimit() int64 { return 0 }
