package strata

import (
	"github.com/strata-db/strata/internal/base"
)

func (d *DB) cleanupLoop() {
	defer d.bgWG.Done()
	for {
		select {
		case <-d.cleanCh:
			d.deleteObsoleteFiles(false)
		case <-d.closing:
			return
		}
	}
}

// deleteObsoleteFiles removes files no version needs: tables not in any
// live version nor being written, logs older than the MANIFEST's log
// number, older MANIFESTs and (at open) leftover temporary files. Files
// whose names are not ours are never touched. After a background error
// nothing is deleted: what is live is then uncertain.
func (d *DB) deleteObsoleteFiles(atOpen bool) {
	if d.opts.ReadOnly {
		return
	}
	d.mu.Lock()
	if d.bgErr != nil {
		d.mu.Unlock()
		return
	}
	live := make(map[uint64]struct{}, len(d.pendingOutputs)+64)
	for n := range d.pendingOutputs {
		live[n] = struct{}{}
	}
	d.versions.addLiveFiles(live)
	d.standInMu.Lock()
	for n := range d.standInTables {
		live[n] = struct{}{}
	}
	d.standInMu.Unlock()
	logNum, prevLogNum := d.versions.logNum, d.versions.prevLogNum
	manifestNum := d.versions.manifestNum
	// Files numbered from here on were allocated after this snapshot of
	// what is live: they are being written, never obsolete.
	firstUnknown := d.versions.nextFileNum
	d.mu.Unlock()

	names, err := d.fs.List(d.dirname)
	if err != nil {
		d.logger.Warn("cannot list directory for obsolete files", "err", err)
		return
	}
	for _, name := range names {
		t, num, ok := base.ParseFilename(name)
		if !ok || num >= firstUnknown && t != base.FileTypeInfoLog && t != base.FileTypeCurrent && t != base.FileTypeLock {
			continue
		}
		keep := true
		switch t {
		case base.FileTypeLog:
			keep = num >= logNum || num == prevLogNum
		case base.FileTypeManifest:
			keep = num >= manifestNum
		case base.FileTypeTable:
			_, keep = live[num]
		case base.FileTypeTemp:
			keep = !atOpen
		}
		if keep {
			continue
		}
		if t == base.FileTypeTable {
			d.tables.evict(num)
			if atOpen && d.versions.tornManifest {
				// The MANIFEST lost its last record: a crash during an
				// edit (then the table is debris) or damage (then it may
				// hold data no log has any more). Keep it for Repair.
				d.archiveToLost(name)
				continue
			}
		}
		if err := d.fs.Remove(d.fs.PathJoin(d.dirname, name)); err != nil {
			d.logger.Warn("cannot delete obsolete file", "file", name, "err", err)
			continue
		}
		d.logger.Info("deleted obsolete file", "file", name, "type", t.String())
	}
}

// archiveToLost moves a file of the database directory into its lost/
// subdirectory (where Repair also puts what it replaces).
func (d *DB) archiveToLost(name string) {
	lost := d.fs.PathJoin(d.dirname, "lost")
	err := d.fs.MkdirAll(lost, 0o755)
	if err == nil {
		err = d.fs.Rename(d.fs.PathJoin(d.dirname, name), d.fs.PathJoin(lost, name))
	}
	if err != nil {
		d.logger.Warn("cannot move unreferenced table to lost/", "file", name, "err", err)
		return
	}
	d.logger.Warn("moved a table the MANIFEST does not name to lost/ (its last record was torn); Repair can recover it",
		"file", name)
}
