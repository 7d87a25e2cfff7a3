package strata

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/manifest"
)

// Read-only handles and CatchUp: many processes may open a database
// ReadOnly while one process writes it. A read-only handle sees the state
// of its Open; CatchUp moves it to the writer's current state.
//
// The writer deletes tables its compactions made obsolete, without
// knowing about readers. A read-only handle therefore opens every table of
// its version up front and keeps them open (an open file stays readable on
// Linux after it is deleted), so its view stays whole while the writer
// compacts. The price is one file descriptor (and mapping) per table.

var errCatchUpRace = errors.New("strata: the writer changed the database during CatchUp")

// CatchUp re-reads the MANIFEST and the logs written since, so a read-only
// handle sees every write the writer has made durable in its logs and
// tables (including unsynced writes already handed to the operating
// system). Iterators and snapshots taken before keep their view. It fails
// on a handle that is not read-only. When the writer edits its MANIFEST
// (a flush, a compaction) while CatchUp reads, CatchUp reads again; after
// 20 such attempts in a row it gives up with an error saying the writer
// changed the database during CatchUp, and the handle keeps its previous
// view (a later CatchUp may succeed).
func (d *DB) CatchUp() error {
	if !d.opts.ReadOnly {
		return errors.New("strata: CatchUp is for read-only handles (Options.ReadOnly)")
	}
	d.catchUpMu.Lock()
	defer d.catchUpMu.Unlock()
	var err error
	for attempt := 0; attempt < 20; attempt++ {
		if err = d.catchUpOnce(); !errors.Is(err, errCatchUpRace) {
			return err
		}
	}
	return err
}

// catchUpOnce reads the writer's state; errCatchUpRace means a file it
// needed vanished meanwhile (the writer moved on) and it should retry.
func (d *DB) catchUpOnce() error {
	// The writer deletes a log only after a MANIFEST edit retires it, and
	// edits only append to the MANIFEST (or start a new one CURRENT then
	// names). So if CURRENT names the same MANIFEST, of the same size,
	// before the replay and after the logs are read, no edit happened in
	// between: the logs listed are every log the replayed state needs, and
	// what they held is a prefix of the writes. Otherwise read again.
	before, err := d.manifestMark()
	if err != nil {
		return err
	}
	st, err := replayManifest(d.fs, d.dirname, d.cmp)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrCorruption) {
			// CURRENT may have moved to a MANIFEST that did not exist yet
			// when we listed, or we read a half-written one: retry.
			return fmt.Errorf("%w: %v", errCatchUpRace, err)
		}
		return err
	}
	v := st.Version
	if st.Extended {
		d.extendedFlag.Store(true) // tables may now hold tombstones
	}
	pins, err := d.pinTables(v)
	if err != nil {
		return err
	}
	if d.testHookCatchUp != nil {
		d.testHookCatchUp()
	}
	mem, imms, lastSeq, err := d.replayForReadOnly(st.LogNumber, st.PrevLogNumber, st.LastSequence)
	if err != nil {
		unpin(pins)
		return err
	}
	holes, err := readHoles(d.fs, d.dirname)
	if err != nil {
		unpin(pins)
		mem.unref()
		for _, m := range imms {
			m.unref()
		}
		return err
	}
	if after, err := d.manifestMark(); err != nil || after != before {
		unpin(pins)
		mem.unref()
		for _, m := range imms {
			m.unref()
		}
		if err == nil {
			err = fmt.Errorf("%w: the MANIFEST changed from %v to %v", errCatchUpRace, before, after)
		}
		return err
	}
	d.mu.Lock()
	old := d.versions.install(v)
	d.versions.logNum, d.versions.prevLogNum = st.LogNumber, st.PrevLogNumber
	oldMem, oldImms := d.mem, d.imms
	d.mem, d.imms = mem, imms
	if lastSeq > d.lastSeq {
		d.lastSeq = lastSeq
		d.visibleSeq.Store(lastSeq)
	}
	d.updateReadStateLocked()
	d.holes.Store(newHoleSet(d.cmp.Compare, holes))
	oldPins := d.pinned
	d.pinned = pins
	d.mu.Unlock()
	d.versions.release(old)
	unpin(oldPins)
	oldMem.unref()
	for _, m := range oldImms {
		m.unref()
	}
	return nil
}

