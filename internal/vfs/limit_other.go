//go:build !unix

package vfs

// OpenFileLimit returns 0: the limit on open files is not known here.
func OpenFileLimit() int { return 0 }
