//go:build unix

package vfs

import "syscall"

// OpenFileLimit returns the process's limit on open file descriptors
// (RLIMIT_NOFILE, soft), or 0 when it is unknown, unlimited or over 2^30.
func OpenFileLimit() int {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil || r.Cur > 1<<30 {
		return 0
	}
	return int(r.Cur)
}
