package strata

// Snapshot is a consistent, read-only view of the database at the moment it
// was taken. While a snapshot is open, compactions keep every version of a
// key it can see, so release snapshots (Close) when done. Safe for
// concurrent use.
type Snapshot struct {
	db         *DB
	seq        uint64
	prev, next *Snapshot // in db.snapshots, oldest first
	closed     bool
	leakID     uint64
}

// NewSnapshot returns a snapshot of the current state.
func (d *DB) NewSnapshot() *Snapshot {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.newSnapshotLocked()
}

// newSnapshotLocked is NewSnapshot under d.mu.
func (d *DB) newSnapshotLocked() *Snapshot {
	s := &Snapshot{}
	d.addSnapshotLocked(s)
	return s
}

// addSnapshotLocked makes s (zero, or closed and out of the list) a
// snapshot of the current state.
func (d *DB) addSnapshotLocked(s *Snapshot) {
	for d.filterInstalling {
		d.bgCond.Wait() // a compaction filter's result is being installed
	}
	*s = Snapshot{db: d, seq: d.visibleSeq.Load()}
	d.snapshots.pushBack(s)
	d.snapshotEpoch++
	s.leakID = d.leaks.add("snapshot", d.opts.DebugLeaks)
}

// Seq returns the sequence number the snapshot reads at: every write with
// a sequence at or below it is visible.
func (s *Snapshot) Seq() uint64 { return s.seq }

// DB returns the database the snapshot belongs to.
func (s *Snapshot) DB() *DB { return s.db }

// Get returns a copy of key's value as of the snapshot, or ErrNotFound
// (see DB.Get).
func (s *Snapshot) Get(key []byte) ([]byte, error) {
	if s.closed {
		return nil, errSnapshotClosed
	}
	if s.db.isClosed() {
		return nil, ErrClosed
	}
	return s.db.get(nil, key, s.seq)
}

// AppendGet is Get through the snapshot that appends the value to dst (see
// DB.AppendGet).
func (s *Snapshot) AppendGet(dst, key []byte) ([]byte, error) {
	if s.closed {
		return nil, errSnapshotClosed
	}
	if s.db.isClosed() {
		return nil, ErrClosed
	}
	return s.db.get(dst, key, s.seq)
}

// NewIterator returns an iterator over the snapshot (o.Snapshot is
// ignored).
func (s *Snapshot) NewIterator(o *IterOptions) *Iterator {
	var opts IterOptions
	if o != nil {
		opts = *o
	}
	opts.Snapshot = s
	return s.db.NewIterator(&opts)
}

// Close releases the snapshot. Closing twice is a no-op.
func (s *Snapshot) Close() error {
	d := s.db
	d.mu.Lock()
	defer d.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	d.snapshots.remove(s)
	d.leaks.remove("snapshot", s.leakID)
	return nil
}

// snapshotList is a doubly linked list of open snapshots in sequence order
// (snapshots are taken with non-decreasing sequences, so appending keeps it
// sorted). Guarded by DB.mu.
type snapshotList struct {
	head, tail *Snapshot
	n          int
}

func (l *snapshotList) pushBack(s *Snapshot) {
	s.prev, s.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = s
	} else {
		l.head = s
	}
	l.tail = s
	l.n++
}

func (l *snapshotList) remove(s *Snapshot) {
	if s.prev != nil {
		s.prev.next = s.next
	} else {
		l.head = s.next
	}
	if s.next != nil {
		s.next.prev = s.prev
	} else {
		l.tail = s.prev
	}
	s.prev, s.next = nil, nil
	l.n--
}

// oldest returns the snapshot with the smallest sequence, or nil.
func (l *snapshotList) oldest() *Snapshot { return l.head }

// newest returns the snapshot with the largest sequence, or nil.
func (l *snapshotList) newest() *Snapshot { return l.tail }
