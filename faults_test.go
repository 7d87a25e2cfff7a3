package strata

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/vfs"
	"github.com/strata-db/strata/internal/vfs/errorfs"
)

// Fault injection (SQLite's "every I/O fails once", LevelDB's
// fault_injection_test in spirit).
//
// faultWorkload is a fixed sequence of writes, reads, flushes, a full and a
// partial compaction, a reopen (log recovery) and a snapshot. It runs once
// on a probe file system that counts and records every operation, and then
// once per operation with exactly that operation failing. Each run must:
// return the error to the caller (wrapping errorfs.ErrInjected), never
// return wrong data, never panic; after a failed write, flush or compaction
// with a background error, refuse writes; close; reopen on the same (now
// healthy) file system with every acknowledged write present and every
// batch all-or-nothing; reopen likewise on the state a power cut right
// after the failure would leave, with every write acknowledged as synced
// present; and go on working (write, flush, compact, reopen) without
// orphaned files.
//
// Determinism. Background goroutines would make the order of operations
// vary from run to run, and "fail operation i" would then name a different
// operation each time. The workload avoids that: auto compactions are off
// and the write buffer is large, so tables are written only by the explicit
// Flush and CompactRange, which the workload waits for; the info log is a
// slog.Logger, not a file. Only the obsolete-file sweep still runs in the
// background; it lists the directory, removes files and closes the table
// readers it evicts. So the operations are enumerated in two passes: the
// deterministic pass counts every kind except List, Remove and Close, and
// each run checks that the operation it failed is the one the probe saw at
// that index; the second pass counts List, Remove and Close, whose order
// may vary, and checks only the invariants.
//
// STRATA_FAULT_DEBUG=1 logs every run's failed operation and error, and on a
// failed check the directory before the reopen and the engine's log.

// faultKindsDeterministic are the operation kinds the first pass counts.
var faultKindsDeterministic = []errorfs.Kind{
	errorfs.OpCreate, errorfs.OpOpen, errorfs.OpOpenDir, errorfs.OpRead, errorfs.OpWrite,
	errorfs.OpSync, errorfs.OpRename, errorfs.OpLink, errorfs.OpLock, errorfs.OpStat, errorfs.OpMkdirAll,
}

// faultKindsBackground are the kinds the obsolete-file sweep also issues.
var faultKindsBackground = []errorfs.Kind{errorfs.OpList, errorfs.OpRemove, errorfs.OpClose}

func faultOptions(fs FS) *Options {
	return &Options{FS: fs, Logger: slog.New(slog.DiscardHandler), WriteBufferSize: 1 << 20,
		DisableAutoCompactions: true, BlockSize: 256, TargetFileSize: 4 << 10, BlockCacheSize: -1,
		Merger: modelMerger}
}

// faultBatch is one attempted write, in commit order.
type faultBatch struct {
	ops   []crashOp
	sync  bool
	acked bool // Write returned nil
}

// faultRun is one run of the workload.
type faultRun struct {
	t    *testing.T
	name string // for messages: which operation failed
	mem  *vfs.MemFS
	fs   FS
	rng  *rand.Rand
	opts func(FS) *Options
	db   *DB
	// oneShot says each fault fires once, so a read retried after a
	// failed one must succeed.
	oneShot bool
	// acked, if set, is called after each acknowledged batch.
	acked func(batch int)

	hist    []faultBatch
	model   map[string]string // the state after every acknowledged batch
	err     error             // the first error the workload met
	errStep string            // the step it met it in
	crash   *vfs.MemFS        // a power cut right after the first error
	reads   int               // values read and checked
	bgErr   error
	logBuf  bytes.Buffer
}

func newFaultRun(t *testing.T, name string, fs FS, mem *vfs.MemFS) *faultRun {
	return &faultRun{t: t, name: name, mem: mem, fs: fs, rng: rand.New(rand.NewPCG(7, 11)),
		opts: faultOptions, oneShot: true, model: map[string]string{}}
}

func (r *faultRun) fatalf(format string, args ...any) {
	r.t.Helper()
	r.t.Fatalf("[%s] %s", r.name, fmt.Sprintf(format, args...))
}

// fail records the first error and reports whether the workload must stop.
func (r *faultRun) fail(step string, err error) bool {
	if err == nil {
		return false
	}
	r.err, r.errStep = err, step
	r.crash = r.mem.CrashClone()
	return true
}

