package strata

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/vfs"
)

// The context variants of the long calls (CompactRangeContext,
// CompactRangeWithContext, IngestContext, WaitForCompactionsContext):
// cancelled before the call, in the middle of their work (from the file
// system, when they create their Nth table: deterministic), or while they
// wait for background work, they return the context's cause, leave the
// database equal to a model of its writes, leave no table behind that the
// version does not list, and leave it writable.

// hookFS calls the hook, if set, with the name of every file it is asked
// to create, before creating it.
type hookFS struct {
	vfs.FS
	hook atomic.Pointer[func(name string)]
}

func (fs *hookFS) Create(name string) (vfs.File, error) {
	if h := fs.hook.Load(); h != nil {
		(*h)(name)
	}
	return fs.FS.Create(name)
}

// cancelAtTable makes the k-th table the database creates from now on
// cancel ctx with cause; k == 0 cancels it now. It returns the count of
// tables created from now on.
func (fs *hookFS) cancelAtTable(k int64, cancel context.CancelCauseFunc, cause error) *atomic.Int64 {
	var created atomic.Int64
	if k == 0 {
		cancel(cause)
	}
	h := func(name string) {
		if t, _, ok := base.ParseFilename(filepath.Base(name)); ok && t == base.FileTypeTable {
			if created.Add(1) == k {
				cancel(cause)
			}
		}
	}
	fs.hook.Store(&h)
	return &created
}

// cancelFixture is a database on hookFS with several level-0 tables of
// overwrites and deletions, and the model of its contents.
type cancelFixture struct {
	t     *testing.T
	seed  uint64
	rng   *rand.Rand
	dir   string
	fs    *hookFS
	opts  *Options
	db    *DB
	model map[string]string
}

const cancelKeySpace = 12000

func newCancelFixture(t *testing.T) *cancelFixture {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	f := &cancelFixture{t: t, seed: seed, rng: rand.New(rand.NewPCG(seed, 0)), dir: t.TempDir(),
		fs: &hookFS{FS: vfs.Default}, model: map[string]string{}}
	f.opts = &Options{FS: f.fs, DisableAutoCompactions: true, WriteBufferSize: 1 << 20, TargetFileSize: 16 << 10}
	f.db = mustOpen(t, f.dir, f.opts)
	t.Cleanup(func() { f.db.Close() })
	for round := range 6 {
		for range 2500 {
			f.write()
		}
		if err := f.db.Flush(); err != nil {
			t.Fatalf("seed %d: flush %d: %v", seed, round, err)
		}
	}
	return f
}

// write puts (7 in 8) or deletes a random key, in the database and the
// model. The values are incompressible, so a 16 KiB table holds at most
// ~75 entries.
func (f *cancelFixture) write() {
	k := fmt.Sprintf("key%05d", f.rng.IntN(cancelKeySpace))
	if f.rng.IntN(8) == 0 {
		if err := f.db.Delete([]byte(k), nil); err != nil {
			f.t.Fatalf("seed %d: %v", f.seed, err)
		}
		delete(f.model, k)
		return
	}
	v := make([]byte, 200) // random letters: snappy leaves them as they are
	for i := range v {
		v[i] = 'a' + byte(f.rng.IntN(26))
	}
	if err := f.db.Put([]byte(k), v, nil); err != nil {
		f.t.Fatalf("seed %d: %v", f.seed, err)
	}
	f.model[k] = string(v)
}

// check compares the database with the model, by a scan and by a Get of
// every key of the key space.
func (f *cancelFixture) check(what string) {
	t := f.t
	t.Helper()
	it := f.db.NewIterator(nil)
	n := 0
	for k, v := range it.All() {
		if want, ok := f.model[string(k)]; !ok || want != string(v) {
			t.Fatalf("seed %d, %s: scan shows %s=%.20s…, model has %.20s… (present %v)", f.seed, what, k, v, want, ok)
		}
		n++
	}
	if err := it.Close(); err != nil {
		t.Fatalf("seed %d, %s: scan: %v", f.seed, what, err)
	}
	if n != len(f.model) {
		t.Fatalf("seed %d, %s: scan shows %d keys, model %d", f.seed, what, n, len(f.model))
	}
	for i := range cancelKeySpace + 10 {
		k := fmt.Sprintf("key%05d", i)
		v, err := f.db.Get([]byte(k))
		want, ok := f.model[k]
		if ok && (err != nil || string(v) != want) || !ok && !errors.Is(err, ErrNotFound) {
			t.Fatalf("seed %d, %s: get %s = %.20s…, %v; model %.20s… (present %v)", f.seed, what, k, v, err, want, ok)
		}
	}
}

