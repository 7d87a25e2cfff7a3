//go:build linux

package vfs

import (
	"fmt"
	"math"
	"os"
	"strings"
	"sync"
	"syscall"
	"unsafe"
)

// mmapFile maps all of f read-only and shared, with no advice.
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

// willNeed asks for the pages of b, a part of a mapping, to be read ahead.
// madvise wants a page-aligned start: b is widened down to the page it
// starts in, which belongs to the same mapping (mappings start on a page).
func willNeed(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	pad := int(uintptr(unsafe.Pointer(&b[0])) % uintptr(syscall.Getpagesize()))
	page := unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(&b[0]), -pad)), len(b)+pad)
	return syscall.Madvise(page, syscall.MADV_WILLNEED)
}

// adviseRandom advises b, a whole mapping, for random access.
func adviseRandom(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	return syscall.Madvise(b, syscall.MADV_RANDOM)
}

// MappingVmFlags returns the "VmFlags:" line /proc/self/smaps shows for the
// mapping that starts at b[0] (" rr" in it: advised for random access). For
// tests and diagnostics.
func MappingVmFlags(b []byte) (string, error) {
	if len(b) == 0 {
		return "", fmt.Errorf("vfs: MappingVmFlags of an empty slice")
	}
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		return "", err
	}
	start := fmt.Sprintf("%x-", uintptr(unsafe.Pointer(&b[0])))
	found := false
	for _, line := range strings.Split(string(smaps), "\n") {
		if strings.HasPrefix(line, start) {
			found = true
		}
		if found && strings.HasPrefix(line, "VmFlags:") {
			return line, nil
		}
	}
	return "", fmt.Errorf("vfs: no mapping at %s in /proc/self/smaps", start)
}
