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
// whose names are not ours are never touched. At open, a table is deleted
// only if the MANIFEST read names it (a table it added and a later edit
// removed); any other is moved to lost/. After a background error nothing
// is deleted: what is live is then uncertain; nor while a job holds the
// sweep (holdCleanupLocked) between its install and its end event, which
// schedules a sweep when it lets go. Each table and log deleted is
// reported (TableDeleted, WALDeleted), the sweep's deletions as one job.
func (d *DB) deleteObsoleteFiles(atOpen bool) {
	if d.opts.ReadOnly {
		return
	}
	d.mu.Lock()
	if d.bgErr != nil || d.cleanupHolds > 0 {
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
	var named map[uint64]struct{}
	if atOpen {
		named = d.versions.named
		d.versions.named = nil
	}
	// Files numbered from here on were allocated after this snapshot of
	// what is live: they are being written, never obsolete.
	firstUnknown := d.versions.nextFileNum
	d.mu.Unlock()

	names, err := d.fs.List(d.dirname)
	if err != nil {
		d.logger.Warn("cannot list directory for obsolete files", "err", err)
		return
	}
	job := 0 // allocated at the first deletion
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
			if _, ok := named[num]; atOpen && !ok {
				// No edit of the MANIFEST names it: the output of work a
				// crash interrupted (a flush or compaction whose edit was
				// never written, or was torn), or a table of a state the
				// MANIFEST does not know. Whichever, it is not ours to
				// delete: keep it for Repair.
				d.archiveToLost(name)
				continue
			}
		}
		path := d.fs.PathJoin(d.dirname, name)
		err := d.fs.Remove(path)
		if t == base.FileTypeTable || t == base.FileTypeLog {
			if job == 0 && d.events.on {
				job = d.events.newJob()
			}
			d.fileDeleted(job, t, path, num, err)
			continue
		}
		if err != nil {
			d.logger.Warn("cannot delete obsolete file", "file", name, "err", err)
			continue
		}
		d.logger.Info("deleted obsolete file", "file", name, "type", t.String())
	}
}

// archiveToLost moves a table the MANIFEST does not name to lost/ (see
// lostDirName), saying so in LOG and in the recovery report. Only the
// open's sweep calls it, before the background goroutines start.
func (d *DB) archiveToLost(name string) {
	target, err := moveToLost(d.fs, d.dirname, name, "")
	if err != nil {
		d.logger.Warn("cannot move a table no MANIFEST edit names to lost/", "file", name, "err", err)
		return
	}
	d.logger.Warn("moved a table no MANIFEST edit names to lost/ (the output of work a crash interrupted, normally); Repair can recover from it",
		"file", name, "moved-to", lostDirName+"/"+target)
	d.recovery.MovedToLost = append(d.recovery.MovedToLost, lostDirName+"/"+target)
}
