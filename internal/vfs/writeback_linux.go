//go:build linux

package vfs

import (
	"errors"
	"os"
	"syscall"
)

// syncFileRangeWrite is SYNC_FILE_RANGE_WRITE: start writeback of the dirty
// pages in the range, without waiting for it to complete.
const syncFileRangeWrite = 2

// startWriteback asks Linux to start writing [off, off+n) of f to disk
// (sync_file_range with SYNC_FILE_RANGE_WRITE). It does not wait for the
// disk and makes nothing durable: the file's Sync still does that. Files
// that are not operating-system files, and file systems without the call,
// are left to that Sync.
func startWriteback(f File, off, n int64) error {
	osf, ok := f.(*os.File)
	if !ok {
		return nil
	}
	err := withFd(osf, func(fd int) error {
		for {
			err := syscall.SyncFileRange(fd, off, n, syncFileRangeWrite)
			if err != syscall.EINTR {
				return err
			}
		}
	})
	if err == nil || errors.Is(err, syscall.ENOSYS) || errors.Is(err, syscall.EINVAL) ||
		errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ESPIPE) {
		return nil
	}
	return &os.PathError{Op: "sync_file_range", Path: osf.Name(), Err: err}
}