func faultKey(i int) string { return fmt.Sprintf("k%02d", i) }

// writes commits batches number from..to-1: 1-3 operations on 40 keys,
// every fifth synced.
func (r *faultRun) writes(from, to int) bool {
	for i := from; i < to; i++ {
		b := r.db.NewBatch()
		var ops []crashOp
		for n := 1 + r.rng.IntN(3); n > 0; n-- {
			k := faultKey(r.rng.IntN(40))
			switch x := r.rng.IntN(30); {
			case x < 1:
				end := faultKey(r.rng.IntN(40))
				b.DeleteRange([]byte(k), []byte(end))
				ops = append(ops, crashOp{key: k, end: end})
			case x < 3:
				v := fmt.Sprintf("m%d", i)
				b.Merge([]byte(k), []byte(v))
				ops = append(ops, crashOp{key: k, value: &v, merge: true})
			case x < 8:
				b.Delete([]byte(k))
				ops = append(ops, crashOp{key: k})
			default:
				v := fmt.Sprintf("v%d.%d.%s", i, n, strings.Repeat("x", r.rng.IntN(60)))
				b.Put([]byte(k), []byte(v))
				ops = append(ops, crashOp{key: k, value: &v})
			}
		}
		sync := i%5 == 4
		err := r.db.Write(b, &WriteOptions{Sync: sync})
		r.hist = append(r.hist, faultBatch{ops: ops, sync: sync, acked: err == nil})
		if r.fail(fmt.Sprintf("write %d", i), err) {
			return false
		}
		applyOps(r.model, ops)
		if r.acked != nil {
			r.acked(i)
		}
	}
	return true
}

func applyOps(m map[string]string, ops []crashOp) {
	for _, op := range ops {
		applyCrashOp(m, op)
	}
}

// check reads every key with Get and scans the database, comparing with
// state. A read may fail (with the injected error); it may never return
// wrong data or "not found" for a present key.
func (r *faultRun) check(step string, state map[string]string, snap *Snapshot) bool {
	get := r.db.Get
	if snap != nil {
		get = snap.Get
	}
	for i := 0; i < 40; i++ {
		k := faultKey(i)
		v, err := get([]byte(k))
		want, ok := state[k]
		switch {
		case err != nil && err != ErrNotFound:
			r.fail(step+": get "+k, err)
			if !r.oneShot {
				return false
			}
			// The failure must not stick: read again, with the fault
			// spent, the right value comes back.
			v, err := get([]byte(k))
			if ok && (err != nil || string(v) != want) || !ok && err != ErrNotFound {
				r.fatalf("%s: get %s after a failed read: %q, %v; want %q (present %v)", step, k, v, err, want, ok)
			}
			return false
		case !ok && err == nil:
			r.fatalf("%s: get %s = %q, want not found", step, k, v)
		case ok && err == ErrNotFound:
			r.fatalf("%s: get %s: not found, want %q", step, k, want)
		case ok && string(v) != want:
			r.fatalf("%s: get %s = %q, want %q", step, k, v, want)
		}
		r.reads++
	}
	it := r.db.NewIterator(&IterOptions{Snapshot: snap})
	keys := slices.Sorted(maps.Keys(state))
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		if n >= len(keys) || string(it.Key()) != keys[n] || string(it.Value()) != state[keys[n]] {
			r.fatalf("%s: scan entry %d is %q=%q, want %q", step, n, it.Key(), it.Value(), modelKey(keys, n))
		}
		n++
		r.reads++
	}
	if err := it.Close(); err != nil {
		r.fail(step+": scan", err)
		if !r.oneShot {
			return false
		}
		// A new iterator, with the fault spent, sees everything.
		it := r.db.NewIterator(&IterOptions{Snapshot: snap})
		got := map[string]string{}
		for ok := it.First(); ok; ok = it.Next() {
			got[string(it.Key())] = string(it.Value())
		}
		if err := it.Close(); err != nil || !maps.Equal(got, state) {
			r.fatalf("%s: scan after a failed scan: %d keys, want %d; %v", step, len(got), len(state), err)
		}
		return false
	}
	if n != len(keys) {
		r.fatalf("%s: scan ended after %d of %d entries without an error", step, n, len(keys))
	}
	return true
}

