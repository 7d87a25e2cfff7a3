//go:build !linux

package vfs

// AdviseRandom does nothing here: the advice is Linux's.
func AdviseRandom(f File) {}
