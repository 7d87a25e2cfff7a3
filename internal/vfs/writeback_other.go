//go:build !linux

package vfs

// startWriteback does nothing off Linux: those systems have no portable
// request to start writeback without waiting, so the file's Sync writes
// everything (as it would without a WritebackWriter).
func startWriteback(File, int64, int64) error { return nil }