func (r *faultRun) open(step string) bool {
	db, err := Open("db", r.opts(r.fs))
	if r.fail(step, err) {
		return false
	}
	r.db = db
	return true
}

func (r *faultRun) closeDB(step string) bool {
	err := r.db.Close()
	r.db = nil
	return !r.fail(step, err)
}

// faultWorkload is the fixed workload. It stops at the first error,
// leaving the database open (r.db) unless the error came from Open or
// Close.
func (r *faultRun) workload() {
	_ = r.open("open") &&
		r.writes(0, 40) &&
		r.check("read memtable", r.model, nil) &&
		!r.fail("flush 1", r.db.Flush()) &&
		r.writes(40, 80) &&
		!r.fail("flush 2", r.db.Flush()) &&
		r.check("read level 0", r.model, nil) &&
		!r.fail("compact all", r.db.CompactRange(nil, nil)) &&
		r.check("read after compaction", r.model, nil) &&
		r.writes(80, 100) &&
		r.closeDB("close 1") &&
		r.open("reopen") &&
		r.check("read after recovery", r.model, nil) &&
		r.snapshotSteps() &&
		r.writes(120, 125) &&
		r.closeDB("close 2")
}

// snapshotSteps writes, flushes and compacts part of the key space under a
// snapshot, then reads the snapshot.
func (r *faultRun) snapshotSteps() bool {
	snap := r.db.NewSnapshot()
	defer snap.Close()
	at := maps.Clone(r.model)
	return r.writes(100, 120) &&
		!r.fail("flush 3", r.db.Flush()) &&
		!r.fail("compact range", r.db.CompactRange([]byte(faultKey(10)), []byte(faultKey(30)))) &&
		r.check("read snapshot", at, snap) &&
		r.check("read latest", r.model, nil)
}

// afterFailure checks the open database (if any) after the workload's
// first error, then closes it.
func (r *faultRun) afterFailure() {
	if r.err == nil {
		return
	}
	if !errors.Is(r.err, errorfs.ErrInjected) {
		r.fatalf("%s failed with %v, which does not wrap the injected error", r.errStep, r.err)
	}
	if r.db == nil {
		return
	}
	r.db.mu.Lock()
	bgErr := r.db.bgErr
	r.db.mu.Unlock()
	r.bgErr = bgErr
	if bgErr != nil {
		if !errors.Is(bgErr, errorfs.ErrInjected) {
			r.fatalf("background error %v does not wrap the injected error", bgErr)
		}
		err := r.db.Put([]byte("after-error"), []byte("x"), &WriteOptions{Sync: true})
		r.hist = append(r.hist, faultBatch{ops: []crashOp{{key: "after-error", value: new("x")}}, sync: true, acked: err == nil})
		if err == nil {
			r.fatalf("a write succeeded after the background error %v", bgErr)
		}
		if err := r.db.Flush(); err == nil {
			r.fatalf("Flush succeeded after the background error %v", bgErr)
		}
	}
	r.db.Close() // may report the error again; must not hang or panic
	r.db = nil
}

// matchStates reports whether state is what applying the batches of hist
// gives: every acknowledged batch, and each failed one wholly or not at
// all. With crashed, a prefix suffices, as long as it holds every
// acknowledged synced batch.
func matchStates(state map[string]string, hist []faultBatch, crashed bool) bool {
	var failed []int
	for i, b := range hist {
		if !b.acked {
			failed = append(failed, i)
		}
	}
	for mask := 0; mask < 1<<len(failed); mask++ {
		var eff [][]crashOp
		lastSynced := 0
		for i, b := range hist {
			if !b.acked {
				j := slices.Index(failed, i)
				if mask&(1<<j) == 0 {
					continue
				}
			}
			eff = append(eff, b.ops)
			if b.sync && b.acked {
				lastSynced = len(eff)
			}
		}
		min := len(eff)
		if crashed {
			min = lastSynced
		}
		if matchPrefix(state, eff, min) >= 0 {
			return true
		}
	}
	return false
}

// verify reopens on the healthy file system, then on the crash clone.
func (r *faultRun) verify() {
	r.t.Helper()
	r.verifyFS("reopen", r.mem, false)
	if r.crash != nil {
		r.verifyFS("reopen after a power cut", r.crash, true)
	}
}

