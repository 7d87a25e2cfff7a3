// Package errorfs wraps a vfs.FS and makes chosen operations fail, for the
// reliability tests: "every I/O fails once", disk full, random faults.
//
// An FS counts every operation it is asked to do (Count) and consults its
// rules, in the order they were added, before passing the operation on;
// the first rule that fires decides the error and the operation is not
// performed (except for the prefix a failed Write may write, see below).
// Every injected error matches ErrInjected under errors.Is.
//
// A Rule is a trigger (OnIndex, Always, Probability, DiskFullAfter)
// narrowed by filters (On, Path, Where). A rule counts the operations that
// pass its filters from the moment it is added; OnIndex(i) fails the i-th of
// them (0-based). To fail every operation once:
//
//	probe := errorfs.Wrap(vfs.NewMem())
//	workload(probe)
//	for i := range probe.Count() {
//		fs := errorfs.Wrap(vfs.NewMem())
//		fs.AddRule(errorfs.OnIndex(i))
//		err := workload(fs) // must report the error, and reopen clean after
//	}
//
// This only enumerates every operation if the workload issues them in the
// same order each run (no background goroutines racing on the FS).
//
// A failed Write writes nothing, unless the rule asks for PartialWrites: then
// a random prefix of the buffer reaches the inner file first, as happens
// on real disks. DiskFullAfter always writes the part that fits.
//
// A failed Close or lock release still closes the inner file or releases
// the lock: like close(2), the descriptor is gone either way. Files from an
// FS are wrapped, so vfs.MmapFile refuses them and every read is visible
// to the rules.
//
// An FS, its files and its rules are safe for concurrent use.
package errorfs

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/strata-db/strata/internal/vfs"
)

// Kind is the kind of an operation.
type Kind uint8

// The operation kinds. Read covers Read and ReadAt; Stat covers FS.Stat and
// File.Stat; Sync covers files and directories; Close covers files,
// directories and lock releases.
const (
	OpCreate Kind = iota
	OpOpen
	OpOpenDir
	OpRead
	OpWrite
	OpSync
	OpRename
	OpRemove
	OpLink
	OpLock
	OpList
	OpStat
	OpMkdirAll
	OpClose
	numKinds
)

var kindNames = [numKinds]string{
	"create", "open", "opendir", "read", "write", "sync", "rename", "remove",
	"link", "lock", "list", "stat", "mkdirall", "close",
}

// String returns the kind's lower-case name ("write").
func (k Kind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Op describes one operation as the rules see it.
type Op struct {
	Kind Kind
	// Path is the name passed to the FS call, or for an operation on an open
	// file the name it was opened with.
	Path string
	// NewPath is the destination of Rename and Link, else "".
	NewPath string
	// Len is len(p) for Read and Write, else 0.
	Len int
}

// String renders "kind path" or "kind old -> new".
func (op Op) String() string {
	if op.NewPath != "" {
		return op.Kind.String() + " " + op.Path + " -> " + op.NewPath
	}
	return op.Kind.String() + " " + op.Path
}

// ErrInjected is matched (errors.Is) by every error errorfs injects.
var ErrInjected = errors.New("injected error")

// Error is an injected error. It matches ErrInjected and, if set, Err.
type Error struct {
	Op  Op
	Err error // the cause a real system would report (syscall.ENOSPC), or nil
	msg string
}

// Error renders "errorfs: injected error: write /db/000003.log", or for a
// full disk "errorfs: write /db/000003.log: no space left on device (disk
// full after 4096 bytes, injected)".
func (e *Error) Error() string {
	if e.Err == nil {
		return "errorfs: injected error: " + e.Op.String()
	}
	return "errorfs: " + e.Op.String() + ": " + e.Err.Error() + " (" + e.msg + ")"
}

// Unwrap returns ErrInjected and the cause.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrInjected}
	}
	return []error{ErrInjected, e.Err}
}

// FS is a fault-injecting vfs.FS wrapping another.
type FS struct {
	inner    vfs.FS
	count    atomic.Int64
	disabled atomic.Bool
	rules    atomic.Pointer[[]*Rule] // copy on write; nil when empty
	mu       sync.Mutex              // serializes rule list changes
}

var _ vfs.FS = (*FS)(nil)

// Wrap returns an FS passing operations to inner, with no rules and
// injection enabled.
func Wrap(inner vfs.FS) *FS { return &FS{inner: inner} }

