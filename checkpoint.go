package strata

import (
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"path/filepath"
	"slices"
	"time"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/manifest"
	"github.com/strata-db/strata/internal/vfs"
)

// Checkpoints: a consistent copy of a live database in another directory,
// made of the tables of one version (hard links where the file system
// allows) and a fresh MANIFEST naming them.
//
// Consistency. Every table of a version holds whole memtables, flushed
// oldest first, or whole ingestions, and compactions only rewrite what a
// version already holds; a memtable holds a contiguous run of commit
// groups. So once the memtable that holds every write acknowledged before
// the call is flushed, the current version holds a prefix of the commit
// order — unless an ingestion landed after the rotation of the oldest
// memtable still unflushed: its tables are then in the version without the
// writes committed before it that sit in that memtable (Ingest flushes only
// the memtables that overlap its tables). Checkpoint therefore flushes
// again when the count of installed ingestions (DB.ingests) moved during
// its flush. It does not take the manual-compaction slot to keep
// ingestions out instead: the flush's memtable rotation may wait for a
// compaction (L0StopTrigger), which that slot would hold back.
//
// Lifetime. A reference on the version keeps its tables from the
// obsolete-file sweep (deleteObsoleteFiles) while they are linked or
// copied; compactions go on meanwhile. Close does not wait for a
// checkpoint: the checkpoint stops with ErrClosed at its next table.

// maxCheckpointFlushes bounds the flushes a checkpoint makes while
// ingestions keep landing during them.
const maxCheckpointFlushes = 10

// Checkpoint is CheckpointContext without cancellation.
func (d *DB) Checkpoint(dir string) error {
	return d.CheckpointContext(context.Background(), dir)
}

// CheckpointContext writes a consistent copy of the database to dir: a
// database that Open (and C++ LevelDB) opens, independent of this one,
// holding exactly the writes acknowledged before some moment during the
// call — every write acknowledged before the call, writes made with
// DisableWAL included, and no part of a batch. dir must not exist (its
// parent must; dir is created as mkdir does) or must be an empty
// directory, on the database's file system (Options.FS). The holes of a
// repaired database (Holes) are part of the copy.
//
// It flushes the memtable (as Flush; writers wait only for the memtable
// rotation), takes the tables of the current version, and puts each into
// dir as a hard link (FS.Link) where the file system allows, which costs
// no space until this database's compactions delete the original, or as a
// copy otherwise (another device). Each is synced; then a MANIFEST naming
// them, with no log, and CURRENT are written, and dir is synced: CURRENT
// comes last, so a crash part-way leaves a directory without CURRENT,
// never a database missing some tables. Compactions go on while it runs.
// It holds dir's LOCK meanwhile (another checkpoint into dir, or an Open
// of it, fails), and leaves the LOCK file there, as a database has one.
//
// On failure it removes what it created in dir (and dir, if it created
// it) and returns an error saying what failed. Once ctx is done it stops
// (while waiting for the flush, between tables, and within a copy) and
// returns context.Cause(ctx), likewise. It returns ErrReadOnly on a
// read-only handle (which cannot flush its memtables: copy the files of a
// closed database instead), ErrClosed if the database is closed under it,
// and the background error that stopped writes, if any.
func (d *DB) CheckpointContext(ctx context.Context, dir string) (err error) {
	if d.opts.ReadOnly {
		return ErrReadOnly
	}
	if d.isClosed() {
		return ErrClosed
	}
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	start := time.Now()
	c := &checkpoint{d: d, ctx: ctx, fs: d.fs, dir: dir, link: true}
	// The directory's LOCK, held until the checkpoint is done, keeps out
	// another checkpoint into it (and an Open of it): the clean-up below
	// removes everything in the directory, which must all be ours. So the
	// directory must still be empty once it is held (another checkpoint
	// may have filled it since prepareDir looked). It is left behind, as
	// a database's is. A directory that vanished while it was prepared
	// and locked (a concurrent checkpoint that created it gave up and
	// removed it, empty) is prepared again.
	var lock io.Closer
	for attempt := 0; ; attempt++ {
		c.created = false
		if err = c.prepareDir(); err != nil {
			if errors.Is(err, iofs.ErrNotExist) && attempt < 3 {
				continue
			}
			return err
		}
		lock, err = lockDB(c.fs, dir, "checkpoint into")
		if err == nil {
			if err = c.checkEmpty(true); !errors.Is(err, iofs.ErrNotExist) || attempt == 3 {
				break
			}
			lock.Close()
			continue
		}
		if c.created {
			c.removeDir() // only if still empty: another checkpoint may hold it
		}
		if !errors.Is(err, iofs.ErrNotExist) || attempt == 3 {
			return err
		}
	}
	if err != nil {
		if !errors.Is(err, iofs.ErrExist) {
			// Only the LOCK file is surely ours to remove: it holds nothing.
			c.fs.Remove(base.MakeFilepath(dir, base.FileTypeLock, 0))
			c.finishRemoval()
		}
		lock.Close()
		return err
	}
	defer func() {
		if err != nil {
			c.removeAll()
		}
		// A failed release still releases (as close(2) does), and the
		// checkpoint, if written, is whole: nothing to report.
		if cerr := lock.Close(); cerr != nil {
			d.logger.Warn("checkpoint: cannot release the lock of its directory", "dir", dir, "err", cerr)
		}
	}()
	v, edit, err := d.checkpointVersion(ctx)
	if err != nil {
		return err
	}
	defer d.versions.release(v)
	if err := c.writeFiles(v, edit); err != nil {
		return err
	}
	d.logger.Info("checkpoint written", "dir", dir, "tables", c.linked+c.copied, "linked", c.linked,
		"copied", c.copied, "bytes", c.bytes, "last-seq", edit.LastSequence,
		"took", time.Since(start).Round(time.Millisecond))
	return nil
}

