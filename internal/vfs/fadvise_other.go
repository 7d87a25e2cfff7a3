//go:build !linux

package vfs

// AdviseRandom does nothing here: the advice is Linux's.
func AdviseRandom(f File) {}

// WillNeedFile does nothing here: the advice is Linux's.
func WillNeedFile(f File, off, n int64) {}
