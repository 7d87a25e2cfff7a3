package vfs

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// Default is the operating system's file system. Files it returns are
// *os.File values, so MmapFile can map them.
var Default FS = osFS{}

// osFS implements FS with the os package.
type osFS struct{}

// Create opens name with O_RDWR|O_CREATE|O_TRUNC.
func (osFS) Create(name string) (File, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o666)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// Open opens name read-only.
func (osFS) Open(name string) (File, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// OpenDir opens the directory read-only; Sync on the result fsyncs the
// directory, which makes its entries durable.
func (osFS) OpenDir(name string) (File, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// Remove is os.Remove.
func (osFS) Remove(name string) error { return os.Remove(name) }

// Rename is os.Rename (which refuses to replace a directory).
func (osFS) Rename(oldname, newname string) error { return os.Rename(oldname, newname) }

// Link is os.Link.
func (osFS) Link(oldname, newname string) error { return os.Link(oldname, newname) }

// MkdirAll is os.MkdirAll.
func (osFS) MkdirAll(dir string, perm os.FileMode) error {
	return os.MkdirAll(dir, perm)
}

// Stat is os.Stat.
func (osFS) Stat(name string) (os.FileInfo, error) { return os.Stat(name) }

// PathJoin is filepath.Join.
func (osFS) PathJoin(elem ...string) string { return filepath.Join(elem...) }

// List returns the entry names of dir, sorted.
func (osFS) List(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	names, err := f.Readdirnames(-1)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	return names, nil
}

// Lock takes the in-process guard for the absolute path of name, then an
// OS-level exclusive lock on the file (flock on Linux; see lockFile). Both
// must be free.
func (osFS) Lock(name string) (io.Closer, error) {
	abs, err := filepath.Abs(name)
	if err != nil {
		return nil, &os.PathError{Op: "lock", Path: name, Err: err}
	}
	if !processLocks.acquire(abs) {
		return nil, &LockHeldError{Path: name, Err: errWouldBlock}
	}
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		processLocks.release(abs)
		return nil, err
	}
	if err := lockFile(f); err != nil {
		f.Close()
		processLocks.release(abs)
		if errors.Is(err, errWouldBlock) {
			return nil, &LockHeldError{Path: name, Err: err}
		}
		return nil, &os.PathError{Op: "lock", Path: name, Err: err}
	}
	return &osLock{f: f, abs: abs}, nil
}

// osLock is a held OS lock.
type osLock struct {
	mu       sync.Mutex
	f        *os.File
	abs      string
	released bool
}

// Close releases the OS lock, closes the file and then releases the
// in-process guard. A second Close returns an error matching os.ErrClosed
// and releases nothing.
func (l *osLock) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.released {
		return &os.PathError{Op: "unlock", Path: l.f.Name(), Err: os.ErrClosed}
	}
	l.released = true
	err := unlockFile(l.f)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	processLocks.release(l.abs)
	return err
}

// ErrLockHeld is matched (errors.Is) by the error Lock returns when the lock
// is already held, by this process or another.
var ErrLockHeld = errors.New("database is locked by another process or handle")

// LockHeldError reports that FS.Lock found the lock taken. It matches
// ErrLockHeld and its cause (for the OS, syscall.EWOULDBLOCK where defined).
type LockHeldError struct {
	Path string // the name passed to Lock
	Err  error  // the cause
}

// Error renders "lock PATH: CAUSE (held by another process or another Open
// in this process)".
func (e *LockHeldError) Error() string {
	return "lock " + e.Path + ": " + e.Err.Error() +
		" (held by another process or another Open in this process)"
}

// Unwrap returns ErrLockHeld and the cause.
func (e *LockHeldError) Unwrap() []error { return []error{ErrLockHeld, e.Err} }

// processLocks is the set of absolute paths locked through Default in this
// process. It is the package's one piece of global state, and must be: the
// OS lock it stands beside is itself per process, and two DB handles that
// share the process must exclude each other whatever FS value they hold.
var processLocks = lockSet{held: make(map[string]struct{})}

// lockSet is a mutex-guarded set of held lock names. It backs the OS FS's
// in-process guard and each MemFS's locks.
type lockSet struct {
	mu   sync.Mutex
	held map[string]struct{}
}

// acquire adds name and reports whether it was absent.
func (s *lockSet) acquire(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.held[name]; ok {
		return false
	}
	s.held[name] = struct{}{}
	return true
}

// release removes name.
func (s *lockSet) release(name string) {
	s.mu.Lock()
	delete(s.held, name)
	s.mu.Unlock()
}

// ErrMmapUnsupported is returned (wrapped) by MmapFile when the platform or
// the File cannot be memory-mapped; callers fall back to ReadAt.
var ErrMmapUnsupported = errors.New("mmap unsupported")

// MmapFile maps the whole of f, which must be a read-only file that nobody
// writes while it is mapped (a finished table), and returns its bytes and a
// function that unmaps them. The bytes are read-only: writing to them
// faults. They must not be used after unmap is called; unmap is idempotent.
// The mapping has no advice: a fault that misses the page cache reads the
// kernel's read-around window (read_ahead_kb: 8 MiB on some disks, a whole
// 2 MiB table), which a file that will be read whole anyway wants. Point
// reads of files larger than memory do not (there, read-around made each
// read cost 1-1.5 MB of disk reads and evict what the next read needed: 370
// reads/s against 5,700 with the advice, 10M entries in 256 MiB): advise
// such a mapping with AdviseRandomMapping, after which sequential readers
// should ask for what they will read with WillNeed (or use ReadAt).
//
// It works for files of Default on Linux. For anything else (MemFS,
// errorfs-wrapped files, other platforms) it returns an error matching
// ErrMmapUnsupported, and the caller should read with ReadAt instead. An
// empty file yields an empty slice and a no-op unmap.
func MmapFile(f File) (data []byte, unmap func() error, err error) {
	osf, ok := f.(*os.File)
	if !ok {
		return nil, nil, ErrMmapUnsupported
	}
	return mmapFile(osf)
}

// AdviseRandomMapping advises data, a whole mapping MmapFile returned (and
// not yet unmapped), for random access (MADV_RANDOM): a fault then reads
// only the page it needs.
func AdviseRandomMapping(data []byte) error { return adviseRandom(data) }

// WillNeed asks the system to read ahead the pages of b, a part of a
// mapping MmapFile returned: a sequential reader of a mapping advised for
// random access calls it for the part it is about to read. It is advice:
// nothing fails if it is not taken.
func WillNeed(b []byte) { willNeed(b) } // advice: its failure changes nothing

// noopUnmap is the unmap of an empty mapping.
func noopUnmap() error { return nil }
