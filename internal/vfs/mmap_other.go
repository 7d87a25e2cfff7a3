//go:build !linux

package vfs

import "os"

// mmapFile is not implemented off Linux; callers fall back to ReadAt.
func mmapFile(*os.File) ([]byte, func() error, error) {
	return nil, nil, ErrMmapUnsupported
}

// willNeed does nothing: there are no mappings here.
func willNeed([]byte) error { return nil }

// adviseRandom does nothing: there are no mappings here.
func adviseRandom([]byte) error { return nil }