func (r *faultRun) verifyFS(what string, fs *vfs.MemFS, crashed bool) {
	r.t.Helper()
	opts := r.opts(fs)
	// No automatic compaction, so that the directory holds still for
	// checkNoOrphans.
	opts.DisableAutoCompactions = true
	if os.Getenv("STRATA_FAULT_DEBUG") != "" {
		r.logBuf.Reset()
		opts.Logger = slog.New(slog.NewTextHandler(&r.logBuf, nil))
		r.t.Logf("before %s:\n%s", what, fs)
	}
	db, err := Open("db", opts)
	if err != nil {
		r.fatalf("%s after %s failed (%v): %v", what, r.errStep, r.err, err)
	}
	checkNoOrphans(r, what, db)
	state := dumpDBNamed(r, what, db)
	if !matchStates(state, r.hist, crashed) {
		r.fatalf("%s after %s failed (%v): the state (%d keys) is not that of the acknowledged batches (%d attempted)",
			what, r.errStep, r.err, len(state), len(r.hist))
	}
	// The database must go on working: files numbered after the failure
	// must not overwrite live ones.
	for i := 0; i < 20; i++ {
		k, v := fmt.Sprintf("k%02d", i*2), fmt.Sprintf("after-%d", i)
		if err := db.Put([]byte(k), []byte(v), nil); err != nil {
			r.fatalf("%s: put after recovery: %v", what, err)
		}
		state[k] = v
	}
	if err := db.Flush(); err != nil {
		r.fatalf("%s: flush after recovery: %v", what, err)
	}
	if err := db.CompactRange(nil, nil); err != nil {
		r.fatalf("%s: compaction after recovery: %v", what, err)
	}
	if err := db.Close(); err != nil {
		r.fatalf("%s: close after recovery: %v", what, err)
	}
	db, err = Open("db", opts)
	if err != nil {
		r.fatalf("%s: second reopen: %v", what, err)
	}
	checkNoOrphans(r, what+" twice", db)
	if got := dumpDBNamed(r, what+" twice", db); !maps.Equal(got, state) {
		r.fatalf("%s: after more writes, a compaction and a reopen the state differs (%d keys, want %d)",
			what, len(got), len(state))
	}
	if err := db.Close(); err != nil {
		r.fatalf("%s: close: %v", what, err)
	}
}

func dumpDBNamed(r *faultRun, what string, db *DB) map[string]string {
	m := map[string]string{}
	it := db.NewIterator(nil)
	for ok := it.First(); ok; ok = it.Next() {
		m[string(it.Key())] = string(it.Value())
	}
	if err := it.Close(); err != nil {
		r.fatalf("%s: scan: %v", what, err)
	}
	return m
}

// checkNoOrphans checks, right after Open (whose obsolete-file sweep runs
// before it returns), that the directory holds exactly the live tables, one
// log and one MANIFEST.
func checkNoOrphans(r *faultRun, what string, db *DB) {
	names, err := db.fs.List("db")
	if err != nil {
		r.fatalf("%s: list: %v", what, err)
	}
	live := map[uint64]struct{}{}
	db.mu.Lock()
	db.versions.addLiveFiles(live)
	db.mu.Unlock()
	var tables, logs, manifests []string
	for _, name := range names {
		t, num, ok := base.ParseFilename(name)
		if !ok {
			continue
		}
		switch t {
		case base.FileTypeTable:
			if _, ok := live[num]; !ok {
				tables = append(tables, name)
			}
		case base.FileTypeLog:
			logs = append(logs, name)
		case base.FileTypeManifest:
			manifests = append(manifests, name)
		case base.FileTypeTemp:
			tables = append(tables, name)
		}
	}
	if len(tables) > 0 || len(logs) != 1 || len(manifests) != 1 {
		if os.Getenv("STRATA_FAULT_DEBUG") != "" {
			db.mu.Lock()
			r.t.Logf("%s", r.logBuf.String())
			r.t.Logf("next file %d, log %d, manifest %d, version %s", db.versions.nextFileNum, db.versions.logNum, db.versions.manifestNum, db.versions.current)
			db.mu.Unlock()
		}
		r.fatalf("%s after %s failed (%v): left behind: orphaned %v, logs %v, MANIFESTs %v",
			what, r.errStep, r.err, tables, logs, manifests)
	}
}

