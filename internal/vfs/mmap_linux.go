//go:build linux

package vfs

import (
	"fmt"
	"math"
	"os"
	"sync"
	"syscall"
)

// mmapFile maps all of f read-only and shared.
func mmapFile(f *os.File) ([]byte, func() error, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	size := fi.Size()
	if size == 0 {
		return []byte{}, noopUnmap, nil
	}
	if size < 0 || size > math.MaxInt {
		return nil, nil, fmt.Errorf("mmap %s: size %d does not fit in memory: %w", f.Name(), size, ErrMmapUnsupported)
	}
	var data []byte
	err = withFd(f, func(fd int) error {
		var err error
		data, err = syscall.Mmap(fd, 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
		return err
	})
	if err != nil {
		return nil, nil, &os.PathError{Op: "mmap", Path: f.Name(), Err: err}
	}
	var once sync.Once
	var unmapErr error
	unmap := func() error {
		once.Do(func() {
			if err := syscall.Munmap(data); err != nil {
				unmapErr = &os.PathError{Op: "munmap", Path: f.Name(), Err: err}
			}
		})
		return unmapErr
	}
	return data, unmap, nil
}
