package vfs

import (
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// MemFS is an in-memory FS that records what is durable, so a test can take
// the state a power cut would leave (CrashClone) and reopen a database on it.
// It is safe for concurrent use.
//
// Paths are slash-separated and cleaned with path.Clean; a relative path is
// taken relative to the root, so "db/CURRENT" and "/db/CURRENT" name the
// same file. Errors are *os.PathError or *os.LinkError values wrapping the
// errno a POSIX system would return, so errors.Is(err, fs.ErrNotExist) and
// os.IsNotExist work as they do for the OS.
//
// # Crash model
//
// A file is an inode: a byte string that only grows by Write (or is emptied
// by Create on an existing name), plus the durable copy taken by its last
// File.Sync. A directory maps names to inodes, plus the durable copy of that
// map taken by the last Sync of a handle from OpenDir. A power cut keeps,
// starting at the root, each directory's durable map, and for each file
// reached that way its durable bytes. Hence:
//
//   - a file created (or linked) but whose directory was not synced
//     afterwards is gone, however often the file itself was synced;
//   - a synced directory entry whose file was never synced is an empty file;
//     bytes written after the file's last Sync are lost;
//   - a rename not followed by a sync of the directory is undone: the old
//     name has the file, and a replaced destination has its old file back.
//     Across directories each side is durable on its own, so the file may
//     end up under both names or under neither;
//   - a removed file comes back (with its durable bytes) unless the
//     directory was synced after the Remove;
//   - a Create that truncated an existing file is undone unless the file is
//     synced afterwards;
//   - hard links survive as links: names durable in their directories keep
//     sharing one inode;
//   - MkdirAll is the exception: a directory it creates is durable at once
//     (as if its parent had been synced for that one entry). The engine
//     creates its directory once, before anything it must not lose, and
//     modelling the loss of the whole directory would test only the harness.
//     Removing or renaming a directory follows the rule for entries.
//
// Directory state is never torn: each directory is exactly its last synced
// map. CrashCloneWith additionally keeps a random prefix of each file's
// unsynced bytes, which models writes that reached the disk before the
// power cut without a Sync to promise it.
//
// Open files and locks do not survive a crash: the clone has none.
type MemFS struct {
	// mu guards the namespace: every directory's entries and synced maps.
	// It is taken before any memNode.mu.
	mu    sync.Mutex
	root  *memNode
	locks lockSet
}

// memNode is an inode: a directory or a file.
type memNode struct {
	isDir bool

	// Directories; guarded by MemFS.mu.
	entries map[string]*memNode // current entries
	synced  map[string]*memNode // entries as of the last directory Sync

	// Files; guarded by mu. data only grows, or is replaced by a new
	// memData when Create truncates. The durable contents are the first
	// durableSize bytes of durable, which is data unless Create truncated
	// the file since its last Sync.
	mu          sync.RWMutex
	data        *memData
	durable     *memData
	durableSize int64
}

func newFileNode() *memNode {
	d := &memData{}
	return &memNode{data: d, durable: d}
}

func newDirNode() *memNode {
	return &memNode{isDir: true, entries: map[string]*memNode{}, synced: map[string]*memNode{}}
}

// NewMem returns an empty in-memory file system holding only the root
// directory "/".
func NewMem() *MemFS {
	return &MemFS{root: newDirNode(), locks: lockSet{held: map[string]struct{}{}}}
}

var _ FS = (*MemFS)(nil)

// cleanPath makes name absolute and clean.
func cleanPath(name string) string {
	if !strings.HasPrefix(name, "/") {
		name = "/" + name
	}
	return path.Clean(name)
}

// splitPath returns the parent directory and final element of a clean
// absolute path; base is "" for the root.
func splitPath(p string) (dir, base string) {
	if p == "/" {
		return "/", ""
	}
	i := strings.LastIndexByte(p, '/')
	if i == 0 {
		return "/", p[1:]
	}
	return p[:i], p[i+1:]
}

// lookup walks a clean absolute path. fs.mu must be held.
func (fs *MemFS) lookup(p string) (*memNode, syscall.Errno) {
	n := fs.root
	if p == "/" {
		return n, 0
	}
	for _, elem := range strings.Split(p[1:], "/") {
		if !n.isDir {
			return nil, syscall.ENOTDIR
		}
		next := n.entries[elem]
		if next == nil {
			return nil, syscall.ENOENT
		}
		n = next
	}
	return n, 0
}

// lookupParent resolves the directory that holds p and returns it with p's
// final element. fs.mu must be held.
func (fs *MemFS) lookupParent(p string) (*memNode, string, syscall.Errno) {
	dir, base := splitPath(p)
	d, errno := fs.lookup(dir)
	if errno != 0 {
		return nil, "", errno
	}
	if !d.isDir {
		return nil, "", syscall.ENOTDIR
	}
	return d, base, 0
}

func pathErr(op, name string, errno syscall.Errno) error {
	return &os.PathError{Op: op, Path: name, Err: errno}
}

// Create creates name, or empties it if it exists (the same inode: other
// links to it see it emptied). Its directory must exist.
func (fs *MemFS) Create(name string) (File, error) {
	if name == "" {
		return nil, pathErr("open", name, syscall.ENOENT)
	}
	p := cleanPath(name)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	d, base, errno := fs.lookupParent(p)
	if errno != 0 {
		return nil, pathErr("open", name, errno)
	}
	if base == "" {
		return nil, pathErr("open", name, syscall.EISDIR)
	}
	n := d.entries[base]
	switch {
	case n == nil:
		n = newFileNode()
		d.entries[base] = n
	case n.isDir:
		return nil, pathErr("open", name, syscall.EISDIR)
	default:
		n.mu.Lock()
		n.data = &memData{}
		n.mu.Unlock()
	}
	return &memFile{n: n, fs: fs, name: base, read: true, write: true}, nil
}

// Open opens name for reading. A directory can be opened (and synced), but
// reading it fails with EISDIR.
func (fs *MemFS) Open(name string) (File, error) {
	return fs.open(name, "open", false)
}

// OpenDir opens the directory name; Sync on the result makes the
// directory's current entries durable. It fails with ENOTDIR for a file.
func (fs *MemFS) OpenDir(name string) (File, error) {
	return fs.open(name, "open", true)
}

func (fs *MemFS) open(name, op string, wantDir bool) (*memFile, error) {
	if name == "" {
		return nil, pathErr(op, name, syscall.ENOENT)
	}
	p := cleanPath(name)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n, errno := fs.lookup(p)
	if errno != 0 {
		return nil, pathErr(op, name, errno)
	}
	if wantDir && !n.isDir {
		return nil, pathErr(op, name, syscall.ENOTDIR)
	}
	_, base := splitPath(p)
	if base == "" {
		base = "/"
	}
	return &memFile{n: n, fs: fs, name: base, read: true}, nil
}

// Remove removes a file or an empty directory.
func (fs *MemFS) Remove(name string) error {
	p := cleanPath(name)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	d, base, errno := fs.lookupParent(p)
	if errno != 0 {
		return pathErr("remove", name, errno)
	}
	if base == "" {
		return pathErr("remove", name, syscall.EBUSY)
	}
	n := d.entries[base]
	if n == nil {
		return pathErr("remove", name, syscall.ENOENT)
	}
	if n.isDir && len(n.entries) > 0 {
		return pathErr("remove", name, syscall.ENOTEMPTY)
	}
	delete(d.entries, base)
	return nil
}

// Rename moves oldname to newname, replacing a file there. Like os.Rename
// (and so Default), it fails with EEXIST if newname is a directory.
func (fs *MemFS) Rename(oldname, newname string) error {
	op, np := cleanPath(oldname), cleanPath(newname)
	fail := func(errno syscall.Errno) error {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: errno}
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	od, obase, errno := fs.lookupParent(op)
	if errno != 0 {
		return fail(errno)
	}
	nd, nbase, errno := fs.lookupParent(np)
	if errno != 0 {
		return fail(errno)
	}
	if obase == "" || nbase == "" {
		return fail(syscall.EBUSY)
	}
	n := od.entries[obase]
	if n == nil {
		return fail(syscall.ENOENT)
	}
	target := nd.entries[nbase]
	switch {
	case target != nil && target.isDir:
		return fail(syscall.EEXIST) // os.Rename's rule, even for itself
	case target == n:
		return nil // same name, or two links to one file: POSIX does nothing
	case n.isDir && strings.HasPrefix(np, op+"/"):
		return fail(syscall.EINVAL) // into its own subtree
	case target != nil && n.isDir:
		return fail(syscall.ENOTDIR)
	}
	delete(od.entries, obase)
	nd.entries[nbase] = n
	return nil
}

// Link makes newname another name for the file oldname; newname must not
// exist.
func (fs *MemFS) Link(oldname, newname string) error {
	op, np := cleanPath(oldname), cleanPath(newname)
	fail := func(errno syscall.Errno) error {
		return &os.LinkError{Op: "link", Old: oldname, New: newname, Err: errno}
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n, errno := fs.lookup(op)
	if errno != 0 {
		return fail(errno)
	}
	nd, nbase, errno := fs.lookupParent(np)
	if errno != 0 {
		return fail(errno)
	}
	if nbase == "" || nd.entries[nbase] != nil {
		return fail(syscall.EEXIST)
	}
	if n.isDir {
		return fail(syscall.EPERM)
	}
	nd.entries[nbase] = n
	return nil
}

// MkdirAll creates dir and its missing parents. Directories it creates are
// durable at once (see the crash model). perm is ignored.
func (fs *MemFS) MkdirAll(dir string, perm os.FileMode) error {
	p := cleanPath(dir)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n := fs.root
	if p == "/" {
		return nil
	}
	for _, elem := range strings.Split(p[1:], "/") {
		next := n.entries[elem]
		if next == nil {
			next = newDirNode()
			n.entries[elem] = next
			n.synced[elem] = next
		} else if !next.isDir {
			return pathErr("mkdir", dir, syscall.ENOTDIR)
		}
		n = next
	}
	return nil
}

// List returns the sorted names of dir's entries.
func (fs *MemFS) List(dir string) ([]string, error) {
	p := cleanPath(dir)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n, errno := fs.lookup(p)
	if errno != 0 {
		return nil, pathErr("open", dir, errno)
	}
	if !n.isDir {
		return nil, pathErr("readdirent", dir, syscall.ENOTDIR)
	}
	return slices.Sorted(maps.Keys(n.entries)), nil
}

// Stat describes name. ModTime is always the zero time.
func (fs *MemFS) Stat(name string) (os.FileInfo, error) {
	if name == "" {
		return nil, pathErr("stat", name, syscall.ENOENT)
	}
	p := cleanPath(name)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n, errno := fs.lookup(p)
	if errno != 0 {
		return nil, pathErr("stat", name, errno)
	}
	_, base := splitPath(p)
	if base == "" {
		base = "/"
	}
	return n.info(base), nil
}

// Lock locks name, creating the file if needed (its directory must exist).
// Locks are per MemFS: a second Lock of the same path fails with a
// *LockHeldError until the first is released.
func (fs *MemFS) Lock(name string) (io.Closer, error) {
	p := cleanPath(name)
	if !fs.locks.acquire(p) {
		return nil, &LockHeldError{Path: name, Err: errWouldBlock}
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	d, base, errno := fs.lookupParent(p)
	if errno == 0 && base == "" {
		errno = syscall.EISDIR
	}
	if errno == 0 {
		if n := d.entries[base]; n == nil {
			d.entries[base] = newFileNode()
		} else if n.isDir {
			errno = syscall.EISDIR
		}
	}
	if errno != 0 {
		fs.locks.release(p)
		return nil, pathErr("open", name, errno)
	}
	return &memLock{fs: fs, path: p}, nil
}

// memLock is a held MemFS lock.
type memLock struct {
	fs       *MemFS
	path     string
	released atomic.Bool
}

// Close releases the lock; a second Close returns an error matching
// os.ErrClosed.
func (l *memLock) Close() error {
	if l.released.Swap(true) {
		return &os.PathError{Op: "unlock", Path: l.path, Err: os.ErrClosed}
	}
	l.fs.locks.release(l.path)
	return nil
}

// PathJoin joins with path.Join.
func (fs *MemFS) PathJoin(elem ...string) string { return path.Join(elem...) }

// CrashClone returns a new MemFS holding exactly what a power cut would
// leave of fs now (see the crash model on MemFS): everything in the clone is
// durable. fs is unchanged and stays usable.
func (fs *MemFS) CrashClone() *MemFS { return fs.crashClone(nil) }

// CrashCloneWith is CrashClone where each file also keeps a random prefix
// (possibly empty, possibly all) of the bytes written since its last Sync,
// drawn from rng; a file emptied by Create since its last Sync keeps either
// its durable bytes or a random prefix of its new bytes. Files are visited
// in sorted path order, so a seeded rng gives a reproducible clone.
func (fs *MemFS) CrashCloneWith(rng *rand.Rand) *MemFS { return fs.crashClone(rng) }

func (fs *MemFS) crashClone(rng *rand.Rand) *MemFS {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	c := &cloner{rng: rng, files: map[*memNode]*memNode{}, dirs: map[*memNode]bool{}}
	return &MemFS{root: c.dir(fs.root), locks: lockSet{held: map[string]struct{}{}}}
}

// cloner builds a crash clone. Files reached by several durable names map
// to one new inode. A directory reached twice (possible only after
// unsynced cross-directory renames of directories) is kept at the first
// name in sorted walk order, which also rules out cycles.
type cloner struct {
	rng   *rand.Rand
	files map[*memNode]*memNode
	dirs  map[*memNode]bool
}

func (c *cloner) dir(old *memNode) *memNode {
	c.dirs[old] = true
	d := newDirNode()
	for _, name := range slices.Sorted(maps.Keys(old.synced)) {
		child := old.synced[name]
		var nc *memNode
		if child.isDir {
			if c.dirs[child] {
				continue
			}
			nc = c.dir(child)
		} else {
			nc = c.file(child)
		}
		d.entries[name] = nc
		d.synced[name] = nc
	}
	return d
}

func (c *cloner) file(old *memNode) *memNode {
	if n := c.files[old]; n != nil {
		return n
	}
	old.mu.RLock()
	from, size := old.durable, old.durableSize
	if c.rng != nil {
		switch {
		case old.durable == old.data:
			size += c.rng.Int64N(old.data.size - size + 1)
		case c.rng.IntN(2) == 1:
			from, size = old.data, c.rng.Int64N(old.data.size+1)
		}
	}
	keep := from.prefix(size)
	old.mu.RUnlock()
	n := &memNode{data: keep, durable: keep, durableSize: size}
	c.files[old] = n
	return n
}

// String renders the tree for debugging, one entry per line, with what is
// not durable marked:
//
//	/
//	  db/
//	    000005.log  size=120 synced=64
//	    CURRENT  size=16 synced=16 (entry not synced)
//	    MANIFEST-000001 (removed, entry not synced)
func (fs *MemFS) String() string {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var b strings.Builder
	b.WriteString("/\n")
	dumpDir(&b, fs.root, 1)
	return b.String()
}

func dumpDir(b *strings.Builder, d *memNode, depth int) {
	names := slices.Collect(maps.Keys(d.entries))
	for name := range d.synced {
		if d.entries[name] == nil {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	indent := strings.Repeat("  ", depth)
	for _, name := range names {
		n, s := d.entries[name], d.synced[name]
		if n == nil {
			fmt.Fprintf(b, "%s%s (removed, entry not synced)\n", indent, name)
			continue
		}
		note := ""
		switch {
		case s == nil:
			note = " (entry not synced)"
		case s != n:
			note = " (replaced, entry not synced)"
		}
		if n.isDir {
			fmt.Fprintf(b, "%s%s/%s\n", indent, name, note)
			dumpDir(b, n, depth+1)
			continue
		}
		n.mu.RLock()
		size, synced, trunc := n.data.size, n.durableSize, n.durable != n.data
		n.mu.RUnlock()
		if trunc {
			note = " (truncated)" + note
		}
		fmt.Fprintf(b, "%s%s  size=%d synced=%d%s\n", indent, name, size, synced, note)
	}
}

func (n *memNode) info(name string) os.FileInfo {
	fi := &memFileInfo{name: name, dir: n.isDir}
	if !n.isDir {
		n.mu.RLock()
		fi.size = n.data.size
		n.mu.RUnlock()
	}
	return fi
}

// memFileInfo implements os.FileInfo.
type memFileInfo struct {
	name string
	size int64
	dir  bool
}

// Name is the base name.
func (fi *memFileInfo) Name() string { return fi.name }

// Size is the length in bytes (0 for a directory).
func (fi *memFileInfo) Size() int64 { return fi.size }

// ModTime is always the zero time.
func (fi *memFileInfo) ModTime() time.Time { return time.Time{} }

// IsDir reports a directory.
func (fi *memFileInfo) IsDir() bool { return fi.dir }

// Sys is nil.
func (fi *memFileInfo) Sys() any { return nil }

// Mode is 0644, or ModeDir|0755.
func (fi *memFileInfo) Mode() os.FileMode {
	if fi.dir {
		return os.ModeDir | 0o755
	}
	return 0o644
}

// memFile is an open MemFS file or directory. ReadAt may run concurrently
// with anything, including Write on another handle of the same inode.
type memFile struct {
	n           *memNode
	fs          *MemFS
	name        string // base name, for Stat and errors
	read, write bool
	pos         int64 // Read offset; Read is not called concurrently
	closed      atomic.Bool
}

func (f *memFile) check(op string, needWrite bool) error {
	switch {
	case f.closed.Load():
		return &os.PathError{Op: op, Path: f.name, Err: os.ErrClosed}
	case f.n.isDir && op != "sync" && op != "stat":
		return pathErr(op, f.name, syscall.EISDIR)
	case needWrite && !f.write:
		return pathErr(op, f.name, syscall.EBADF)
	}
	return nil
}

// Read reads from the handle's offset.
func (f *memFile) Read(p []byte) (int, error) {
	if err := f.check("read", false); err != nil {
		return 0, err
	}
	n, err := f.readAt(p, f.pos)
	f.pos += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

// ReadAt reads at off; it returns io.EOF with a short count at the end.
func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	if err := f.check("read", false); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, pathErr("read", f.name, syscall.EINVAL)
	}
	return f.readAt(p, off)
}

func (f *memFile) readAt(p []byte, off int64) (int, error) {
	f.n.mu.RLock()
	defer f.n.mu.RUnlock()
	if off >= f.n.data.size {
		return 0, io.EOF
	}
	n := f.n.data.readAt(p, off)
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Write appends p.
func (f *memFile) Write(p []byte) (int, error) {
	if err := f.check("write", true); err != nil {
		return 0, err
	}
	f.n.mu.Lock()
	f.n.data.appendBytes(p)
	f.n.mu.Unlock()
	return len(p), nil
}

// Sync makes a file's bytes, or a directory's entries, durable.
func (f *memFile) Sync() error {
	if err := f.check("sync", false); err != nil {
		return err
	}
	if f.n.isDir {
		f.fs.mu.Lock()
		f.n.synced = maps.Clone(f.n.entries)
		f.fs.mu.Unlock()
		return nil
	}
	f.n.mu.Lock()
	f.n.durable, f.n.durableSize = f.n.data, f.n.data.size
	f.n.mu.Unlock()
	return nil
}

// Stat describes the inode.
func (f *memFile) Stat() (os.FileInfo, error) {
	if err := f.check("stat", false); err != nil {
		return nil, err
	}
	return f.n.info(f.name), nil
}

// Close closes the handle; a second Close returns an error matching os.ErrClosed.
func (f *memFile) Close() error {
	if f.closed.Swap(true) {
		return &os.PathError{Op: "close", Path: f.name, Err: os.ErrClosed}
	}
	return nil
}