// faultProbe runs the workload with no failures and returns the
// operations it did of the given kinds, in order.
func faultProbe(t *testing.T, pass faultPass) []errorfs.Op {
	mem := vfs.NewMem()
	fs := errorfs.Wrap(mem)
	var mu sync.Mutex
	var ops []errorfs.Op
	fs.AddRule(errorfs.OnIndex(-1).On(pass.kinds...).Where(pass.recorder(&mu, &ops)))
	r := newFaultRun(t, "probe", fs, mem)
	if pass.opts != nil {
		r.opts = pass.opts
	}
	r.workload()
	if r.err != nil {
		t.Fatalf("the workload fails without injected errors: %s: %v", r.errStep, r.err)
	}
	r.verify()
	return ops
}

// faultStats counts what the fault tests did, for docs/reliability.md.
type faultStats struct {
	runs, injected, failedCaller, transparent, reads int
	byKind                                           map[string]int
}

// add counts a run in which op failed.
func (s *faultStats) add(r *faultRun, op errorfs.Op) {
	s.runs++
	s.injected++
	s.reads += r.reads
	s.byKind[op.Kind.String()]++
	if r.err != nil {
		s.failedCaller++
	} else {
		s.transparent++
	}
}

func (s *faultStats) String() string {
	kinds := slices.Sorted(maps.Keys(s.byKind))
	var b strings.Builder
	for _, k := range kinds {
		fmt.Fprintf(&b, " %s=%d", k, s.byKind[k])
	}
	return fmt.Sprintf("%d runs, %d faults injected (%s), %d reported to the caller, %d absorbed or background-only, %d values read and checked",
		s.runs, s.injected, strings.TrimSpace(b.String()), s.failedCaller, s.transparent, s.reads)
}

// faultPass says which operations a pass of TestEveryIOFailsOnce fails.
type faultPass struct {
	kinds []errorfs.Kind
	// filter, if set, narrows the operations counted.
	filter func(errorfs.Op) bool
	// deterministic says the failed operation must be the one the probe
	// saw at that index.
	deterministic bool
	// opts replaces faultOptions.
	opts func(FS) *Options
}

// recorder returns a rule condition that matches the operations the pass
// counts (its filter) and appends them to *ops under mu.
func (pass faultPass) recorder(mu *sync.Mutex, ops *[]errorfs.Op) func(errorfs.Op) bool {
	return func(op errorfs.Op) bool {
		if pass.filter != nil && !pass.filter(op) {
			return false
		}
		mu.Lock()
		*ops = append(*ops, op)
		mu.Unlock()
		return true
	}
}

// runFaultPass fails each operation the pass counts once.
func runFaultPass(t *testing.T, pass faultPass, stats *faultStats) {
	deterministic := pass.deterministic
	probe := faultProbe(t, pass)
	step := 1
	if testing.Short() && raceEnabled {
		step = 5
	}
	for i := 0; i < len(probe); i += step {
		// The obsolete-file sweep runs in the background, so how many
		// List, Remove and Close operations a run does varies (70 to 80
		// where the probe did 80): a run that ends before operation i
		// comes is run again until it does. A deterministic pass never
		// needs to.
		var did []int
		for {
			n, fired := runFaultOnce(t, pass, probe, i, stats)
			if fired {
				break
			}
			did = append(did, n)
			if !deterministic && len(did) == maxFaultAttempts && i >= len(probe)-3 && slices.Max(did) <= i {
				// The probe's run did a background operation or two more
				// than any of these (76 where they did 73-75, once in CI):
				// operation i, one of its last, happens in no run. The
				// operations before it, those of the runs' own ends
				// included, were failed at their own indices.
				t.Logf("[fail op %d: %s] skipped: %d runs did only %v operations of the kinds counted (the probe %d)",
					i, probe[i], len(did), did, len(probe))
				break
			}
			if deterministic || len(did) == maxFaultAttempts {
				t.Fatalf("[fail op %d: %s] the fault never fired: %d runs did only %v operations of the kinds counted (the probe %d)",
					i, probe[i], len(did), did, len(probe))
			}
		}
	}
}

// maxFaultAttempts bounds the runs that wait for a fault to fire.
const maxFaultAttempts = 20

