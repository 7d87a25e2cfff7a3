package base

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// FileType names the kinds of files in a database directory.
type FileType int

// The file types, with their names as LevelDB spells them (NNNNNN is a
// zero-padded decimal file number of at least six digits).
const (
	FileTypeLog      FileType = iota // NNNNNN.log: write-ahead log
	FileTypeTable                    // NNNNNN.ldb (or legacy NNNNNN.sst): table
	FileTypeManifest                 // MANIFEST-NNNNNN: version edits
	FileTypeCurrent                  // CURRENT: name of the live MANIFEST
	FileTypeLock                     // LOCK: held by the owning process
	FileTypeTemp                     // NNNNNN.dbtmp: CURRENT being replaced
	FileTypeInfoLog                  // LOG, LOG.old: human-readable log
)

// String returns a short name for the type ("log", "table", ...).
func (t FileType) String() string {
	switch t {
	case FileTypeLog:
		return "log"
	case FileTypeTable:
		return "table"
	case FileTypeManifest:
		return "manifest"
	case FileTypeCurrent:
		return "current"
	case FileTypeLock:
		return "lock"
	case FileTypeTemp:
		return "temp"
	case FileTypeInfoLog:
		return "info-log"
	}
	return "unknown"
}

// MakeFilename returns the base name of a file of the given type and number.
// Number is ignored for CURRENT, LOCK and LOG.
func MakeFilename(t FileType, num uint64) string {
	switch t {
	case FileTypeLog:
		return fmt.Sprintf("%06d.log", num)
	case FileTypeTable:
		return fmt.Sprintf("%06d.ldb", num)
	case FileTypeManifest:
		return fmt.Sprintf("MANIFEST-%06d", num)
	case FileTypeCurrent:
		return "CURRENT"
	case FileTypeLock:
		return "LOCK"
	case FileTypeTemp:
		return fmt.Sprintf("%06d.dbtmp", num)
	case FileTypeInfoLog:
		return "LOG"
	}
	panic("base: unknown file type") // programming error, not data
}

// MakeFilepath joins dir and MakeFilename(t, num).
func MakeFilepath(dir string, t FileType, num uint64) string {
	return filepath.Join(dir, MakeFilename(t, num))
}

// LegacyTableFilename is the ".sst" name older LevelDB releases gave tables.
func LegacyTableFilename(num uint64) string { return fmt.Sprintf("%06d.sst", num) }

// ParseFilename recognizes the base name of a database file. ok is false for
// names that are not Strata's or LevelDB's (such files are never touched).
func ParseFilename(name string) (t FileType, num uint64, ok bool) {
	switch name {
	case "CURRENT":
		return FileTypeCurrent, 0, true
	case "LOCK":
		return FileTypeLock, 0, true
	case "LOG", "LOG.old":
		return FileTypeInfoLog, 0, true
	}
	if rest, found := strings.CutPrefix(name, "MANIFEST-"); found {
		n, err := strconv.ParseUint(rest, 10, 64)
		if err != nil || rest == "" || rest[0] == '+' {
			return 0, 0, false
		}
		return FileTypeManifest, n, true
	}
	dot := strings.IndexByte(name, '.')
	if dot <= 0 {
		return 0, 0, false
	}
	digits := name[:dot]
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, 0, false
		}
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil {
		return 0, 0, false
	}
	switch name[dot:] {
	case ".log":
		return FileTypeLog, n, true
	case ".ldb", ".sst":
		return FileTypeTable, n, true
	case ".dbtmp":
		return FileTypeTemp, n, true
	}
	return 0, 0, false
}
