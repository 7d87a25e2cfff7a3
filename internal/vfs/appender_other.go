//go:build !linux

package vfs

// newMmapAppender is Linux-only; elsewhere the file itself is the appender.
func newMmapAppender(File) (Appender, error) { return nil, ErrMmapUnsupported }