// runFaultOnce runs the workload with the pass's i-th operation failing. If
// the fault fired, it checks the run (runFaultPass's invariants) and counts
// it; either way it reports how many operations of the pass's kinds the run
// did.
func runFaultOnce(t *testing.T, pass faultPass, probe []errorfs.Op, i int, stats *faultStats) (ops int, fired bool) {
	mem := vfs.NewMem()
	fs := errorfs.Wrap(mem)
	var mu sync.Mutex
	var seen []errorfs.Op
	// A failed write first writes a random prefix of its buffer, as a
	// real short write does.
	rule := fs.AddRule(errorfs.OnIndex(int64(i)).On(pass.kinds...).PartialWrites(uint64(i)).Where(pass.recorder(&mu, &seen)))
	name := fmt.Sprintf("fail op %d: %s", i, probe[i])
	r := newFaultRun(t, name, fs, mem)
	if pass.opts != nil {
		r.opts = pass.opts
	}
	r.workload()
	r.afterFailure()
	mu.Lock()
	ops, fired = len(seen), rule.Injected() == 1
	var failed errorfs.Op
	if fired {
		failed = seen[i]
	}
	mu.Unlock()
	if !fired {
		return ops, false
	}
	if pass.deterministic && failed != probe[i] {
		t.Fatalf("[%s] the workload is not deterministic: operation %d was %s this time", name, i, failed)
	}
	r.name = fmt.Sprintf("fail op %d: %s", i, failed)
	fs.SetEnabled(false)
	r.verify()
	stats.add(r, failed)
	if os.Getenv("STRATA_FAULT_DEBUG") != "" {
		t.Logf("%s: step %q err %v bg %v", r.name, r.errStep, r.err, r.bgErr)
	}
	return ops, true
}

// TestEveryIOFailsOnce is the every-I/O-fails-once test described at the
// top of this file.
func TestEveryIOFailsOnce(t *testing.T) {
	stats := &faultStats{byKind: map[string]int{}}
	t.Run("deterministic", func(t *testing.T) {
		runFaultPass(t, faultPass{kinds: faultKindsDeterministic, deterministic: true}, stats)
	})
	t.Run("list-remove-close", func(t *testing.T) {
		runFaultPass(t, faultPass{kinds: faultKindsBackground}, stats)
	})
	// Every flush and compaction switches to a new MANIFEST, as one does
	// past 64 MiB: creating it, writing its snapshot, renaming CURRENT over
	// and syncing the directory each fail once, in a running database.
	t.Run("manifest-switch", func(t *testing.T) {
		runFaultPass(t, faultPass{
			kinds:         faultKindsDeterministic,
			deterministic: true,
			filter:        isManifestSwitchOp,
			opts: func(fs FS) *Options {
				o := faultOptions(fs)
				o.maxManifestSize = 1
				return o
			},
		}, stats)
	})
	t.Logf("every I/O fails once: %s", stats)
}

// isManifestSwitchOp reports operations on MANIFESTs, CURRENT, its
// temporary file and the directory.
func isManifestSwitchOp(op errorfs.Op) bool {
	for _, p := range []string{op.Path, op.NewPath} {
		if p == "db" {
			return true
		}
		if t, _, ok := base.ParseFilename(path.Base(p)); ok &&
			(t == base.FileTypeManifest || t == base.FileTypeCurrent || t == base.FileTypeTemp) {
			return true
		}
	}
	return false
}

