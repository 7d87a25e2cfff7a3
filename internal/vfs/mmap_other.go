//go:build !linux

package vfs

import "os"

// mmapFile is not implemented off Linux; callers fall back to ReadAt.
func mmapFile(*os.File) ([]byte, func() error, error) {
	return nil, nil, ErrMmapUnsupported
}