// Inner returns the wrapped FS.
func (fs *FS) Inner() vfs.FS { return fs.inner }

// AddRule installs r after the existing rules and returns it. Configure r
// before adding it; a rule belongs to one FS.
func (fs *FS) AddRule(r *Rule) *Rule {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var rules []*Rule
	if old := fs.rules.Load(); old != nil {
		rules = append(rules, *old...)
	}
	rules = append(rules, r)
	fs.rules.Store(&rules)
	return r
}

// ClearRules removes every rule.
func (fs *FS) ClearRules() {
	fs.mu.Lock()
	fs.rules.Store(nil)
	fs.mu.Unlock()
}

// SetEnabled turns injection on or off. While off, operations pass straight
// through and rules do not see them (their counts pause); Count still
// counts.
func (fs *FS) SetEnabled(on bool) { fs.disabled.Store(!on) }

// Count returns how many operations the FS has been asked to do, failed or
// not, since Wrap.
func (fs *FS) Count() int64 { return fs.count.Load() }

// check counts op and asks the rules. It returns a nil error, or the
// injected error and, for a Write, how many leading bytes to write first.
func (fs *FS) check(op Op) (prefix int, err error) {
	fs.count.Add(1)
	if fs.disabled.Load() {
		return 0, nil
	}
	rules := fs.rules.Load()
	if rules == nil {
		return 0, nil
	}
	for _, r := range *rules {
		if prefix, err := r.eval(op); err != nil {
			return prefix, err
		}
	}
	return 0, nil
}

// Create is an OpCreate; the file it returns is wrapped.
func (fs *FS) Create(name string) (vfs.File, error) {
	if _, err := fs.check(Op{Kind: OpCreate, Path: name}); err != nil {
		return nil, err
	}
	f, err := fs.inner.Create(name)
	if err != nil {
		return nil, err
	}
	return &file{fs: fs, inner: f, path: name}, nil
}

// Open is an OpOpen; the file it returns is wrapped.
func (fs *FS) Open(name string) (vfs.File, error) {
	if _, err := fs.check(Op{Kind: OpOpen, Path: name}); err != nil {
		return nil, err
	}
	f, err := fs.inner.Open(name)
	if err != nil {
		return nil, err
	}
	return &file{fs: fs, inner: f, path: name}, nil
}

// OpenDir is an OpOpenDir; the directory it returns is wrapped.
func (fs *FS) OpenDir(name string) (vfs.File, error) {
	if _, err := fs.check(Op{Kind: OpOpenDir, Path: name}); err != nil {
		return nil, err
	}
	f, err := fs.inner.OpenDir(name)
	if err != nil {
		return nil, err
	}
	return &file{fs: fs, inner: f, path: name}, nil
}

// Remove is an OpRemove.
func (fs *FS) Remove(name string) error {
	if _, err := fs.check(Op{Kind: OpRemove, Path: name}); err != nil {
		return err
	}
	return fs.inner.Remove(name)
}

// Rename is an OpRename with Path oldname and NewPath newname.
func (fs *FS) Rename(oldname, newname string) error {
	if _, err := fs.check(Op{Kind: OpRename, Path: oldname, NewPath: newname}); err != nil {
		return err
	}
	return fs.inner.Rename(oldname, newname)
}

// Link is an OpLink with Path oldname and NewPath newname.
func (fs *FS) Link(oldname, newname string) error {
	if _, err := fs.check(Op{Kind: OpLink, Path: oldname, NewPath: newname}); err != nil {
		return err
	}
	return fs.inner.Link(oldname, newname)
}

// MkdirAll is an OpMkdirAll.
func (fs *FS) MkdirAll(dir string, perm os.FileMode) error {
	if _, err := fs.check(Op{Kind: OpMkdirAll, Path: dir}); err != nil {
		return err
	}
	return fs.inner.MkdirAll(dir, perm)
}

// List is an OpList.
func (fs *FS) List(dir string) ([]string, error) {
	if _, err := fs.check(Op{Kind: OpList, Path: dir}); err != nil {
		return nil, err
	}
	return fs.inner.List(dir)
}

// Stat is an OpStat.
func (fs *FS) Stat(name string) (os.FileInfo, error) {
	if _, err := fs.check(Op{Kind: OpStat, Path: name}); err != nil {
		return nil, err
	}
	return fs.inner.Stat(name)
}

