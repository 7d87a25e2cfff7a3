package errorfs

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/strata-db/strata/internal/vfs"
)

// workload does one of every operation, in a fixed order, stopping at the
// first error. It stands in for the engine in the "every I/O fails once"
// loop.
func workload(fs vfs.FS) error {
	if err := fs.MkdirAll("/db", 0o755); err != nil {
		return err
	}
	lock, err := fs.Lock("/db/LOCK")
	if err != nil {
		return err
	}
	f, err := fs.Create("/db/000001.log")
	if err != nil {
		return err
	}
	for _, s := range []string{"abc", "defg"} {
		if _, err := f.Write([]byte(s)); err != nil {
			return err
		}
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	d, err := fs.OpenDir("/db")
	if err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		return err
	}
	if err := d.Close(); err != nil {
		return err
	}
	if err := fs.Rename("/db/000001.log", "/db/000002.log"); err != nil {
		return err
	}
	if err := fs.Link("/db/000002.log", "/db/000003.ldb"); err != nil {
		return err
	}
	r, err := fs.Open("/db/000003.ldb")
	if err != nil {
		return err
	}
	buf := make([]byte, 3)
	if _, err := r.Read(buf); err != nil {
		return err
	}
	if _, err := r.ReadAt(buf, 4); err != nil {
		return err
	}
	if _, err := r.Stat(); err != nil {
		return err
	}
	if err := r.Close(); err != nil {
		return err
	}
	if _, err := fs.Stat("/db/000002.log"); err != nil {
		return err
	}
	if _, err := fs.List("/db"); err != nil {
		return err
	}
	if err := fs.Remove("/db/000002.log"); err != nil {
		return err
	}
	return lock.Close()
}

var workloadOps = []Kind{
	OpMkdirAll, OpLock, OpCreate, OpWrite, OpWrite, OpSync, OpClose,
	OpOpenDir, OpSync, OpClose, OpRename, OpLink,
	OpOpen, OpRead, OpRead, OpStat, OpClose, OpStat, OpList, OpRemove, OpClose,
}

func TestCountAndOps(t *testing.T) {
	fs := Wrap(vfs.NewMem())
	var seen []Kind
	fs.AddRule(Always().Where(func(op Op) bool { seen = append(seen, op.Kind); return false }))
	if err := workload(fs); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(seen) != fmt.Sprint(workloadOps) {
		t.Errorf("ops:\n%v\nwant:\n%v", seen, workloadOps)
	}
	if fs.Count() != int64(len(workloadOps)) {
		t.Errorf("Count = %d, want %d", fs.Count(), len(workloadOps))
	}
	if fs.PathJoin("a", "b") != "a/b" || fs.Inner() == nil {
		t.Error("PathJoin or Inner")
	}
}

// TestEveryOpFailsOnce is the reliability suite's loop in miniature: each
// operation of the workload fails once, the workload reports exactly that
// error, and the rule fires exactly once.
func TestEveryOpFailsOnce(t *testing.T) {
	probe := Wrap(vfs.NewMem())
	if err := workload(probe); err != nil {
		t.Fatal(err)
	}
	n := probe.Count()
	for i := range n {
		fs := Wrap(vfs.NewMem())
		r := fs.AddRule(OnIndex(i))
		err := workload(fs)
		var ie *Error
		if !errors.Is(err, ErrInjected) || !errors.As(err, &ie) {
			t.Fatalf("op %d: workload returned %v, want an injected error", i, err)
		}
		if ie.Op.Kind != workloadOps[i] {
			t.Errorf("op %d: failed %v, want %v", i, ie.Op.Kind, workloadOps[i])
		}
		if r.Injected() != 1 || r.Matched() != i+1 || fs.Count() != i+1 {
			t.Errorf("op %d: injected %d matched %d count %d", i, r.Injected(), r.Matched(), fs.Count())
		}
	}
	// Past the end nothing fails.
	fs := Wrap(vfs.NewMem())
	fs.AddRule(OnIndex(n))
	if err := workload(fs); err != nil {
		t.Fatal(err)
	}
}