// versionTables returns the numbers of the tables in the current version.
func (f *cancelFixture) versionTables() []uint64 {
	f.db.mu.Lock()
	defer f.db.mu.Unlock()
	var nums []uint64
	for _, files := range f.db.versions.current.Levels {
		for _, m := range files {
			nums = append(nums, m.Num)
		}
	}
	slices.Sort(nums)
	return nums
}

// checkTables checks that the version lists want, and that the directory
// holds exactly those tables.
func (f *cancelFixture) checkTables(what string, want []uint64) {
	t := f.t
	t.Helper()
	names, err := f.fs.List(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	var onDisk []uint64
	for _, name := range names {
		if typ, num, ok := base.ParseFilename(name); ok && typ == base.FileTypeTable {
			onDisk = append(onDisk, num)
		}
	}
	slices.Sort(onDisk)
	if v := f.versionTables(); !slices.Equal(v, want) || !slices.Equal(onDisk, want) {
		t.Fatalf("seed %d, %s: version lists tables %v, the directory holds %v; want %v", f.seed, what, v, onDisk, want)
	}
}

// afterCancel checks what a cancelled call must leave: its cause as the
// error, the same tables, the model's contents, a writable database; and
// then that the same call without cancellation succeeds, and that the
// database reopens equal to the model.
func (f *cancelFixture) afterCancel(err, cause error, tables []uint64, redo func() error) {
	t := f.t
	t.Helper()
	if err != cause {
		t.Fatalf("seed %d: cancelled call returned %v, want the cause %v", f.seed, err, cause)
	}
	f.checkTables("after the cancelled call", tables)
	f.check("after the cancelled call")
	for range 100 { // not stopped by a background error
		f.write()
	}
	if err := redo(); err != nil {
		t.Fatalf("seed %d: the call without cancellation: %v", f.seed, err)
	}
	f.check("after the call without cancellation")
	if err := f.db.Close(); err != nil {
		t.Fatal(err)
	}
	f.db = mustOpen(t, f.dir, f.opts)
	f.check("after reopening")
}

func TestCompactContextCanceled(t *testing.T) {
	type compactFunc func(db *DB, ctx context.Context) error
	calls := []struct {
		name    string
		compact compactFunc
		merges  int64 // how many merges run at once
	}{
		{"CompactRangeContext", func(db *DB, ctx context.Context) error { return db.CompactRangeContext(ctx, nil, nil) }, 1},
		{"CompactRangeWithContext/parallel=1", func(db *DB, ctx context.Context) error {
			return db.CompactRangeWithContext(ctx, nil, nil, CompactOptions{Parallelism: 1})
		}, 1},
		{"CompactRangeWithContext/parallel=4", func(db *DB, ctx context.Context) error {
			return db.CompactRangeWithContext(ctx, []byte("key00100"), nil, CompactOptions{Parallelism: 4})
		}, 4},
	}
	for _, c := range calls {
		for _, at := range []int64{0, 3} { // before the call; at its third output table
			t.Run(fmt.Sprintf("%s/cancel-at-table-%d", c.name, at), func(t *testing.T) {
				t.Parallel()
				f := newCancelFixture(t)
				tables := f.versionTables()
				f.checkTables("before", tables)
				ctx, cancel := context.WithCancelCause(context.Background())
				defer cancel(nil)
				cause := errors.New("test: stop the compaction")
				created := f.fs.cancelAtTable(at, cancel, cause)
				err := c.compact(f.db, ctx)
				cancelled := created.Load()
				f.afterCancel(err, cause, tables, func() error { return c.compact(f.db, context.Background()) })
				// Promptly: after the cancellation each running merge
				// writes at most 1024 entries more, which fill at most 14
				// tables of 16 KiB, and finishes the table it is in; the
				// whole compaction writes ~140 (the hook still counts).
				full := created.Load() - cancelled
				t.Logf("tables written: %d by the cancelled compaction, %d by the whole one", cancelled, full)
				if limit := at + c.merges*15; at == 0 && cancelled != 0 || cancelled > limit {
					t.Fatalf("seed %d: the cancelled compaction wrote %d tables (at most %d allowed), the whole one %d",
						f.seed, cancelled, limit, full)
				}
			})
		}
	}
}

func TestIngestContextCanceled(t *testing.T) {
	cases := []struct {
		move bool
		at   int64 // the table whose creation cancels; 0: before the call
	}{
		{false, 0},
		{false, 2}, // in the second rewrite
		{true, 2},
		{false, 4}, // copying the last table, after every rewrite: the last check
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("move=%v/cancel-at-table-%d", c.move, c.at), func(t *testing.T) {
			t.Parallel()
			f := newCancelFixture(t)
			// Three tables over keys the database holds (rewritten with a
			// new sequence number), one beyond them (linked or copied).
			ext := t.TempDir()
			var paths []string
			value := func(k string) string { return "ingested " + k }
			for i, keys := range [][]string{
				rangeKeys("key", 0, 3000), rangeKeys("key", 3000, 6000), rangeKeys("key", 6000, 9000), rangeKeys("zz", 0, 100),
			} {
				p := filepath.Join(ext, fmt.Sprintf("t%d.sst", i))
				writeTable(t, p, keys, value)
				paths = append(paths, p)
			}
			tables := f.versionTables()
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			cause := errors.New("test: stop the ingest")
			f.fs.cancelAtTable(c.at, cancel, cause)
			err := f.db.IngestContext(ctx, paths, &IngestOptions{Move: c.move})
			for _, p := range paths {
				if _, serr := os.Stat(p); serr != nil {
					t.Fatalf("after the cancelled ingest: %v", serr)
				}
			}
			f.afterCancel(err, cause, tables, func() error {
				if err := f.db.IngestContext(context.Background(), paths, &IngestOptions{Move: c.move}); err != nil {
					return err
				}
				for i := range 9000 {
					k := fmt.Sprintf("key%05d", i)
					f.model[k] = value(k)
				}
				for i := range 100 {
					k := fmt.Sprintf("zz%05d", i)
					f.model[k] = value(k)
				}
				return nil
			})
		})
	}
}