// checkpointVersion flushes the memtable and returns the current version,
// with a reference the caller must release, and the edit that describes
// it as a new MANIFEST's only record. The version holds a prefix of the
// writes that includes every write acknowledged before the call (see the
// top of this file).
func (d *DB) checkpointVersion(ctx context.Context) (*manifest.Version, *manifest.VersionEdit, error) {
	for range maxCheckpointFlushes {
		d.mu.Lock()
		ingests := d.ingests
		d.mu.Unlock()
		if err := d.flush(ctx, flushReasonCheckpoint); err != nil {
			return nil, nil, err
		}
		if d.testHookCheckpoint != nil {
			d.testHookCheckpoint()
		}
		d.mu.Lock()
		if d.ingests != ingests {
			d.mu.Unlock()
			continue // an ingestion may have overtaken unflushed writes
		}
		v := d.versions.current
		v.Ref()
		edit := d.versions.snapshotEditLocked(v)
		num := d.versions.nextFileNum // the MANIFEST's number in the checkpoint
		edit.HasLogNumber, edit.LogNumber = true, 0
		edit.HasPrevLogNumber, edit.PrevLogNumber = true, 0
		edit.HasNextFileNumber, edit.NextFileNumber = true, num+1
		edit.HasLastSequence, edit.LastSequence = true, d.lastSeq
		d.mu.Unlock()
		return v, edit, nil
	}
	return nil, nil, fmt.Errorf("strata: checkpoint: ingestions landed during each of %d flushes; try again", maxCheckpointFlushes)
}

// checkpoint is one CheckpointContext call's work in its directory.
type checkpoint struct {
	d       *DB
	ctx     context.Context
	fs      vfs.FS
	dir     string
	created bool // dir did not exist: removed again on failure
	// link: try hard links; cleared by the first that fails (another
	// device, or a file system without links), after which tables are
	// copied.
	link           bool
	linked, copied int
	bytes          uint64
}

// fail describes a failed step.
func (c *checkpoint) fail(what string, err error) error {
	return fmt.Errorf("strata: checkpoint %s: %s: %w", c.dir, what, err)
}

// prepareDir checks that dir is an empty directory, or creates it.
func (c *checkpoint) prepareDir() error {
	fi, err := c.fs.Stat(c.dir)
	switch {
	case errors.Is(err, iofs.ErrNotExist):
		if err := createDir(c.fs, c.dir); err != nil {
			return err
		}
		c.created = true
		return nil
	case err != nil:
		return c.fail("stat the directory", err)
	case !fi.IsDir():
		return fmt.Errorf("strata: checkpoint %s: not a directory: %w", c.dir, iofs.ErrExist)
	}
	return c.checkEmpty(false)
}

// checkEmpty checks that dir holds nothing, but for its LOCK when locked
// (by this checkpoint).
func (c *checkpoint) checkEmpty(locked bool) error {
	names, err := c.fs.List(c.dir)
	if err != nil {
		return c.fail("list the directory", err)
	}
	if locked {
		names = slices.DeleteFunc(names, func(n string) bool { return n == base.MakeFilename(base.FileTypeLock, 0) })
	}
	if len(names) > 0 {
		return fmt.Errorf("strata: checkpoint %s: the directory is not empty (%d entries, e.g. %s): %w",
			c.dir, len(names), names[0], iofs.ErrExist)
	}
	return nil
}

