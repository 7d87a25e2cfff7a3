//go:build linux

package vfs

import (
	"os"
	"syscall"
)

// AdviseRandom tells the kernel that f, an OS file, is read at random
// offsets (posix_fadvise POSIX_FADV_RANDOM): reads of it then read what is
// asked for and no more. Other files are left alone. It is advice: nothing
// fails if it is not taken.
func AdviseRandom(f File) {
	osf, ok := f.(*os.File)
	if !ok {
		return
	}
	withFd(osf, func(fd int) error {
		const fadvRandom = 1 // POSIX_FADV_RANDOM
		syscall.Syscall6(syscall.SYS_FADVISE64, uintptr(fd), 0, 0, fadvRandom, 0, 0)
		return nil
	})
}
