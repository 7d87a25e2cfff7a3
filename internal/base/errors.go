package base

import (
	"errors"
	"fmt"
)

// ErrCorruption is matched (errors.Is) by every error that reports damaged
// or malformed persistent data.
var ErrCorruption = errors.New("corruption")

// CorruptionError reports damaged data and where it was found. File is the
// file's name (or path) and Offset the byte offset within it, or -1 when the
// position is not known.
type CorruptionError struct {
	File   string
	Offset int64
	Msg    string
}

// Error renders "corruption: FILE at offset N: MSG".
func (e *CorruptionError) Error() string {
	switch {
	case e.File == "":
		return fmt.Sprintf("corruption: %s", e.Msg)
	case e.Offset < 0:
		return fmt.Sprintf("corruption: %s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("corruption: %s at offset %d: %s", e.File, e.Offset, e.Msg)
}

// Unwrap makes errors.Is(err, ErrCorruption) hold.
func (e *CorruptionError) Unwrap() error { return ErrCorruption }

// CorruptionErrorf builds a CorruptionError for file at offset (-1 if
// unknown) with a formatted message.
func CorruptionErrorf(file string, offset int64, format string, args ...any) error {
	return &CorruptionError{File: file, Offset: offset, Msg: fmt.Sprintf(format, args...)}
}

// WithFile fills in the file name (and offset, if not yet known) of a
// CorruptionError found inside err, so a low-level decoder can report
// corruption without knowing which file it reads. Other errors are returned
// wrapped with the file name.
func WithFile(err error, file string) error {
	if err == nil {
		return nil
	}
	var ce *CorruptionError
	if errors.As(err, &ce) {
		if ce.File == "" {
			c := *ce
			c.File = file
			return &c
		}
		return err
	}
	return fmt.Errorf("%s: %w", file, err)
}

// WithFileOffset is WithFile that also fills in the offset of a
// CorruptionError whose offset is not yet known (-1) with off. Other errors
// are returned wrapped with the file and offset.
func WithFileOffset(err error, file string, off int64) error {
	if err == nil {
		return nil
	}
	var ce *CorruptionError
	if errors.As(err, &ce) {
		c := *ce
		if c.File == "" {
			c.File = file
		}
		if c.Offset < 0 {
			c.Offset = off
		}
		return &c
	}
	return fmt.Errorf("%s at offset %d: %w", file, off, err)
}
