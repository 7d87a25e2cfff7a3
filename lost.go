package strata

import (
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"strconv"

	"github.com/strata-db/strata/internal/vfs"
)

// lostDirName is the subdirectory of a database directory where the engine
// moves files instead of deleting them when they may hold data it cannot
// account for: tables no MANIFEST edit names (found at open), logs that
// recovery could not replay whole, and the files Repair replaces after
// finding damage. The engine never reads it; a user may delete it once
// satisfied that nothing in it is needed. A file moved there keeps its name
// (name.1, name.2, ... when taken), and may have a note beside it,
// name.txt, saying why it is there and what it holds.
const lostDirName = "lost"

// moveToLost moves dir/name into dir/lost/ under a name not yet used there
// and returns that name. A non-empty note is written beside it as
// <name>.txt. Both directory entries are synced: the move is durable when
// moveToLost returns.
func moveToLost(fs vfs.FS, dir, name, note string) (string, error) {
	lost := fs.PathJoin(dir, lostDirName)
	if err := fs.MkdirAll(lost, 0o755); err != nil {
		return "", fmt.Errorf("strata: move %s to %s/: %w", name, lostDirName, err)
	}
	target := name
	for i := 1; ; i++ {
		if _, err := fs.Stat(fs.PathJoin(lost, target)); errors.Is(err, iofs.ErrNotExist) {
			break
		} else if err != nil {
			return "", fmt.Errorf("strata: move %s to %s/: %w", name, lostDirName, err)
		}
		target = name + "." + strconv.Itoa(i)
	}
	if err := fs.Rename(fs.PathJoin(dir, name), fs.PathJoin(lost, target)); err != nil {
		return "", fmt.Errorf("strata: move %s to %s/: %w", name, lostDirName, err)
	}
	if note != "" {
		if err := writeNote(fs, fs.PathJoin(lost, target+".txt"), note); err != nil {
			return target, err
		}
	}
	for _, d := range []string{lost, dir} {
		if err := vfs.SyncDir(fs, d); err != nil {
			return target, fmt.Errorf("strata: move %s to %s/: %w", name, lostDirName, err)
		}
	}
	return target, nil
}

// writeNote writes text to a new file at path and syncs it.
func writeNote(fs vfs.FS, path, text string) error {
	f, err := fs.Create(path)
	if err != nil {
		return fmt.Errorf("strata: write %s: %w", path, err)
	}
	_, err = io.WriteString(f, text)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("strata: write %s: %w", path, err)
	}
	return nil
}
