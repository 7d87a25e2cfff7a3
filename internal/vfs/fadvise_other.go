//go:build !linux || 386 || arm || mips || mipsle

package vfs

// AdviseRandom does nothing here: the advice is Linux's (and on 32-bit
// Linux, whose fadvise64 system call splits its 64-bit arguments, not
// given).
func AdviseRandom(f File) {}

// WillNeedFile does nothing here: the advice is Linux's.
func WillNeedFile(f File, off, n int64) {}