// writeFiles puts v's tables and the database's holes into dir, then the
// MANIFEST holding edit and CURRENT, and syncs what names them.
func (c *checkpoint) writeFiles(v *manifest.Version, edit *manifest.VersionEdit) error {
	d := c.d
	for _, files := range v.Levels {
		for _, f := range files {
			if err := c.stopped(); err != nil {
				return err
			}
			if err := c.putTable(f); err != nil {
				return err
			}
		}
	}
	if len(d.Holes()) > 0 {
		// Unchanged while the database is open (ClearHoles and Repair
		// take the lock). Before CURRENT: a checkpoint that opens
		// always has them.
		src := d.fs.PathJoin(d.dirname, holesFileName)
		if err := copyFile(c.ctx, c.fs, src, c.fs.PathJoin(c.dir, holesFileName)); err != nil {
			return c.fail("copy "+holesFileName, err)
		}
	}
	if err := vfs.SyncDir(c.fs, c.dir); err != nil {
		return c.fail("sync the tables' directory entries", err)
	}
	if err := c.stopped(); err != nil {
		return err
	}
	if err := manifest.CreateCurrent(c.fs, c.dir, edit.NextFileNumber-1, edit); err != nil {
		return c.fail("write MANIFEST and CURRENT", err)
	}
	if c.created {
		if err := vfs.SyncDir(c.fs, c.parent()); err != nil {
			return c.fail("sync the parent directory", err)
		}
	}
	return nil
}

// stopped returns what stops the checkpoint before its next step: the
// end of ctx, or Close.
func (c *checkpoint) stopped() error {
	if c.ctx.Err() != nil {
		return context.Cause(c.ctx)
	}
	if c.d.isClosed() {
		return ErrClosed
	}
	return nil
}

// putTable links or copies table f into dir under the name it has in the
// database (NNNNNN.ldb, or the .sst of older LevelDB releases), synced.
func (c *checkpoint) putTable(f *manifest.FileMetadata) error {
	d := c.d
	name := tableName(f.Num)
	src := d.fs.PathJoin(d.dirname, name)
	if _, err := d.fs.Stat(src); errors.Is(err, iofs.ErrNotExist) {
		name = base.LegacyTableFilename(f.Num)
		src = d.fs.PathJoin(d.dirname, name)
	}
	dst := c.fs.PathJoin(c.dir, name)
	if c.link {
		err := c.fs.Link(src, dst)
		if err == nil {
			// The table was synced when written; syncing the link costs
			// nothing more and makes no assumption about that.
			if err := syncFile(c.fs, dst); err != nil {
				return c.fail("sync linked table "+name, err)
			}
			c.linked++
			c.bytes += f.Size
			return nil
		}
		d.logger.Info("checkpoint copies tables: cannot hard-link", "table", name, "err", err)
		c.link = false
		// A link may exist although Link failed (on NFS, a retried link
		// whose first reply was lost fails with EEXIST): creating the copy
		// over it would truncate the database's own table. Remove the name
		// first; that never touches the table's data.
		if err := c.fs.Remove(dst); err != nil && !errors.Is(err, iofs.ErrNotExist) {
			return c.fail("remove "+name+" before copying it", err)
		}
	}
	if err := copyFile(c.ctx, c.fs, src, dst); err != nil {
		return c.fail("copy table "+name, err)
	}
	c.copied++
	c.bytes += f.Size
	return nil
}

// removeAll removes what the checkpoint created: every entry of dir (which
// was empty, and which its LOCK keeps others out of), CURRENT first so
// that no state of the removal opens as a database, then dir itself if it
// created it.
func (c *checkpoint) removeAll() {
	c.fs.Remove(base.MakeFilepath(c.dir, base.FileTypeCurrent, 0))
	names, _ := c.fs.List(c.dir)
	for _, name := range names {
		c.fs.Remove(c.fs.PathJoin(c.dir, name))
	}
	c.finishRemoval()
}

// finishRemoval makes the removal of dir's entries durable, and removes
// dir if the checkpoint created it.
func (c *checkpoint) finishRemoval() {
	if c.created {
		c.removeDir()
		return
	}
	vfs.SyncDir(c.fs, c.dir)
}

// removeDir removes dir, which the checkpoint created, if it is empty, and
// makes that durable.
func (c *checkpoint) removeDir() {
	if c.fs.Remove(c.dir) == nil {
		vfs.SyncDir(c.fs, c.parent())
	}
}

// parent is the directory that holds dir.
func (c *checkpoint) parent() string { return filepath.Dir(filepath.Clean(c.dir)) }

// ctxReader is a Reader that fails with context.Cause(ctx) once ctx is
// done, so that a long copy stops.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r ctxReader) Read(p []byte) (int, error) {
	if r.ctx.Err() != nil {
		return 0, context.Cause(r.ctx)
	}
	return r.r.Read(p)
}