// TestDiskFull runs the workload on a disk that fills up after n bytes,
// for n spread over the workload's writes: the first write that does not
// fit fails with an error that says the disk is full (ENOSPC), nothing
// acknowledged is lost, and once space returns the database reopens and
// works. Some fill points are exact: the disk fills with the last byte of
// a synced batch's log record, so that batch is accepted on a disk left
// with no room, and the next write fails; the accepted batch must be
// acknowledged and must survive the reopen and a power cut.
func TestDiskFull(t *testing.T) {
	total, atBatch := faultBytesWritten(t)
	points := 60
	if testing.Short() {
		points = 20
	}
	// Synced batches: the first, before the first flush, before the
	// compaction, before the close and the last under the snapshot.
	exact := []int{4, 39, 79, 99, 119}
	prng := rand.New(rand.NewPCG(3, 5))
	fills := 0
	for p := 0; p < points+len(exact); p++ {
		limit, filler := prng.Int64N(total), -1
		switch {
		case p < 4:
			limit = []int64{0, 1, 100, total - 1}[p]
		case p >= points:
			filler = exact[p-points]
			limit = atBatch[filler]
		}
		mem := vfs.NewMem()
		fs := errorfs.Wrap(mem)
		fs.AddRule(errorfs.DiskFullAfter(limit))
		r := newFaultRun(t, fmt.Sprintf("disk full after %d of %d bytes", limit, total), fs, mem)
		r.workload()
		if r.err == nil {
			t.Fatalf("[%s] the workload succeeded on a full disk", r.name)
		}
		if !errors.Is(r.err, syscall.ENOSPC) || !strings.Contains(r.err.Error(), "no space left on device") {
			t.Fatalf("[%s] %s failed with %q, which does not say the disk is full", r.name, r.errStep, r.err)
		}
		if filler >= 0 {
			if b := r.hist[filler]; !b.sync || !b.acked || r.errStep == fmt.Sprintf("write %d", filler) {
				t.Fatalf("[%s] batch %d (synced %v) filled the disk to its last byte and was not acknowledged; %s failed: %v",
					r.name, filler, b.sync, r.errStep, r.err)
			}
			r.name += fmt.Sprintf(", batch %d filled it", filler)
			fills++
		}
		// While the disk stays full, writes keep failing and reads work.
		if r.db != nil {
			if err := r.db.Put([]byte("more"), []byte("x"), &WriteOptions{Sync: true}); err == nil {
				t.Fatalf("[%s] a write was accepted on a full disk after %s failed", r.name, r.errStep)
			}
			r.hist = append(r.hist, faultBatch{ops: []crashOp{{key: "more", value: new("x")}}, sync: true})
		}
		r.afterFailure()
		// Space returns.
		fs.ClearRules()
		r.verify()
	}
	t.Logf("disk full at %d points of %d bytes: every one reported ENOSPC; at %d of them a synced batch filled the disk to its last byte and was kept",
		points+len(exact), total, fills)
}

// faultBytesWritten returns the bytes the fault workload writes, and how
// many it had written when each batch was acknowledged.
func faultBytesWritten(t *testing.T) (total int64, atBatch map[int]int64) {
	mem := vfs.NewMem()
	fs := errorfs.Wrap(mem)
	var mu sync.Mutex
	fs.AddRule(errorfs.OnIndex(-1).On(errorfs.OpWrite).Where(func(op errorfs.Op) bool {
		mu.Lock()
		total += int64(op.Len)
		mu.Unlock()
		return true
	}))
	r := newFaultRun(t, "probe", fs, mem)
	atBatch = map[int]int64{}
	r.acked = func(batch int) {
		mu.Lock()
		atBatch[batch] = total
		mu.Unlock()
	}
	r.workload()
	if r.err != nil {
		t.Fatal(r.err)
	}
	return total, atBatch
}

// faultAutoOptions turn background work on: tiny memtables and tables, so
// flushes, automatic compactions and trivial moves run all the time, in
// goroutines racing the workload.
func faultAutoOptions(fs FS) *Options {
	return &Options{FS: fs, Logger: slog.New(slog.DiscardHandler), WriteBufferSize: 2 << 10,
		InitialMemTableSize: 256, BlockSize: 128, TargetFileSize: 2 << 10, L0CompactionTrigger: 2, LevelSizeMultiplier: 2,
		BlockCacheSize: 16 << 10, MaxOpenFiles: 20, Merger: modelMerger}
}

// workloadAuto is a longer workload for faultAutoOptions.
func (r *faultRun) workloadAuto() {
	_ = r.open("open") &&
		r.writes(0, 150) &&
		r.check("read 1", r.model, nil) &&
		r.writes(150, 300) &&
		r.check("read 2", r.model, nil) &&
		r.closeDB("close 1") &&
		r.open("reopen") &&
		r.check("read after recovery", r.model, nil) &&
		r.writes(300, 400) &&
		!r.fail("compact all", r.db.CompactRange(nil, nil)) &&
		r.check("read after compaction", r.model, nil) &&
		r.closeDB("close 2")
}