// Lock is an OpLock; releasing the lock is an OpClose.
func (fs *FS) Lock(name string) (io.Closer, error) {
	if _, err := fs.check(Op{Kind: OpLock, Path: name}); err != nil {
		return nil, err
	}
	c, err := fs.inner.Lock(name)
	if err != nil {
		return nil, err
	}
	return &lock{fs: fs, inner: c, path: name}, nil
}

// PathJoin is the inner FS's; it is not an operation.
func (fs *FS) PathJoin(elem ...string) string { return fs.inner.PathJoin(elem...) }

// lock is a held lock of the inner FS.
type lock struct {
	fs    *FS
	inner io.Closer
	path  string
}

// Close is an OpClose; the inner lock is released even if it fails.
func (l *lock) Close() error {
	_, injected := l.fs.check(Op{Kind: OpClose, Path: l.path})
	err := l.inner.Close()
	if injected != nil {
		return injected
	}
	return err
}

// file is an open file of the inner FS.
type file struct {
	fs    *FS
	inner vfs.File
	path  string
}

// Read is an OpRead.
func (f *file) Read(p []byte) (int, error) {
	if _, err := f.fs.check(Op{Kind: OpRead, Path: f.path, Len: len(p)}); err != nil {
		return 0, err
	}
	return f.inner.Read(p)
}

// ReadAt is an OpRead.
func (f *file) ReadAt(p []byte, off int64) (int, error) {
	if _, err := f.fs.check(Op{Kind: OpRead, Path: f.path, Len: len(p)}); err != nil {
		return 0, err
	}
	return f.inner.ReadAt(p, off)
}

// Write is an OpWrite; a failed one may write a prefix (see Rule).
func (f *file) Write(p []byte) (int, error) {
	prefix, injected := f.fs.check(Op{Kind: OpWrite, Path: f.path, Len: len(p)})
	if injected == nil {
		return f.inner.Write(p)
	}
	if prefix == 0 {
		return 0, injected
	}
	n, err := f.inner.Write(p[:prefix])
	if err != nil {
		return n, err
	}
	return n, injected
}

// Sync is an OpSync; a failed one syncs nothing.
func (f *file) Sync() error {
	if _, err := f.fs.check(Op{Kind: OpSync, Path: f.path}); err != nil {
		return err
	}
	return f.inner.Sync()
}

// Stat is an OpStat.
func (f *file) Stat() (os.FileInfo, error) {
	if _, err := f.fs.check(Op{Kind: OpStat, Path: f.path}); err != nil {
		return nil, err
	}
	return f.inner.Stat()
}

// Close is an OpClose; the inner file is closed even if it fails.
func (f *file) Close() error {
	_, injected := f.fs.check(Op{Kind: OpClose, Path: f.path})
	err := f.inner.Close()
	if injected != nil {
		return injected
	}
	return err
}

// trigger says when a rule fires.
type trigger uint8

const (
	triggerIndex trigger = iota
	triggerAlways
	triggerProbability
	triggerDiskFull
)

// Rule decides which operations fail. Build one with a trigger constructor,
// narrow it with On, Path and Where (all must pass; by default every
// operation passes), then FS.AddRule it.
type Rule struct {
	mu      sync.Mutex
	trigger trigger
	kinds   uint32 // bit per Kind; 0 means all
	glob    string
	pred    func(Op) bool

	index   int64      // OnIndex
	p       float64    // Probability
	rng     *rand.Rand // Probability
	limit   int64      // DiskFullAfter
	written int64      // DiskFullAfter: bytes let through
	partial *rand.Rand // PartialWrites
	cause   error      // WithErr

	matched, injected int64
}

// OnIndex fails the i-th operation (0-based) that passes the rule's filters
// after the rule is added, and nothing else. With i < 0 it never fires: a
// counter, read with Matched.
func OnIndex(i int64) *Rule { return &Rule{trigger: triggerIndex, index: i} }

// Always fails every operation that passes the rule's filters.
func Always() *Rule { return &Rule{trigger: triggerAlways} }

