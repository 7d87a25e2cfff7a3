//go:build linux && !(386 || arm || mips || mipsle)

package vfs

import (
	"os"
	"syscall"
)

// posix_fadvise advice values (linux/fadvise.h).
const (
	fadvRandom   = 1 // POSIX_FADV_RANDOM
	fadvWillNeed = 3 // POSIX_FADV_WILLNEED
)

// fadvise calls posix_fadvise on f when it is an OS file.
func fadvise(f File, off, n int64, advice int) {
	osf, ok := f.(*os.File)
	if !ok {
		return
	}
	withFd(osf, func(fd int) error {
		syscall.Syscall6(syscall.SYS_FADVISE64, uintptr(fd), uintptr(off), uintptr(n), uintptr(advice), 0, 0)
		return nil
	})
}

// AdviseRandom tells the kernel that f, an OS file, is read at random
// offsets (POSIX_FADV_RANDOM): a read of it then reads from the disk what
// it asks for and no more, where the kernel would otherwise read around it
// whenever the pages before it are cached (up to read_ahead_kb). The advice
// belongs to this handle of the file; a sequential reader should read ahead
// with WillNeedFile or use a handle of its own. Other files are left alone,
// and nothing fails if the advice is not taken.
func AdviseRandom(f File) { fadvise(f, 0, 0, fadvRandom) }

// WillNeedFile asks the kernel to read bytes [off, off+n) of f, an OS file,
// into the page cache in the background (POSIX_FADV_WILLNEED): a scan of a
// file advised for random access asks for what it is about to read. It is
// advice, as AdviseRandom.
func WillNeedFile(f File, off, n int64) { fadvise(f, off, n, fadvWillNeed) }