func TestFilters(t *testing.T) {
	for _, tc := range []struct {
		name string
		rule *Rule
		want []string // the ops that fail, as Op.String
	}{
		{"kind", Always().On(OpSync),
			[]string{"sync /db/000001.log", "sync /db"}},
		{"two kinds", Always().On(OpRename, OpLink),
			[]string{"rename /db/000001.log -> /db/000002.log", "link /db/000002.log -> /db/000003.ldb"}},
		{"base-name glob", Always().Path("*.ldb"),
			[]string{"link /db/000002.log -> /db/000003.ldb", "open /db/000003.ldb"}},
		{"glob and kinds", Always().Path("*.ldb").On(OpRead, OpStat),
			[]string{"read /db/000003.ldb", "read /db/000003.ldb", "stat /db/000003.ldb"}},
		{"full-path glob and kind", Always().Path("/db/*.log").On(OpWrite, OpRemove),
			[]string{"write /db/000001.log", "write /db/000001.log", "remove /db/000002.log"}},
		{"predicate", Always().Where(func(op Op) bool { return op.Kind == OpWrite && op.Len > 3 }),
			[]string{"write /db/000001.log"}},
		{"lock", Always().Path("LOCK"),
			[]string{"lock /db/LOCK"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Record failures and keep going: a rule that injects, then a
			// pass-through of the real workload with errors collected.
			fs := Wrap(vfs.NewMem())
			fs.AddRule(tc.rule)
			var got []string
			collect := &collectFS{FS: fs, failed: &got}
			workloadIgnoringErrors(collect)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("failed ops:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// collectFS records injected errors returned by FS methods and File methods.
type collectFS struct {
	*FS
	failed *[]string
}

func (c *collectFS) note(err error) error {
	var ie *Error
	if errors.As(err, &ie) {
		*c.failed = append(*c.failed, ie.Op.String())
	}
	return err
}

// workloadIgnoringErrors does what workload does but carries on past
// errors, reporting each injected one through c.
func workloadIgnoringErrors(c *collectFS) {
	fs := c.FS
	c.note(fs.MkdirAll("/db", 0o755))
	lock, err := fs.Lock("/db/LOCK")
	c.note(err)
	f, _ := fs.inner.Create("/db/000001.log")
	f = &file{fs: fs, inner: f, path: "/db/000001.log"}
	for _, s := range []string{"abc", "defg"} {
		_, err := f.Write([]byte(s))
		c.note(err)
	}
	c.note(f.Sync())
	c.note(f.Close())
	if d, err := fs.OpenDir("/db"); c.note(err) == nil {
		c.note(d.Sync())
		c.note(d.Close())
	}
	if c.note(fs.Rename("/db/000001.log", "/db/000002.log")) != nil {
		fs.inner.Rename("/db/000001.log", "/db/000002.log")
	}
	if c.note(fs.Link("/db/000002.log", "/db/000003.ldb")) != nil {
		fs.inner.Link("/db/000002.log", "/db/000003.ldb")
	}
	if r, err := fs.Open("/db/000003.ldb"); c.note(err) == nil {
		buf := make([]byte, 3)
		_, err := r.Read(buf)
		c.note(err)
		_, err = r.ReadAt(buf, 4)
		c.note(err)
		_, err = r.Stat()
		c.note(err)
		c.note(r.Close())
	}
	_, err = fs.Stat("/db/000002.log")
	c.note(err)
	_, err = fs.List("/db")
	c.note(err)
	c.note(fs.Remove("/db/000002.log"))
	if lock != nil {
		c.note(lock.Close())
	}
}

func TestDiskFull(t *testing.T) {
	mem := vfs.NewMem()
	fs := Wrap(mem)
	r := fs.AddRule(DiskFullAfter(10).Path("*.log"))
	f, _ := fs.Create("/000001.log")
	other, _ := fs.Create("/000002.ldb")
	if n, err := f.Write([]byte("123456")); n != 6 || err != nil {
		t.Fatalf("first write: %d, %v", n, err)
	}
	if n, err := other.Write(make([]byte, 100)); n != 100 || err != nil {
		t.Fatalf("write outside the filter: %d, %v", n, err)
	}
	n, err := f.Write([]byte("abcdef"))
	if n != 4 || !errors.Is(err, syscall.ENOSPC) || !errors.Is(err, ErrInjected) {
		t.Fatalf("crossing write: %d, %v", n, err)
	}
	want := "errorfs: write /000001.log: no space left on device (disk full after 10 bytes, injected)"
	if err.Error() != want {
		t.Errorf("message:\n%s\nwant:\n%s", err, want)
	}
	if n, err := f.Write([]byte("x")); n != 0 || !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("write when full: %d, %v", n, err)
	}
	if n, err := f.Write(nil); n != 0 || err != nil {
		t.Errorf("empty write when full: %d, %v", n, err)
	}
	if err := f.Sync(); err != nil {
		t.Errorf("sync is not a write: %v", err)
	}
	if got := readAll(t, mem, "/000001.log"); got != "123456abcd" {
		t.Errorf("file = %q, want the 10 bytes that fit", got)
	}
	r.Reset()
	if n, err := f.Write([]byte("more")); n != 4 || err != nil {
		t.Errorf("after Reset: %d, %v", n, err)
	}
	if r.Injected() != 0 || r.Matched() != 1 {
		t.Errorf("after Reset: injected %d matched %d", r.Injected(), r.Matched())
	}
}

func readAll(t *testing.T, fs vfs.FS, name string) string {
	t.Helper()
	f, err := fs.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPartialWrites(t *testing.T) {
	lengths := map[int]bool{}
	for seed := range uint64(50) {
		mem := vfs.NewMem()
		fs := Wrap(mem)
		fs.AddRule(OnIndex(1).On(OpWrite).PartialWrites(seed))
		f, _ := fs.Create("/f")
		f.Write([]byte("head"))
		n, err := f.Write([]byte(strings.Repeat("x", 100)))
		if !errors.Is(err, ErrInjected) || n < 0 || n >= 100 {
			t.Fatalf("seed %d: %d, %v", seed, n, err)
		}
		if got := readAll(t, mem, "/f"); got != "head"+strings.Repeat("x", n) {
			t.Fatalf("seed %d: file %q after a partial write of %d", seed, got, n)
		}
		lengths[n] = true
	}
	if len(lengths) < 10 {
		t.Errorf("partial lengths not spread: %v", lengths)
	}
	// Without PartialWrites a failed write writes nothing.
	mem := vfs.NewMem()
	fs := Wrap(mem)
	fs.AddRule(Always().On(OpWrite))
	f, _ := fs.Create("/f")
	if n, err := f.Write([]byte("abc")); n != 0 || err == nil {
		t.Errorf("write = %d, %v", n, err)
	}
	if got := readAll(t, mem, "/f"); got != "" {
		t.Errorf("file = %q", got)
	}
}

func TestProbability(t *testing.T) {
	pattern := func(p float64, seed uint64) string {
		fs := Wrap(vfs.NewMem())
		fs.AddRule(Probability(p, seed).On(OpStat))
		var b strings.Builder
		for range 200 {
			if _, err := fs.Stat("/"); err != nil {
				b.WriteByte('x')
			} else {
				b.WriteByte('.')
			}
		}
		return b.String()
	}
	if a, b := pattern(0.3, 42), pattern(0.3, 42); a != b {
		t.Errorf("same seed, different failures:\n%s\n%s", a, b)
	}
	if a, b := pattern(0.3, 42), pattern(0.3, 43); a == b {
		t.Error("different seeds, same failures")
	}
	if n := strings.Count(pattern(0.3, 1), "x"); n < 30 || n > 90 {
		t.Errorf("p=0.3: %d of 200 failed", n)
	}
	if strings.Contains(pattern(0, 1), "x") || strings.Contains(pattern(1, 1), ".") {
		t.Error("p=0 failed or p=1 passed")
	}
}

func TestEnableDisableAndClear(t *testing.T) {
	fs := Wrap(vfs.NewMem())
	r := fs.AddRule(Always().On(OpStat))
	if _, err := fs.Stat("/"); err == nil {
		t.Fatal("rule did not fire")
	}
	fs.SetEnabled(false)
	if _, err := fs.Stat("/"); err != nil {
		t.Fatalf("disabled: %v", err)
	}
	if r.Matched() != 1 || fs.Count() != 2 {
		t.Errorf("disabled: rule matched %d (want 1), count %d (want 2)", r.Matched(), fs.Count())
	}
	fs.SetEnabled(true)
	if _, err := fs.Stat("/"); err == nil {
		t.Fatal("re-enabled rule did not fire")
	}
	fs.ClearRules()
	if _, err := fs.Stat("/"); err != nil {
		t.Fatalf("after ClearRules: %v", err)
	}
}

func TestFirstRuleWins(t *testing.T) {
	fs := Wrap(vfs.NewMem())
	a := fs.AddRule(Always().On(OpStat))
	b := fs.AddRule(Always())
	fs.Stat("/")
	fs.List("/")
	if a.Injected() != 1 || b.Injected() != 1 || b.Matched() != 1 {
		t.Errorf("a injected %d, b injected %d matched %d", a.Injected(), b.Injected(), b.Matched())
	}
}

func TestFailedCloseStillCloses(t *testing.T) {
	mem := vfs.NewMem()
	fs := Wrap(mem)
	fs.AddRule(Always().On(OpClose))
	l, err := fs.Lock("/LOCK")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); !errors.Is(err, ErrInjected) {
		t.Fatalf("Close = %v", err)
	}
	l2, err := mem.Lock("/LOCK")
	if err != nil {
		t.Fatalf("lock not released by a failed Close: %v", err)
	}
	l2.Close()
	// A failed Sync syncs nothing: the data is lost in a crash.
	fs.ClearRules()
	fs.AddRule(Always().On(OpSync))
	f, _ := fs.Create("/f")
	f.Write([]byte("data"))
	if err := f.Sync(); !errors.Is(err, ErrInjected) {
		t.Fatalf("Sync = %v", err)
	}
	d, _ := mem.OpenDir("/")
	d.Sync()
	if got := readAll(t, mem.CrashClone(), "/f"); got != "" {
		t.Errorf("after a failed Sync and a crash: %q", got)
	}
}

func TestMmapRefused(t *testing.T) {
	fs := Wrap(vfs.Default)
	f, err := fs.Create(t.TempDir() + "/f")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, _, err := vfs.MmapFile(f); !errors.Is(err, vfs.ErrMmapUnsupported) {
		t.Errorf("MmapFile of a wrapped file: %v", err)
	}
}

func TestErrorStrings(t *testing.T) {
	err := &Error{Op: Op{Kind: OpRename, Path: "/a", NewPath: "/b"}}
	if got := err.Error(); got != "errorfs: injected error: rename /a -> /b" {
		t.Errorf("Error() = %q", got)
	}
	if OpMkdirAll.String() != "mkdirall" || Kind(99).String() != "Kind(99)" {
		t.Error("Kind.String")
	}
	defer func() {
		if recover() == nil {
			t.Error("Path with a malformed pattern did not panic")
		}
	}()
	Always().Path("[")
}

// TestConcurrent exercises rules, counts and files from many goroutines;
// run it with -race.
func TestConcurrent(t *testing.T) {
	mem := vfs.NewMem()
	fs := Wrap(mem)
	w, _ := fs.Create("/f")
	w.Write(make([]byte, 4096))
	r := fs.AddRule(Probability(0.1, 7).On(OpRead))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			buf := make([]byte, 64)
			for i := range 500 {
				w.ReadAt(buf, int64(i%64)*64)
				if g == 0 && i%100 == 0 {
					fs.AddRule(OnIndex(1000).On(OpWrite))
					fs.SetEnabled(i%200 == 0)
				}
			}
		})
	}
	wg.Wait()
	if fs.Count() != 2+8*500 {
		t.Errorf("Count = %d", fs.Count())
	}
	if r.Matched() == 0 {
		t.Error("rule saw no reads")
	}
}

func BenchmarkWritePassThrough(b *testing.B) {
	for _, rules := range []int{0, 1} {
		b.Run(fmt.Sprintf("rules=%d", rules), func(b *testing.B) {
			fs := Wrap(vfs.NewMem())
			if rules > 0 {
				fs.AddRule(Always().On(OpSync).Path("*.ldb"))
			}
			f, _ := fs.Create("/000001.log")
			buf := make([]byte, 128)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if i%(1<<16) == 0 {
					f.Close()
					f, _ = fs.Create("/000001.log")
				}
				f.Write(buf)
			}
		})
	}
}

func BenchmarkReadAt(b *testing.B) {
	fs := Wrap(vfs.NewMem())
	fs.AddRule(OnIndex(-1).Path("/db/*.ldb"))
	f, _ := fs.Create("/000001.log")
	f.Write(make([]byte, 1<<16))
	buf := make([]byte, 4096)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		f.ReadAt(buf, int64(i%16)*4096)
	}
}