// TestContextStopsWaits: with a flush held in the middle, every call that
// waits for it returns the context's cause once the context is done, and
// the flush then completes.
func TestContextStopsWaits(t *testing.T) {
	db := mustOpen(t, t.TempDir(), &Options{DisableAutoCompactions: true})
	defer db.Close()
	started, release := make(chan struct{}), make(chan struct{})
	db.testHookStandIn = func() {
		close(started)
		<-release
	}
	if err := db.Put([]byte("a"), []byte("1"), nil); err != nil {
		t.Fatal(err)
	}
	flushed := make(chan error, 1)
	go func() { flushed <- db.Flush() }()
	<-started

	calls := map[string]func(ctx context.Context) error{
		"WaitForCompactionsContext": db.WaitForCompactionsContext,
		"CompactRangeContext":       func(ctx context.Context) error { return db.CompactRangeContext(ctx, nil, nil) },
		"CompactRangeWithContext": func(ctx context.Context) error {
			return db.CompactRangeWithContext(ctx, nil, nil, CompactOptions{})
		},
	}
	ext := filepath.Join(t.TempDir(), "t.sst")
	writeTable(t, ext, []string{"a"}, func(string) string { return "2" }) // overlaps the table being flushed
	calls["IngestContext"] = func(ctx context.Context) error { return db.IngestContext(ctx, []string{ext}, nil) }
	for name, call := range calls {
		for _, before := range []bool{true, false} {
			ctx, cancel := context.WithCancelCause(context.Background())
			cause := fmt.Errorf("test: stop %s", name)
			if before {
				cancel(cause)
			}
			done := make(chan error, 1)
			go func() { done <- call(ctx) }()
			cancel(cause) // whether the call waits already or not, the result is the same
			if err := <-done; err != cause {
				t.Fatalf("%s (cancelled before the call: %v) = %v, want the cause", name, before, err)
			}
		}
	}
	close(release)
	if err := <-flushed; err != nil {
		t.Fatal(err)
	}
	if v, err := db.Get([]byte("a")); err != nil || string(v) != "1" {
		t.Fatalf("get a = %q, %v; want 1: a cancelled ingest changed it", v, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := db.WaitForCompactionsContext(ctx); err != nil {
		t.Fatalf("WaitForCompactionsContext on a settled database with a done context = %v, want nil", err)
	}
}