// runBackgroundFaultOnce runs workloadAuto with operation i failing. If the
// fault fired, it checks the run and counts it; either way it reports how
// many operations the run did.
func runBackgroundFaultOnce(t *testing.T, name string, i int64, stats *faultStats) (ops int64, fired bool) {
	mem := vfs.NewMem()
	fs := errorfs.Wrap(mem)
	var mu sync.Mutex
	var failed errorfs.Op
	var n int64
	rule := fs.AddRule(errorfs.OnIndex(i).Where(func(op errorfs.Op) bool {
		mu.Lock()
		if n == i {
			failed = op
		}
		n++
		mu.Unlock()
		return true
	}))
	r := newFaultRun(t, name, fs, mem)
	r.opts = faultAutoOptions
	r.workloadAuto()
	r.afterFailure()
	fs.SetEnabled(false)
	mu.Lock()
	ops, fired = n, rule.Injected() == 1
	mu.Unlock()
	if !fired {
		return ops, false
	}
	r.name += ": " + failed.String()
	r.verify()
	stats.add(r, failed)
	return ops, true
}

// TestFaultsWithBackgroundWork fails one operation, at a random index, of
// a workload whose flushes and compactions run in the background, where
// the order of operations varies from run to run. Background failures must
// stop writes with the error; the checks are those of TestEveryIOFailsOnce.
func TestFaultsWithBackgroundWork(t *testing.T) {
	mem := vfs.NewMem()
	fs := errorfs.Wrap(mem)
	counter := fs.AddRule(errorfs.OnIndex(-1))
	probe := newFaultRun(t, "probe", fs, mem)
	probe.opts = faultAutoOptions
	probe.workloadAuto()
	if probe.err != nil {
		t.Fatalf("the workload fails without injected errors: %s: %v", probe.errStep, probe.err)
	}
	probe.verify()
	total := counter.Matched()

	runs := 100
	if testing.Short() {
		runs = 40
		if raceEnabled {
			runs = 15
		}
	}
	seed := uint64(time.Now().UnixNano())
	if s, err := strconv.ParseUint(os.Getenv("STRATA_SEED"), 10, 64); err == nil {
		seed = s
	}
	t.Logf("seed %d (%d operations in the probe run)", seed, total)
	rng := rand.New(rand.NewPCG(seed, 1))
	stats := &faultStats{byKind: map[string]int{}}
	for run := 0; run < runs; run++ {
		// A run may do fewer operations than the probe: if it ends before
		// operation i, it is run again with an index below what it did.
		i := rng.Int64N(total)
		var did []int64
		for {
			n, fired := runBackgroundFaultOnce(t, fmt.Sprintf("seed %d, run %d: fail op %d", seed, run, i), i, stats)
			if fired {
				break
			}
			did = append(did, n)
			if len(did) == maxFaultAttempts {
				t.Fatalf("[seed %d, run %d] the fault never fired: %d runs did only %v operations", seed, run, len(did), did)
			}
			i = rng.Int64N(n)
		}
	}
	t.Logf("one fault at a random point of a workload with background work: %s", stats)
}

// TestOutOfFileDescriptorsIsNotFatal: a flush or compaction that fails
// because the process is out of file descriptors (EMFILE) is retried, not
// made the background error that stops every write until reopen; once
// descriptors are back, the work completes and nothing is lost.
func TestOutOfFileDescriptorsIsNotFatal(t *testing.T) {
	fs := errorfs.Wrap(vfs.NewMem())
	db := mustOpen(t, "/db", &Options{FS: fs, WriteBufferSize: 32 << 10, L0CompactionTrigger: 2})
	defer db.Close()
	// The next six table files fail to open: flushes and compactions.
	var creates atomic.Int64
	rule := fs.AddRule(errorfs.Always().On(errorfs.OpCreate).Path("*.ldb").WithErr(syscall.EMFILE).
		Where(func(errorfs.Op) bool { return creates.Add(1) <= 6 }))
	value := make([]byte, 100)
	for i := range 3000 {
		if err := db.Put(fmt.Appendf(nil, "k%05d", i), value, nil); err != nil {
			t.Fatalf("write %d while out of descriptors: %v", i, err)
		}
	}
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := db.CompactRange(nil, nil); err != nil {
		t.Fatal(err)
	}
	if rule.Injected() < 6 {
		t.Fatalf("only %d table creations failed", rule.Injected())
	}
	for i := range 3000 {
		if _, err := db.Get(fmt.Appendf(nil, "k%05d", i)); err != nil {
			t.Fatalf("key %d: %v", i, err)
		}
	}
}