// manifestMark is what changes when the writer makes a version edit: the
// MANIFEST CURRENT names, and its size.
type manifestMark struct {
	name string
	size int64
}

// manifestMark reads CURRENT and the size of the MANIFEST it names. A
// CURRENT or MANIFEST changing under it is a race (errCatchUpRace).
func (d *DB) manifestMark() (manifestMark, error) {
	name, err := manifest.ReadCurrent(d.fs, d.dirname)
	if err == nil {
		var fi os.FileInfo
		if fi, err = d.fs.Stat(d.fs.PathJoin(d.dirname, name)); err == nil {
			return manifestMark{name, fi.Size()}, nil
		}
	}
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrCorruption) {
		return manifestMark{}, fmt.Errorf("%w: %v", errCatchUpRace, err)
	}
	return manifestMark{}, err
}

// pinTables opens every table of v and holds it open, but for damaged ones
// (see below).
func (d *DB) pinTables(v *manifest.Version) ([]*tableEntry, error) {
	var pins []*tableEntry
	for _, files := range v.Levels {
		for _, f := range files {
			e, err := d.tables.acquire(f)
			if errors.Is(err, ErrCorruption) {
				// A damaged table must not stop reads that never touch
				// it: left unpinned, it is opened (and fails, naming the
				// damage) only by the reads that need it.
				d.logger.Error("table damaged; reads that need it will fail", "table", tableName(f.Num), "err", err)
				continue
			}
			if err != nil {
				unpin(pins)
				if errors.Is(err, fs.ErrNotExist) {
					return nil, fmt.Errorf("%w: %v", errCatchUpRace, err)
				}
				return nil, err
			}
			pins = append(pins, e)
		}
	}
	return pins, nil
}

func unpin(pins []*tableEntry) {
	for _, e := range pins {
		e.release()
	}
}

// replayForReadOnly reads the logs numbered from logNum (and prevLogNum)
// into memtables, keeping them in memory. It returns the newest memtable,
// the older full ones (oldest first) and the last sequence seen.
func (d *DB) replayForReadOnly(logNum, prevLogNum, lastSeq uint64) (*memTable, []*memTable, uint64, error) {
	names, err := d.fs.List(d.dirname)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("strata: list %s: %w", d.dirname, err)
	}
	var logs []uint64
	for _, name := range names {
		if t, num, ok := base.ParseFilename(name); ok && t == base.FileTypeLog && (num >= logNum || num == prevLogNum) {
			logs = append(logs, num)
		}
	}
	slices.Sort(logs)
	var imms []*memTable
	full := func(m *memTable) error { imms = append(imms, m); return nil }
	// A log the writer is appending to may end in a record not yet whole,
	// which can look damaged: stop there, as WALPointInTime recovery does,
	// so the view is a prefix of the writes (unless the database skips
	// damage).
	onDamage := func(err error) error {
		if d.opts.WALRecoveryMode == WALSkipAnyCorruptedRecords {
			d.logger.Error("WAL damaged: skipping to the next intact record", "err", err)
			return nil
		}
		return errStopReplay
	}
	mem := d.opts.newMemTable(0, 0)
	chain := d.newWALChain()
	for _, num := range logs {
		gap, err := chain.stop(num)
		if errors.Is(err, fs.ErrNotExist) {
			err = fmt.Errorf("%w: %v", errCatchUpRace, err)
		}
		if err != nil {
			mem.unref()
			for _, m := range imms {
				m.unref()
			}
			return nil, nil, 0, err
		}
		if gap {
			break
		}
		path := base.MakeFilepath(d.dirname, base.FileTypeLog, num)
		var st replayStats
		mem, st, err = replayLogFile(d.opts, path, mem, full, onDamage)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, nil, 0, fmt.Errorf("%w: %v", errCatchUpRace, err)
			}
			return nil, nil, 0, err
		}
		lastSeq = max(lastSeq, st.maxSeq)
		chain.replayed(num, st)
		if st.stopped {
			break
		}
	}
	return mem, imms, lastSeq, nil
}
