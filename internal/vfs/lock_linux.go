//go:build linux

package vfs

import (
	"os"
	"syscall"
)

// errWouldBlock is the cause reported when a lock is held.
var errWouldBlock error = syscall.EWOULDBLOCK

// withFd runs fn with f's descriptor without switching it to blocking mode
// (as os.File.Fd would).
func withFd(f *os.File, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var fnErr error
	if err := rc.Control(func(fd uintptr) { fnErr = fn(int(fd)) }); err != nil {
		return err
	}
	return fnErr
}

// lockFile takes a non-blocking exclusive flock on f. flock locks belong to
// the open file description, so a second open of the same file conflicts
// even inside one process; the in-process guard still comes first so the
// behaviour is the same on platforms without flock.
func lockFile(f *os.File) error {
	return withFd(f, func(fd int) error {
		for {
			err := syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB)
			if err != syscall.EINTR {
				return err
			}
		}
	})
}

// unlockFile drops the flock (closing the descriptor would too).
func unlockFile(f *os.File) error {
	return withFd(f, func(fd int) error {
		for {
			err := syscall.Flock(fd, syscall.LOCK_UN)
			if err != syscall.EINTR {
				return err
			}
		}
	})
}
