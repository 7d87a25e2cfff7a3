//go:build !linux

package vfs

import (
	"errors"
	"os"
)

// errWouldBlock is the cause reported when a lock is held.
var errWouldBlock = errors.New("resource temporarily unavailable")

// lockFile is a no-op off Linux: only the in-process guard excludes, so two
// processes can open one database. Port flock or LockFileEx before relying
// on cross-process exclusion on another OS.
func lockFile(*os.File) error { return nil }

// unlockFile is a no-op off Linux.
func unlockFile(*os.File) error { return nil }
