package strata

import (
	"errors"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/vfs"
)

var (
	// ErrNotFound is returned by Get when the key is absent.
	ErrNotFound = errors.New("strata: not found")
	// ErrClosed is returned by operations on a closed DB.
	ErrClosed = errors.New("strata: database closed")
	// ErrReadOnly is returned by writes to a database opened ReadOnly.
	ErrReadOnly = errors.New("strata: database is read-only")
	// ErrCorruption is matched (errors.Is) by every error that reports
	// damaged persistent data; such errors name the file and offset.
	ErrCorruption = base.ErrCorruption
	// ErrKeyTooLarge is matched by the error of a write whose key is over
	// Options.MaxKeySize.
	ErrKeyTooLarge = errors.New("strata: key too large")
	// ErrValueTooLarge is matched by the error of a write whose value is
	// over Options.MaxValueSize.
	ErrValueTooLarge = errors.New("strata: value too large")
	// ErrLocked is matched (errors.Is) by the error Open and Repair return
	// when the database is held by another process, or by another open
	// handle in this one (its LOCK file is locked).
	ErrLocked = vfs.ErrLockHeld
)

// CorruptionError describes damaged data: the file, the byte offset (-1 if
// unknown) and what was wrong.
type CorruptionError = base.CorruptionError
