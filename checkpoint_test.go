package strata

import (
	"context"
	"errors"
	"fmt"
	iofs "io/fs"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
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

// Checkpoints (checkpoint.go): a checkpoint is an exact prefix of the
// writes that includes every write acknowledged before the call, opens on
// its own (and in C++ LevelDB), survives a power cut once Checkpoint
// returns, and a failed one leaves nothing that opens while the source
// goes on unharmed.

// ckptUpper bounds the scans of checkpoint tests: the holes some tests
// put in the database are at "~" and above, which a scan must not cross.
const ckptUpper = "~"

// ckptDump returns every key below ckptUpper and its value.
func ckptDump(t *testing.T, db *DB) map[string]string {
	t.Helper()
	m := map[string]string{}
	it := db.NewIterator(&IterOptions{UpperBound: []byte(ckptUpper)})
	for k, v := range it.All() {
		m[string(k)] = string(v)
	}
	if err := it.Close(); err != nil {
		t.Fatalf("scan: %v", err)
	}
	return m
}

// openExisting opens the database in dir on fs, logging nothing, and fails
// if there is none.
func openExisting(fs FS, dir string) (*DB, error) {
	return Open(dir, &Options{FS: fs, ErrorIfNotExists: true, Logger: slog.New(slog.DiscardHandler)})
}

// checkCheckpoint opens the checkpoint in dir on fs and checks that it
// holds exactly want (below ckptUpper) and the holes wantHoles.
func checkCheckpoint(t *testing.T, fs FS, dir string, want map[string]string, wantHoles []Hole) {
	t.Helper()
	db, err := openExisting(fs, dir)
	if err != nil {
		t.Fatalf("open checkpoint %s: %v", dir, err)
	}
	defer db.Close()
	if got := ckptDump(t, db); !maps.Equal(got, want) {
		t.Fatalf("checkpoint %s holds %d keys, want %d (%s)", dir, len(got), len(want), mapDiff(got, want))
	}
	if got := db.Holes(); !slices.EqualFunc(got, wantHoles, func(a, b Hole) bool { return a.String() == b.String() }) {
		t.Fatalf("checkpoint %s has holes %v, want %v", dir, got, wantHoles)
	}
}

// checkSource reopens the database of s, closed, and checks that it holds
// every write (or, when its last writes without the WAL were never
// flushed, every write with the WAL), and its holes.
func checkSource(t *testing.T, fs FS, dir string, s *ckptSource, what string) {
	t.Helper()
	db, err := openExisting(fs, dir)
	if err != nil {
		t.Fatalf("%s: reopen the database: %v", what, err)
	}
	defer db.Close()
	if got := ckptDump(t, db); !maps.Equal(got, s.model) && !maps.Equal(got, s.logged) {
		t.Fatalf("%s: the database reopens with %d keys (%s)", what, len(got), mapDiff(got, s.model))
	}
	if len(db.Holes()) != len(s.holes) {
		t.Fatalf("%s: the database has holes %v, want %v", what, db.Holes(), s.holes)
	}
}

// mapDiff names one difference between got and want.
func mapDiff(got, want map[string]string) string {
	for k, w := range want {
		if g, ok := got[k]; !ok {
			return fmt.Sprintf("%q missing", k)
		} else if g != w {
			return fmt.Sprintf("%q = %q, want %q", k, g, w)
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			return fmt.Sprintf("%q = %q should be absent", k, g)
		}
	}
	return "equal"
}

// ckptSource is a database with history in every place a checkpoint takes
// it from: a compacted level, level-0 tables, the memtable (written with
// and without the WAL), and holes at "~" (see ckptUpper).
type ckptSource struct {
	db    *DB
	model map[string]string
	// logged is the state the writes made with the WAL leave: the last
	// batches are written without it, and a reopen that finds them
	// unflushed (say, after a failed flush stopped the writes) loses them.
	logged map[string]string
	holes  []Hole
}

// ckptHoles are the holes of a checkpoint test's database.
var ckptHoles = []Hole{{Start: []byte("~a"), End: []byte("~z"), Source: "test"}}

func newCkptSource(t *testing.T, fs FS, dir string, o *Options, holes []Hole) *ckptSource {
	t.Helper()
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := writeHoles(fs, dir, holes); err != nil {
		t.Fatal(err)
	}
	oo := *o
	oo.FS = fs
	s := &ckptSource{db: mustOpen(t, dir, &oo), model: map[string]string{}, holes: holes}
	rng := rand.New(rand.NewPCG(3, 5))
	for i := range 400 {
		if i == 380 {
			s.logged = maps.Clone(s.model)
		}
		b := s.db.NewBatch()
		for n := range 1 + rng.IntN(3) {
			k := fmt.Sprintf("k%03d", rng.IntN(150))
			if rng.IntN(5) == 0 {
				b.Delete([]byte(k))
				delete(s.model, k)
				continue
			}
			v := fmt.Sprintf("%d.%d.%s", i, n, strings.Repeat("v", rng.IntN(100)))
			b.Put([]byte(k), []byte(v))
			s.model[k] = v
		}
		if err := s.db.Write(b, &WriteOptions{DisableWAL: i >= 380}); err != nil {
			t.Fatal(err)
		}
		switch i {
		case 150:
			if err := s.db.CompactRange(nil, nil); err != nil {
				t.Fatal(err)
			}
		case 250, 330:
			if err := s.db.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	return s
}

// quietOptions are small test options that log nothing.
func quietOptions() *Options {
	return &Options{Logger: slog.New(slog.DiscardHandler), BlockSize: 512, WriteBufferSize: 1 << 20,
		DisableAutoCompactions: true}
}

// failLinks is an FS whose Link always fails, as across devices.
func failLinks(inner FS) FS {
	fs := errorfs.Wrap(inner)
	fs.AddRule(errorfs.Always().On(errorfs.OpLink))
	return fs
}

// TestCheckpointLinksOrCopies: on a file system with hard links the
// checkpoint's tables are links to the database's (no space used); where
// Link fails they are copies. Either way the checkpoint equals the
// database, holes included; it stays so while the database goes on
// writing and compacting, after the database is destroyed, and the
// database is unaffected by writes to the checkpoint.
func TestCheckpointLinksOrCopies(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fs    FS
		links bool
	}{{"links", vfs.Default, true}, {"copies", failLinks(vfs.Default), false}} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			src := filepath.Join(root, "db")
			s := newCkptSource(t, tc.fs, src, quietOptions(), ckptHoles)
			ckpt := filepath.Join(root, "ckpt")
			if err := s.db.Checkpoint(ckpt); err != nil {
				t.Fatal(err)
			}
			tables, _ := filepath.Glob(filepath.Join(ckpt, "*.ldb"))
			if len(tables) < 3 {
				t.Fatalf("checkpoint has %d tables: %v", len(tables), tables)
			}
			for _, p := range tables {
				fi, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				orig, err := os.Stat(filepath.Join(src, filepath.Base(p)))
				if err != nil {
					t.Fatal(err)
				}
				if os.SameFile(fi, orig) != tc.links {
					t.Fatalf("%s: same file as the database's: %v, want %v", p, !tc.links, tc.links)
				}
			}
			names := mustList(t, ckpt)
			for _, n := range names {
				ft, _, ok := base.ParseFilename(n)
				if n != holesFileName && (!ok || ft == base.FileTypeLog || ft == base.FileTypeInfoLog || ft == base.FileTypeTemp) {
					t.Fatalf("checkpoint holds %s: %v", n, names)
				}
			}
			checkCheckpoint(t, vfs.Default, ckpt, s.model, s.holes)

			// The database goes on, and rewrites every table away.
			want := maps.Clone(s.model)
			for i := range 200 {
				if err := s.db.Put([]byte(fmt.Sprintf("k%03d", i)), []byte("after"), nil); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.db.CompactRange(nil, nil); err != nil {
				t.Fatal(err)
			}
			checkCheckpoint(t, vfs.Default, ckpt, want, s.holes)

			// Writes to the checkpoint stay there.
			c := mustOpen(t, ckpt, quietOptions())
			for i := range 150 {
				if err := c.Put([]byte(fmt.Sprintf("k%03d", i)), []byte("in the checkpoint"), nil); err != nil {
					t.Fatal(err)
				}
			}
			if err := c.CompactRange(nil, nil); err != nil {
				t.Fatal(err)
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			if v, err := s.db.Get([]byte("k000")); err != nil || string(v) != "after" {
				t.Fatalf("database after writes to the checkpoint: k000 = %q, %v", v, err)
			}
			if err := s.db.Close(); err != nil {
				t.Fatal(err)
			}
			if err := os.RemoveAll(src); err != nil {
				t.Fatal(err)
			}
			for i := range 150 {
				want[fmt.Sprintf("k%03d", i)] = "in the checkpoint"
			}
			checkCheckpoint(t, vfs.Default, ckpt, want, s.holes)
		})
	}
}

// TestCheckpointSurvivesPowerCut: once Checkpoint returns, the checkpoint
// is durable: a power cut right after leaves it whole (tables, their
// directory entries, the MANIFEST, CURRENT), with links and with copies.
func TestCheckpointSurvivesPowerCut(t *testing.T) {
	for _, links := range []bool{true, false} {
		t.Run(fmt.Sprintf("links=%v", links), func(t *testing.T) {
			mem := vfs.NewMem()
			var fs FS = mem
			if !links {
				fs = failLinks(mem)
			}
			if err := mem.MkdirAll("/backups", 0o755); err != nil {
				t.Fatal(err)
			}
			s := newCkptSource(t, fs, "/db", quietOptions(), ckptHoles)
			if err := s.db.Checkpoint("/backups/ckpt"); err != nil {
				t.Fatal(err)
			}
			crashed := mem.CrashClone()
			checkCheckpoint(t, crashed, "/backups/ckpt", s.model, s.holes)
			if err := s.db.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestCheckpointRefuses: what Checkpoint refuses, and that a refusal
// creates nothing; an empty directory is accepted, and kept on failure.
func TestCheckpointRefuses(t *testing.T) {
	mem := vfs.NewMem()
	s := newCkptSource(t, mem, "/db", quietOptions(), ckptHoles)
	db := s.db
	mem.MkdirAll("/full", 0o755)
	writeNote(mem, "/full/x", "x")
	writeNote(mem, "/file", "x")
	mem.MkdirAll("/empty", 0o755)
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		dir  string
		ctx  context.Context
		want error
	}{
		{"/full", context.Background(), iofs.ErrExist},
		{"/file", context.Background(), iofs.ErrExist},
		{"/db", context.Background(), iofs.ErrExist},
		{"/missing/ckpt", context.Background(), iofs.ErrNotExist},
		{"/new", canceled, context.Canceled},
		{"/empty", canceled, context.Canceled},
	} {
		before := outsideDB(mem)
		err := db.CheckpointContext(tc.ctx, tc.dir)
		if !errors.Is(err, tc.want) {
			t.Fatalf("checkpoint to %s: %v, want %v", tc.dir, err, tc.want)
		}
		if after := outsideDB(mem); after != before {
			t.Fatalf("a refused checkpoint to %s changed the file system:\n%s\nwas:\n%s", tc.dir, after, before)
		}
	}

	// Canceled after the flush: what it made is removed, an existing
	// directory stays (empty).
	for _, dir := range []string{"/new", "/empty"} {
		ctx, cancel := context.WithCancel(context.Background())
		db.testHookCheckpoint = cancel
		if err := db.CheckpointContext(ctx, dir); !errors.Is(err, context.Canceled) {
			t.Fatalf("checkpoint to %s canceled after its flush: %v", dir, err)
		}
		db.testHookCheckpoint = nil
		names, err := mem.List(dir)
		switch {
		case dir == "/new" && !errors.Is(err, iofs.ErrNotExist):
			t.Fatalf("a canceled checkpoint left %s: %v %v", dir, names, err)
		case dir == "/empty" && (err != nil || len(names) > 0):
			t.Fatalf("a canceled checkpoint left %v in %s (%v)", names, dir, err)
		}
	}

	// Into the empty directory, then a second time into the same one.
	if err := db.Checkpoint("/empty"); err != nil {
		t.Fatal(err)
	}
	checkCheckpoint(t, mem, "/empty", s.model, s.holes)
	if err := db.Checkpoint("/empty"); !errors.Is(err, iofs.ErrExist) {
		t.Fatalf("checkpoint over a checkpoint: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Checkpoint("/closed"); !errors.Is(err, ErrClosed) {
		t.Fatalf("checkpoint of a closed database: %v", err)
	}

	ro := mustOpen(t, "/db", &Options{FS: mem, ReadOnly: true})
	defer ro.Close()
	if err := ro.Checkpoint("/ro"); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("checkpoint of a read-only handle: %v", err)
	}
}

// outsideDB describes every file of mem but those under /db, which the
// database's background work may change.
func outsideDB(mem *vfs.MemFS) string {
	var b strings.Builder
	inDB := false
	for line := range strings.Lines(mem.String()) {
		switch {
		case line == "  db/\n":
			inDB = true
		case !strings.HasPrefix(line, "    "):
			inDB = false
		}
		if !inDB {
			b.WriteString(line)
		}
	}
	return b.String()
}

// TestCheckpointSameDirectory: checkpoints racing into one directory. The
// directory's LOCK lets one in at a time, and the rest find it locked or
// not empty; no clean-up removes another's files, and the one that
// succeeds is whole.
func TestCheckpointSameDirectory(t *testing.T) {
	mem := vfs.NewMem()
	s := newCkptSource(t, mem, "/db", quietOptions(), ckptHoles)
	defer s.db.Close()
	for round := range 10 {
		dir := fmt.Sprintf("/ckpt%d", round)
		errs := make([]error, 4)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = s.db.Checkpoint(dir)
			}()
		}
		wg.Wait()
		done := 0
		for _, err := range errs {
			switch {
			case err == nil:
				done++
			case !errors.Is(err, iofs.ErrExist) && !errors.Is(err, ErrLocked):
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if done != 1 {
			t.Fatalf("round %d: %d checkpoints succeeded (%v)", round, done, errs)
		}
		checkCheckpoint(t, mem, dir, s.model, s.holes)
	}
}

// linkThenFailFS makes the link and then reports a failure, as NFS does
// when a link's reply is lost and the retry finds the name taken.
type linkThenFailFS struct{ FS }

func (fs linkThenFailFS) Link(oldname, newname string) error {
	if err := fs.FS.Link(oldname, newname); err != nil {
		return err
	}
	return &os.LinkError{Op: "link", Old: oldname, New: newname, Err: syscall.EEXIST}
}

// TestCheckpointCopyAfterFailedLink: when Link fails but made the link,
// the copy that follows must not write through it into the database's
// table: the database reads as before, and the checkpoint holds copies.
func TestCheckpointCopyAfterFailedLink(t *testing.T) {
	root := t.TempDir()
	src := filepath.Join(root, "db")
	s := newCkptSource(t, linkThenFailFS{vfs.Default}, src, quietOptions(), ckptHoles)
	defer s.db.Close()
	sizes := map[string]int64{}
	tables, _ := filepath.Glob(filepath.Join(src, "*.ldb"))
	for _, p := range tables {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		sizes[filepath.Base(p)] = fi.Size()
	}
	ckpt := filepath.Join(root, "ckpt")
	if err := s.db.Checkpoint(ckpt); err != nil {
		t.Fatal(err)
	}
	for name, size := range sizes {
		fi, err := os.Stat(filepath.Join(src, name))
		if err != nil || fi.Size() != size {
			t.Fatalf("the database's %s: %v, %v (was %d bytes)", name, fi, err, size)
		}
		if c, err := os.Stat(filepath.Join(ckpt, name)); err == nil && os.SameFile(c, fi) {
			t.Fatalf("%s in the checkpoint is a link to the database's, after Link failed", name)
		}
	}
	if got := ckptDump(t, s.db); !maps.Equal(got, s.model) {
		t.Fatalf("the database reads %d keys: %s", len(got), mapDiff(got, s.model))
	}
	checkCheckpoint(t, vfs.Default, ckpt, s.model, s.holes)
}

// TestCheckpointLegacyTableNames: tables named as LevelDB before 1.13 named
// them (NNNNNN.sst) keep their names in the checkpoint, which opens.
func TestCheckpointLegacyTableNames(t *testing.T) {
	mem := vfs.NewMem()
	s := newCkptSource(t, mem, "/db", quietOptions(), nil)
	if err := s.db.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := s.db.Close(); err != nil {
		t.Fatal(err)
	}
	renamed := 0
	names, _ := mem.List("/db")
	for _, name := range names {
		if ft, num, ok := base.ParseFilename(name); ok && ft == base.FileTypeTable && renamed < 2 {
			if err := mem.Rename("/db/"+name, "/db/"+base.LegacyTableFilename(num)); err != nil {
				t.Fatal(err)
			}
			renamed++
		}
	}
	db := mustOpen(t, "/db", &Options{FS: mem})
	defer db.Close()
	if err := db.Checkpoint("/ckpt"); err != nil {
		t.Fatal(err)
	}
	var legacy int
	names, _ = mem.List("/ckpt")
	for _, name := range names {
		if strings.HasSuffix(name, ".sst") {
			legacy++
		}
	}
	if legacy != renamed || renamed == 0 {
		t.Fatalf("the checkpoint has %d .sst tables, want %d", legacy, renamed)
	}
	checkCheckpoint(t, mem, "/ckpt", s.model, nil)
}

// TestCheckpointIngestDuringFlush: an ingestion that lands between the
// checkpoint's flush and its taking of the version, after a write that
// went to the new memtable, would put the ingested tables in the
// checkpoint without that earlier write (Ingest flushes only the memtables
// its tables overlap). Checkpoint notices and flushes again: the
// checkpoint is a prefix of the writes, with both.
func TestCheckpointIngestDuringFlush(t *testing.T) {
	mem := vfs.NewMem()
	db := mustOpen(t, "/db", &Options{FS: mem, DisableAutoCompactions: true})
	defer db.Close()
	if err := db.Put([]byte("a-before"), []byte("1"), nil); err != nil {
		t.Fatal(err)
	}
	mem.MkdirAll("/ext", 0o755)
	w, err := NewTableWriter("/ext/t.ldb", &Options{FS: mem})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Add([]byte("z-ingested"), []byte("3")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	flushes := 0
	db.testHookCheckpoint = func() {
		if flushes++; flushes > 1 {
			return
		}
		if err := db.Put([]byte("b-during"), []byte("2"), nil); err != nil {
			t.Error(err)
		}
		if err := db.Ingest([]string{"/ext/t.ldb"}, nil); err != nil {
			t.Error(err)
		}
	}
	if err := db.Checkpoint("/ckpt"); err != nil {
		t.Fatal(err)
	}
	checkCheckpoint(t, mem, "/ckpt", map[string]string{"a-before": "1", "b-during": "2", "z-ingested": "3"}, nil)
	if flushes != 2 {
		t.Fatalf("checkpoint flushed %d times, want 2 (again after the ingestion)", flushes)
	}
}

// TestCheckpointWhileWriting: checkpoints taken while writers commit
// batches (some without the WAL), a goroutine compacts the whole range
// over and over on top of the automatic compactions, and another ingests
// tables. Each writer's batch i sets its counter key to i and overwrites
// or deletes some of its keys, so a checkpoint shows, per writer, the
// state after one of its batches; it must be exactly that state (no
// partial batch), at or after every batch acknowledged before Checkpoint
// was called, before any batch begun after it returned. The ingestions
// must show as a prefix of them, each whole, including every one finished
// before the call; and in commit order with the batches: an ingestion in
// the checkpoint brings every batch acknowledged before it began, a batch
// begun after an ingestion finished brings the ingestion.
func TestCheckpointWhileWriting(t *testing.T) {
	const writers, keysPerWriter, ingestKeys = 4, 20, 5
	dur, checkpoints := 1500*time.Millisecond, 6
	if testing.Short() {
		dur, checkpoints = 400*time.Millisecond, 3
	}
	mem := vfs.NewMem()
	db := mustOpen(t, "/db", &Options{FS: mem, Logger: slog.New(slog.DiscardHandler),
		WriteBufferSize: 16 << 10, TargetFileSize: 16 << 10, BlockSize: 512, L0CompactionTrigger: 2})
	type op struct {
		key string
		val *string // nil: delete
	}
	var (
		stop    atomic.Bool
		wg      sync.WaitGroup
		history [writers][][]op // history[w][i-1]: the operations of batch i
		started [writers]atomic.Int64
		acked   [writers]atomic.Int64
		errs    = make(chan error, writers+2)
	)
	snap := func(c *[writers]atomic.Int64) (s [writers]int64) {
		for w := range c {
			s[w] = c[w].Load()
		}
		return s
	}
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for i := int64(1); !stop.Load(); i++ {
				b := db.NewBatch()
				ops := []op{{key: fmt.Sprintf("w%d/counter", w), val: ptr(strconv.FormatInt(i, 10))}}
				for range 1 + rng.IntN(3) {
					k := fmt.Sprintf("w%d/k%02d", w, rng.IntN(keysPerWriter))
					if rng.IntN(4) == 0 {
						ops = append(ops, op{key: k})
					} else {
						ops = append(ops, op{key: k, val: ptr(fmt.Sprintf("%d.%s", i, strings.Repeat("x", rng.IntN(200))))})
					}
				}
				for _, o := range ops {
					if o.val == nil {
						b.Delete([]byte(o.key))
					} else {
						b.Put([]byte(o.key), []byte(*o.val))
					}
				}
				history[w] = append(history[w], ops)
				started[w].Store(i)
				if err := db.Write(b, &WriteOptions{DisableWAL: i%5 == 0}); err != nil {
					errs <- err
					return
				}
				acked[w].Store(i)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			if err := db.CompactRange(nil, nil); err != nil {
				errs <- err
				return
			}
		}
	}()
	type ingestion struct {
		ackedBefore   [writers]int64 // batches acknowledged when it began
		startedBefore [writers]int64 // batches begun when it finished
	}
	var (
		ingMu      sync.Mutex
		ingestions []ingestion // those finished
		ingStarted atomic.Int64
	)
	mem.MkdirAll("/ext", 0o755)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for j := 1; !stop.Load(); j++ {
			path := fmt.Sprintf("/ext/%d.ldb", j)
			tw, err := NewTableWriter(path, &Options{FS: mem})
			if err != nil {
				errs <- err
				return
			}
			for m := range ingestKeys {
				if err := tw.Add([]byte(fmt.Sprintf("x%05d/%d", j, m)), []byte(strconv.Itoa(j))); err != nil {
					errs <- err
					return
				}
			}
			if err := tw.Close(); err != nil {
				errs <- err
				return
			}
			ing := ingestion{ackedBefore: snap(&acked)}
			ingStarted.Store(int64(j))
			if err := db.Ingest([]string{path}, &IngestOptions{Move: j%2 == 0}); err != nil {
				errs <- err
				return
			}
			ing.startedBefore = snap(&started)
			ingMu.Lock()
			ingestions = append(ingestions, ing)
			ingMu.Unlock()
			time.Sleep(5 * time.Millisecond)
		}
	}()

	type taken struct {
		dir                    string
		ackedBefore, startedBy [writers]int64
		ingDone, ingStarted    int
	}
	var cps []taken
	for k := range checkpoints {
		time.Sleep(dur / time.Duration(checkpoints))
		c := taken{dir: fmt.Sprintf("/ckpt%d", k), ackedBefore: snap(&acked)}
		ingMu.Lock()
		c.ingDone = len(ingestions)
		ingMu.Unlock()
		if err := db.Checkpoint(c.dir); err != nil {
			t.Fatal(err)
		}
		c.startedBy = snap(&started)
		c.ingStarted = int(ingStarted.Load())
		cps = append(cps, c)
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	m := db.Metrics()
	if m.Compactions == 0 {
		t.Fatal("no compaction ran")
	}
	if len(ingestions) == 0 {
		t.Fatal("no ingestion ran")
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	for _, c := range cps {
		cdb := mustOpen(t, c.dir, &Options{FS: mem, ErrorIfNotExists: true})
		got := ckptDump(t, cdb)
		if err := cdb.Close(); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{}
		var counters [writers]int64
		for w := range writers {
			v, ok := got[fmt.Sprintf("w%d/counter", w)]
			n, _ := strconv.ParseInt(v, 10, 64)
			if !ok && c.ackedBefore[w] == 0 {
				n = 0
			}
			if (ok && n < 1) || n < c.ackedBefore[w] || n > c.startedBy[w] {
				t.Fatalf("%s: writer %d at batch %q, want one in [%d, %d]", c.dir, w, v, c.ackedBefore[w], c.startedBy[w])
			}
			counters[w] = n
			for _, ops := range history[w][:n] {
				for _, o := range ops {
					if o.val == nil {
						delete(want, o.key)
					} else {
						want[o.key] = *o.val
					}
				}
			}
		}
		shown := 0
		for shown < len(ingestions) {
			if _, ok := got[fmt.Sprintf("x%05d/0", shown+1)]; !ok {
				break
			}
			shown++
		}
		if shown < c.ingDone || shown > c.ingStarted {
			t.Fatalf("%s: shows ingestions 1-%d, want at least %d, at most %d", c.dir, shown, c.ingDone, c.ingStarted)
		}
		for j := 1; j <= shown; j++ {
			for m := range ingestKeys {
				want[fmt.Sprintf("x%05d/%d", j, m)] = strconv.Itoa(j)
			}
		}
		for w := range writers {
			for j := range ingestions {
				in := j < shown
				if in && counters[w] < ingestions[j].ackedBefore[w] {
					t.Fatalf("%s: shows ingestion %d, but writer %d only at batch %d of the %d acknowledged before it",
						c.dir, j+1, w, counters[w], ingestions[j].ackedBefore[w])
				}
				if !in && counters[w] > ingestions[j].startedBefore[w] {
					t.Fatalf("%s: writer %d at batch %d, begun after ingestion %d finished (by batch %d), which it lacks",
						c.dir, w, counters[w], j+1, ingestions[j].startedBefore[w])
				}
			}
		}
		if !maps.Equal(got, want) {
			t.Fatalf("%s (writers at %v, %d ingestions): %s", c.dir, counters, shown, mapDiff(got, want))
		}
		t.Logf("%s: writers at %v (acknowledged before: %v), %d ingestions", c.dir, counters, c.ackedBefore, shown)
	}
}

func ptr[T any](v T) *T { return &v }

// TestCheckpointAndClose: Close while checkpoints run neither deadlocks
// nor deletes the tables they are linking: each checkpoint either
// completes (and is whole) or fails with ErrClosed and leaves nothing.
func TestCheckpointAndClose(t *testing.T) {
	var done, closed int
	defer func() { t.Logf("%d checkpoints done, %d stopped by Close", done, closed) }()
	rounds := 20
	if testing.Short() {
		rounds = 8
	}
	for round := range rounds {
		mem := vfs.NewMem()
		s := newCkptSource(t, mem, "/db", quietOptions(), ckptHoles)
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = s.db.Checkpoint(fmt.Sprintf("/ckpt%d", i))
			}()
		}
		time.Sleep(time.Duration(round) * 100 * time.Microsecond)
		if err := s.db.Close(); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		for i, err := range errs {
			dir := fmt.Sprintf("/ckpt%d", i)
			switch {
			case err == nil:
				done++
				checkCheckpoint(t, mem, dir, s.model, s.holes)
			case errors.Is(err, ErrClosed):
				closed++
				if _, err := mem.Stat(dir); !errors.Is(err, iofs.ErrNotExist) {
					t.Fatalf("round %d: %s left behind by a checkpoint that failed: %v", round, dir, err)
				}
			default:
				t.Fatalf("round %d: checkpoint: %v", round, err)
			}
		}
		checkSource(t, mem, "/db", s, fmt.Sprintf("round %d", round))
	}
}

// TestCheckpointFaults: every I/O of a checkpoint fails once — in the
// flush, the links or copies of the tables, the HOLES file, the MANIFEST,
// CURRENT, the directory syncs, and (second pass) the listing and removal
// that clean up. Each failure is reported (or absorbed: a failed link
// becomes a copy); a failed checkpoint leaves nothing in its directory,
// even after a power cut; a checkpoint that succeeds is whole; and the
// database is never damaged: it reopens with every write, and unless the
// failure stopped its writes (a failed flush), it goes on working and
// takes the next checkpoint.
func TestCheckpointFaults(t *testing.T) {
	passes := []struct {
		name   string
		kinds  []errorfs.Kind
		ckpt   bool // count only operations on the checkpoint's directory
		links  bool
		exists bool // the checkpoint's directory exists (empty)
		// cleanupFails: every removal in the checkpoint's directory fails
		// too, so what the checkpoint wrote stays.
		cleanupFails bool
	}{
		{"links", faultKindsDeterministic, false, true, false, false},
		{"copies", faultKindsDeterministic, false, false, true, false},
		{"links-list-close", faultKindsBackground, true, true, true, false},
		{"copies-list-close", faultKindsBackground, true, false, false, false},
		{"links-cleanup-fails", faultKindsDeterministic, false, true, false, true},
	}
	for _, pass := range passes {
		t.Run(pass.name, func(t *testing.T) {
			inCkpt := func(op errorfs.Op) bool {
				return op.Path == "/ckpt" || strings.HasPrefix(op.Path, "/ckpt/")
			}
			counted := func(op errorfs.Op) bool { return !pass.ckpt || inCkpt(op) }
			// setup builds the source and returns the FS to fault.
			setup := func() (*vfs.MemFS, *errorfs.FS, *ckptSource) {
				mem := vfs.NewMem()
				fs := errorfs.Wrap(mem)
				var src FS = fs
				if !pass.links {
					src = failLinks(fs)
				}
				s := newCkptSource(t, src, "/db", quietOptions(), ckptHoles)
				if pass.exists {
					mem.MkdirAll("/ckpt", 0o755)
				}
				return mem, fs, s
			}
			_, probeFS, probe := setup()
			counter := probeFS.AddRule(errorfs.OnIndex(-1).On(pass.kinds...).Where(counted))
			if err := probe.db.Checkpoint("/ckpt"); err != nil {
				t.Fatal(err)
			}
			n := counter.Matched()
			probe.db.Close()
			if n < 5 {
				t.Fatalf("the checkpoint did %d operations of the pass's kinds", n)
			}
			step := int64(1)
			if testing.Short() && raceEnabled {
				step = 5
			}
			reported, runs := 0, 0
			for i := int64(0); i < n; i += step {
				runs++
				mem, fs, s := setup()
				rule := fs.AddRule(errorfs.OnIndex(i).On(pass.kinds...).Where(counted))
				if pass.cleanupFails {
					fs.AddRule(errorfs.Always().On(errorfs.OpRemove).Where(inCkpt))
				}
				err := s.db.Checkpoint("/ckpt")
				fs.SetEnabled(false)
				if rule.Injected() != 1 {
					t.Fatalf("op %d: the fault did not fire (%d operations matched)", i, rule.Matched())
				}
				what := fmt.Sprintf("op %d (%v)", i, err)
				if err != nil {
					reported++
					if !errors.Is(err, errorfs.ErrInjected) {
						t.Fatalf("%s: the error does not report the fault", what)
					}
					if pass.cleanupFails {
						checkNotValid(t, mem, "/ckpt", s, what)
						checkNotValid(t, mem.CrashClone(), "/ckpt", s, what+" after a power cut")
					} else {
						checkNoCheckpoint(t, mem, "/ckpt", pass.exists, what)
						checkNoCheckpoint(t, mem.CrashClone(), "/ckpt", pass.exists, what+" after a power cut")
					}
				} else {
					checkCheckpoint(t, mem, "/ckpt", s.model, s.holes)
				}
				// The database: unharmed, and working unless its writes
				// stopped.
				if werr := s.db.Put([]byte("k-after"), []byte("x"), nil); werr == nil {
					s.model["k-after"] = "x"
					if err := s.db.Checkpoint("/ckpt2"); err != nil {
						t.Fatalf("%s: the next checkpoint: %v", what, err)
					}
					checkCheckpoint(t, mem, "/ckpt2", s.model, s.holes)
				} else if !errors.Is(werr, errorfs.ErrInjected) {
					t.Fatalf("%s: write after: %v", what, werr)
				}
				s.db.Close()
				checkSource(t, mem, "/db", s, what)
			}
			t.Logf("%d faults, %d reported, %d absorbed", runs, reported, runs-reported)
		})
	}
}

// checkNoCheckpoint checks that a failed checkpoint left nothing in dir
// (and no dir, unless it existed before).
func checkNoCheckpoint(t *testing.T, fs FS, dir string, existed bool, what string) {
	t.Helper()
	names, err := fs.List(dir)
	switch {
	case existed && err != nil:
		t.Fatalf("%s: the checkpoint's directory, there before, is gone: %v", what, err)
	case !existed && !errors.Is(err, iofs.ErrNotExist):
		t.Fatalf("%s: the failed checkpoint left its directory, with %v (%v)", what, names, err)
	case len(names) > 0:
		t.Fatalf("%s: the failed checkpoint left %v", what, names)
	}
}

// checkNotValid checks that what a failed checkpoint left in dir does not
// open as a database, unless it is whole.
func checkNotValid(t *testing.T, fs FS, dir string, s *ckptSource, what string) {
	t.Helper()
	db, err := openExisting(fs, dir)
	if err != nil {
		return
	}
	defer db.Close()
	if got := ckptDump(t, db); !maps.Equal(got, s.model) {
		t.Fatalf("%s: what the failed checkpoint left opens, with %d keys (%s)", what, len(got), mapDiff(got, s.model))
	}
	if len(db.Holes()) != len(s.holes) {
		t.Fatalf("%s: what the failed checkpoint left opens without its holes", what)
	}
}

// TestCheckpointOpensInLevelDB: C++ LevelDB opens a checkpoint and reads
// exactly what Strata does.
func TestCheckpointOpensInLevelDB(t *testing.T) {
	requireLevelDB(t)
	root := fastTempDir(t)
	o := quietOptions()
	o.Compression = SnappyCompression
	s := newCkptSource(t, vfs.Default, filepath.Join(root, "db"), o, nil) // LevelDB knows no holes
	defer s.db.Close()
	ckpt := filepath.Join(root, "ckpt")
	if err := s.db.Checkpoint(ckpt); err != nil {
		t.Fatal(err)
	}
	stdout, _ := oracle(t, "dump", ckpt)
	got := map[string]string{}
	for _, p := range parseDump(t, stdout) {
		got[string(p.k)] = string(p.v)
	}
	if !maps.Equal(got, s.model) {
		t.Fatalf("LevelDB reads the checkpoint with %d keys, want %d: %s", len(got), len(s.model), mapDiff(got, s.model))
	}
}