// Probability fails each operation that passes the rule's filters with
// probability p, drawing from a generator seeded with seed, so a run is
// reproducible if the operations come in the same order.
func Probability(p float64, seed uint64) *Rule {
	return &Rule{trigger: triggerProbability, p: p, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// DiskFullAfter lets n bytes of Writes through and then fails Writes with an
// error wrapping syscall.ENOSPC ("no space left on device ... disk full"):
// the Write that crosses the limit writes the bytes that fit and returns
// the error; later Writes write nothing. It considers only Writes (plus the
// rule's Path and Where filters). Reset makes room for n more bytes.
func DiskFullAfter(n int64) *Rule { return &Rule{trigger: triggerDiskFull, limit: n} }

// On limits the rule to the given kinds of operation.
func (r *Rule) On(kinds ...Kind) *Rule {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, k := range kinds {
		r.kinds |= 1 << k
	}
	return r
}

// Path limits the rule to operations on paths matching the filepath.Match
// pattern glob: against the whole path if glob contains a separator, else
// against the last element ("*.log", "MANIFEST-*"). Rename and Link match
// if either name does. Like regexp.MustCompile, it panics if glob is
// malformed: patterns are test constants.
func (r *Rule) Path(glob string) *Rule {
	if _, err := filepath.Match(glob, ""); err != nil {
		panic(fmt.Sprintf("errorfs: bad pattern %q: %v", glob, err))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.glob = glob
	return r
}

// Where limits the rule to operations for which pred returns true. pred is
// called with the rule's lock held and must not call back into the FS.
func (r *Rule) Where(pred func(Op) bool) *Rule {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pred = pred
	return r
}

// PartialWrites makes a Write that this rule fails first write a random
// prefix of its buffer (shorter than the buffer, possibly empty), drawn
// from a generator seeded with seed. It does not change DiskFullAfter,
// which always writes what fits.
func (r *Rule) PartialWrites(seed uint64) *Rule {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.partial = rand.New(rand.NewPCG(seed, seed^0x6a09e667f3bcc908))
	return r
}

// Matched returns how many operations passed the rule's filters while
// injection was enabled.
func (r *Rule) Matched() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.matched
}

// Injected returns how many errors the rule has injected.
func (r *Rule) Injected() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.injected
}

// Reset zeroes the rule's counts, so OnIndex counts afresh and DiskFullAfter
// has its n bytes of room again. Random generators are not reseeded.
func (r *Rule) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.matched, r.injected, r.written = 0, 0, 0
}

func (r *Rule) matches(op Op) bool {
	if r.trigger == triggerDiskFull && op.Kind != OpWrite {
		return false
	}
	if r.kinds != 0 && r.kinds&(1<<op.Kind) == 0 {
		return false
	}
	if r.glob != "" && !globMatch(r.glob, op.Path) && (op.NewPath == "" || !globMatch(r.glob, op.NewPath)) {
		return false
	}
	return r.pred == nil || r.pred(op)
}

func globMatch(glob, name string) bool {
	if !strings.ContainsRune(glob, filepath.Separator) && !strings.ContainsRune(glob, '/') {
		name = filepath.Base(name)
	}
	ok, _ := filepath.Match(glob, name)
	return ok
}

// eval decides op for this rule; see FS.check.
// WithErr makes the errors r injects carry cause (errors.Is matches it), as
// a real system would report: syscall.EMFILE for a process out of file
// descriptors, say.
func (r *Rule) WithErr(cause error) *Rule {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cause = cause
	return r
}

func (r *Rule) eval(op Op) (prefix int, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.matches(op) {
		return 0, nil
	}
	r.matched++
	var fire bool
	switch r.trigger {
	case triggerIndex:
		fire = r.matched-1 == r.index
	case triggerAlways:
		fire = true
	case triggerProbability:
		fire = r.rng.Float64() < r.p
	case triggerDiskFull:
		room := r.limit - r.written
		if int64(op.Len) <= room {
			r.written += int64(op.Len)
			return 0, nil
		}
		room = max(room, 0)
		r.written += room
		r.injected++
		return int(room), &Error{Op: op, Err: syscall.ENOSPC,
			msg: fmt.Sprintf("disk full after %d bytes, injected", r.limit)}
	}
	if !fire {
		return 0, nil
	}
	r.injected++
	if op.Kind == OpWrite && r.partial != nil && op.Len > 0 {
		prefix = r.partial.IntN(op.Len)
	}
	if r.cause != nil {
		return prefix, &Error{Op: op, Err: r.cause, msg: "injected"}
	}
	return prefix, &Error{Op: op}
}
