package vfs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// runScript applies a crash-model script to fs. One step per line:
//
//	mkdir P | create P | write P DATA | sync P | close P | syncdir P |
//	rename A B | remove P | link A B
//
// write, sync and close use the handle the last "create P" opened.
func runScript(t *testing.T, fs *MemFS, script string) {
	t.Helper()
	handles := map[string]File{}
	for _, line := range strings.Split(strings.TrimSpace(script), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		var err error
		switch f[0] {
		case "mkdir":
			err = fs.MkdirAll(f[1], 0o755)
		case "create":
			handles[f[1]], err = fs.Create(f[1])
		case "write":
			_, err = handles[f[1]].Write([]byte(f[2]))
		case "sync":
			err = handles[f[1]].Sync()
		case "close":
			err = handles[f[1]].Close()
		case "syncdir":
			var d File
			if d, err = fs.OpenDir(f[1]); err == nil {
				err = d.Sync()
				d.Close()
			}
		case "rename":
			err = fs.Rename(f[1], f[2])
		case "remove":
			err = fs.Remove(f[1])
		case "link":
			err = fs.Link(f[1], f[2])
		default:
			t.Fatalf("bad step %q", line)
		}
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
	}
}

// tree lists every path under dir with a file's contents ("/a/f=hello") or
// a trailing slash for a directory, one per line, sorted.
func tree(t testing.TB, fs FS, dir string) string {
	t.Helper()
	var lines []string
	var walk func(dir string)
	walk = func(dir string) {
		names, err := fs.List(dir)
		if err != nil {
			t.Fatalf("list %s: %v", dir, err)
		}
		for _, name := range names {
			p := fs.PathJoin(dir, name)
			fi, err := fs.Stat(p)
			if err != nil {
				t.Fatalf("stat %s: %v", p, err)
			}
			if fi.IsDir() {
				lines = append(lines, p+"/")
				walk(p)
				continue
			}
			lines = append(lines, p+"="+readAll(t, fs, p))
		}
	}
	walk(dir)
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

func readAll(t testing.TB, fs FS, name string) string {
	t.Helper()
	f, err := fs.Open(name)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return string(b)
}

func TestMemCrashModel(t *testing.T) {
	for _, tc := range []struct {
		name, script, want string
	}{
		{"synced file, unsynced dir: gone", `
			mkdir /d
			create /d/f
			write /d/f hello
			sync /d/f`,
			"/d/"},
		{"synced file, synced dir: present", `
			mkdir /d
			create /d/f
			write /d/f hello
			sync /d/f
			syncdir /d`,
			"/d/\n/d/f=hello"},
		{"dir synced, file never synced: empty", `
			mkdir /d
			create /d/f
			write /d/f hello
			syncdir /d`,
			"/d/\n/d/f="},
		{"only the synced prefix survives", `
			mkdir /d
			create /d/f
			write /d/f abc
			sync /d/f
			syncdir /d
			write /d/f def`,
			"/d/\n/d/f=abc"},
		{"dir sync is a snapshot: later creates are not in it", `
			mkdir /d
			create /d/f
			sync /d/f
			syncdir /d
			create /d/g
			sync /d/g`,
			"/d/\n/d/f="},
		{"file sync after dir sync counts", `
			mkdir /d
			create /d/f
			syncdir /d
			write /d/f late
			sync /d/f`,
			"/d/\n/d/f=late"},
		{"relative and absolute paths are one namespace", `
			mkdir d
			create d/f
			write d/f x
			sync d/f
			syncdir /d/`,
			"/d/\n/d/f=x"},
		{"rename without dir sync is undone", `
			mkdir /d
			create /d/tmp
			write /d/tmp new
			sync /d/tmp
			syncdir /d
			rename /d/tmp /d/CURRENT`,
			"/d/\n/d/tmp=new"},
		{"rename with dir sync is durable", `
			mkdir /d
			create /d/tmp
			write /d/tmp new
			sync /d/tmp
			syncdir /d
			rename /d/tmp /d/CURRENT
			syncdir /d`,
			"/d/\n/d/CURRENT=new"},
		{"rename over a file without dir sync brings the old file back", `
			mkdir /d
			create /d/CURRENT
			write /d/CURRENT old
			sync /d/CURRENT
			create /d/tmp
			write /d/tmp new
			sync /d/tmp
			syncdir /d
			rename /d/tmp /d/CURRENT`,
			"/d/\n/d/CURRENT=old\n/d/tmp=new"},
		{"rename over a file with dir sync", `
			mkdir /d
			create /d/CURRENT
			write /d/CURRENT old
			sync /d/CURRENT
			create /d/tmp
			write /d/tmp new
			sync /d/tmp
			syncdir /d
			rename /d/tmp /d/CURRENT
			syncdir /d`,
			"/d/\n/d/CURRENT=new"},
		{"rename across dirs, only destination synced: both names", `
			mkdir /a
			mkdir /b
			create /a/f
			write /a/f x
			sync /a/f
			syncdir /a
			rename /a/f /b/f
			syncdir /b`,
			"/a/\n/a/f=x\n/b/\n/b/f=x"},
		{"rename across dirs, only source synced: neither", `
			mkdir /a
			mkdir /b
			create /a/f
			write /a/f x
			sync /a/f
			syncdir /a
			rename /a/f /b/f
			syncdir /a`,
			"/a/\n/b/"},
		{"remove without dir sync comes back with its synced bytes", `
			mkdir /d
			create /d/f
			write /d/f abc
			sync /d/f
			write /d/f def
			syncdir /d
			remove /d/f`,
			"/d/\n/d/f=abc"},
		{"remove with dir sync is durable", `
			mkdir /d
			create /d/f
			write /d/f abc
			sync /d/f
			syncdir /d
			remove /d/f
			syncdir /d`,
			"/d/"},
		{"remove then re-create without dir sync: the old inode", `
			mkdir /d
			create /d/f
			write /d/f old
			sync /d/f
			syncdir /d
			remove /d/f
			create /d/f
			write /d/f new
			sync /d/f`,
			"/d/\n/d/f=old"},
		{"link without dir sync is gone", `
			mkdir /d
			create /d/f
			write /d/f x
			sync /d/f
			syncdir /d
			link /d/f /d/g`,
			"/d/\n/d/f=x"},
		{"link with dir sync", `
			mkdir /d
			create /d/f
			write /d/f x
			sync /d/f
			syncdir /d
			link /d/f /d/g
			syncdir /d`,
			"/d/\n/d/f=x\n/d/g=x"},
		{"link then remove the original, dir synced", `
			mkdir /d
			create /d/f
			write /d/f x
			sync /d/f
			link /d/f /d/g
			remove /d/f
			syncdir /d`,
			"/d/\n/d/g=x"},
		{"truncating create not synced is undone", `
			mkdir /d
			create /d/f
			write /d/f old
			sync /d/f
			syncdir /d
			create /d/f
			write /d/f new`,
			"/d/\n/d/f=old"},
		{"truncating create then sync", `
			mkdir /d
			create /d/f
			write /d/f old
			sync /d/f
			syncdir /d
			create /d/f
			write /d/f new
			sync /d/f`,
			"/d/\n/d/f=new"},
		{"mkdir is durable at once, nested", `
			mkdir /a/b/c
			create /a/b/c/f
			sync /a/b/c/f
			syncdir /a/b/c`,
			"/a/\n/a/b/\n/a/b/c/\n/a/b/c/f="},
		{"removed directory comes back without parent sync", `
			mkdir /a/b
			remove /a/b`,
			"/a/\n/a/b/"},
		{"renamed directory without parent sync is undone", `
			mkdir /a/b
			create /a/b/f
			write /a/b/f x
			sync /a/b/f
			syncdir /a/b
			rename /a/b /a/c`,
			"/a/\n/a/b/\n/a/b/f=x"},
		{"renamed directory with parent sync", `
			mkdir /a/b
			create /a/b/f
			write /a/b/f x
			sync /a/b/f
			syncdir /a/b
			rename /a/b /a/c
			syncdir /a`,
			"/a/\n/a/c/\n/a/c/f=x"},
		{"dir renamed into a sibling both synced: kept once", `
			mkdir /a/x
			mkdir /b
			rename /a/x /b/x
			syncdir /b`,
			"/a/\n/a/x/\n/b/"},
		{"root sync", `
			create /f
			write /f x
			sync /f
			syncdir /`,
			"/f=x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := NewMem()
			runScript(t, fs, tc.script)
			crashed := fs.CrashClone()
			if got := tree(t, crashed, "/"); got != tc.want {
				t.Errorf("after crash:\n%s\nwant:\n%s\nstate before crash:\n%s", got, tc.want, fs)
			}
			// Everything in a clone is durable: crashing again changes nothing.
			if got, again := tree(t, crashed, "/"), tree(t, crashed.CrashClone(), "/"); got != again {
				t.Errorf("second crash changed the tree:\n%s\nwant:\n%s", again, got)
			}
		})
	}
}

func TestMemCrashCloneKeepsLinks(t *testing.T) {
	fs := NewMem()
	runScript(t, fs, `
		mkdir /d
		create /d/f
		write /d/f x
		sync /d/f
		link /d/f /d/g
		syncdir /d`)
	c := fs.CrashClone()
	// Truncating one name of the clone empties the other: one inode.
	f, err := c.Create("/d/f")
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("yz"))
	f.Close()
	if got := readAll(t, c, "/d/g"); got != "yz" {
		t.Errorf("link lost in clone: /d/g = %q", got)
	}
	// The original is untouched.
	if got := readAll(t, fs, "/d/g"); got != "x" {
		t.Errorf("clone shares data with original: /d/g = %q", got)
	}
}

func TestMemCrashCloneIndependent(t *testing.T) {
	fs := NewMem()
	w, _ := fs.Create("/f")
	w.Write([]byte("abc"))
	w.Sync()
	runScript(t, fs, "syncdir /")
	c := fs.CrashClone()
	// The clone shares the original's bytes; appends to the original must
	// not show through.
	w.Write([]byte("def"))
	w.Sync()
	if got := readAll(t, c, "/f"); got != "abc" {
		t.Errorf("clone /f = %q after the original grew", got)
	}
	runScript(t, c, "create /n\nwrite /n 1")
	if _, err := fs.Stat("/n"); !errors.Is(err, iofs.ErrNotExist) {
		t.Errorf("original sees a file created in the clone: %v", err)
	}
}

func TestMemCrashCloneWithTornWrites(t *testing.T) {
	fs := NewMem()
	runScript(t, fs, `
		create /f
		write /f abc
		sync /f
		write /f defgh
		create /t
		write /t old
		sync /t
		syncdir /`)
	// Truncate /t without syncing: it keeps "old" or a prefix of "NEWER".
	f, _ := fs.Create("/t")
	f.Write([]byte("NEWER"))
	seenF, seenT := map[string]bool{}, map[string]bool{}
	for seed := range uint64(200) {
		c := fs.CrashCloneWith(rand.New(rand.NewPCG(seed, 1)))
		gotF, gotT := readAll(t, c, "/f"), readAll(t, c, "/t")
		if !strings.HasPrefix("abcdefgh", gotF) || len(gotF) < 3 {
			t.Fatalf("seed %d: /f = %q, want abc + prefix of defgh", seed, gotF)
		}
		if gotT != "old" && !strings.HasPrefix("NEWER", gotT) {
			t.Fatalf("seed %d: /t = %q, want old or a prefix of NEWER", seed, gotT)
		}
		seenF[gotF], seenT[gotT] = true, true
		// Same seed, same clone.
		c2 := fs.CrashCloneWith(rand.New(rand.NewPCG(seed, 1)))
		if tree(t, c, "/") != tree(t, c2, "/") {
			t.Fatalf("seed %d: clone not reproducible", seed)
		}
	}
	if len(seenF) != 6 {
		t.Errorf("/f outcomes %v, want all 6 prefixes", seenF)
	}
	if !seenT["old"] || !seenT[""] || !seenT["NEWER"] {
		t.Errorf("/t outcomes %v, want old, empty and NEWER among them", seenT)
	}
}

func TestMemString(t *testing.T) {
	fs := NewMem()
	runScript(t, fs, `
		mkdir /db
		create /db/000005.log
		write /db/000005.log 0123456789
		sync /db/000005.log
		write /db/000005.log abc
		create /db/MANIFEST-000001
		create /db/LOCK
		syncdir /db
		remove /db/MANIFEST-000001
		create /db/CURRENT
		write /db/CURRENT MANIFEST
		sync /db/CURRENT
		create /db/LOCK`)
	want := `/
  db/
    000005.log  size=13 synced=10
    CURRENT  size=8 synced=8 (entry not synced)
    LOCK  size=0 synced=0 (truncated)
    MANIFEST-000001 (removed, entry not synced)
`
	if got := fs.String(); got != want {
		t.Errorf("String:\n%s\nwant:\n%s", got, want)
	}
}

func TestMemErrors(t *testing.T) {
	fs := NewMem()
	runScript(t, fs, "mkdir /d/sub\ncreate /d/f\nwrite /d/f x")
	notExist := func(err error) bool { return errors.Is(err, iofs.ErrNotExist) && os.IsNotExist(err) }
	is := func(want error) func(error) bool { return func(err error) bool { return errors.Is(err, want) } }
	call := func(f func() error) func() error { return f }
	for _, tc := range []struct {
		name string
		do   func() error
		ok   func(error) bool
	}{
		{"create in missing dir", call(func() error { _, err := fs.Create("/nope/f"); return err }), notExist},
		{"create under a file", call(func() error { _, err := fs.Create("/d/f/g"); return err }), is(syscall.ENOTDIR)},
		{"create over a dir", call(func() error { _, err := fs.Create("/d/sub"); return err }), is(syscall.EISDIR)},
		{"create empty name", call(func() error { _, err := fs.Create(""); return err }), notExist},
		{"open missing", call(func() error { _, err := fs.Open("/d/g"); return err }), notExist},
		{"opendir missing", call(func() error { _, err := fs.OpenDir("/x"); return err }), notExist},
		{"opendir of a file", call(func() error { _, err := fs.OpenDir("/d/f"); return err }), is(syscall.ENOTDIR)},
		{"stat missing", call(func() error { _, err := fs.Stat("/d/g"); return err }), notExist},
		{"list missing", call(func() error { _, err := fs.List("/x"); return err }), notExist},
		{"list a file", call(func() error { _, err := fs.List("/d/f"); return err }), is(syscall.ENOTDIR)},
		{"remove missing", call(func() error { return fs.Remove("/d/g") }), notExist},
		{"remove non-empty dir", call(func() error { return fs.Remove("/d") }), is(syscall.ENOTEMPTY)},
		{"remove root", call(func() error { return fs.Remove("/") }), is(syscall.EBUSY)},
		{"rename missing", call(func() error { return fs.Rename("/d/g", "/d/h") }), notExist},
		{"rename into missing dir", call(func() error { return fs.Rename("/d/f", "/x/h") }), notExist},
		{"rename file over dir", call(func() error { return fs.Rename("/d/f", "/d/sub") }), is(syscall.EEXIST)},
		{"rename dir over file", call(func() error { return fs.Rename("/d/sub", "/d/f") }), is(syscall.ENOTDIR)},
		{"rename dir into itself", call(func() error { return fs.Rename("/d", "/d/sub/d") }), is(syscall.EINVAL)},
		{"rename dir over a dir", call(func() error { return fs.Rename("/d/sub", "/d") }), is(syscall.EEXIST)},
		{"link missing", call(func() error { return fs.Link("/d/g", "/d/h") }), notExist},
		{"link to existing", call(func() error { return fs.Link("/d/f", "/d/sub") }), is(iofs.ErrExist)},
		{"link a dir", call(func() error { return fs.Link("/d/sub", "/d/h") }), is(syscall.EPERM)},
		{"mkdir through a file", call(func() error { return fs.MkdirAll("/d/f/g", 0o755) }), is(syscall.ENOTDIR)},
		{"lock in missing dir", call(func() error { _, err := fs.Lock("/x/LOCK"); return err }), notExist},
	} {
		if err := tc.do(); err == nil || !tc.ok(err) {
			t.Errorf("%s: got %v", tc.name, err)
		}
	}
	// The failed Lock released its guard.
	if err := fs.MkdirAll("/x", 0o755); err != nil {
		t.Fatal(err)
	}
	l, err := fs.Lock("x/LOCK")
	if err != nil {
		t.Fatalf("lock after failed lock: %v", err)
	}
	l.Close()
}

func TestMemFileHandles(t *testing.T) {
	fs := NewMem()
	w, err := fs.Create("f")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := w.Write([]byte("hello world")); n != 11 || err != nil {
		t.Fatalf("write: %d, %v", n, err)
	}
	buf := make([]byte, 5)
	if n, err := w.ReadAt(buf, 6); n != 5 || err != nil || string(buf) != "world" {
		t.Errorf("ReadAt(6) = %d, %v, %q", n, err, buf)
	}
	if n, err := w.ReadAt(buf, 8); n != 3 || err != io.EOF {
		t.Errorf("short ReadAt = %d, %v; want 3, EOF", n, err)
	}
	if n, err := w.ReadAt(buf, 11); n != 0 || err != io.EOF {
		t.Errorf("ReadAt at end = %d, %v; want 0, EOF", n, err)
	}
	if _, err := w.ReadAt(buf, -1); err == nil {
		t.Error("ReadAt(-1) succeeded")
	}
	fi, err := w.Stat()
	if err != nil || fi.Size() != 11 || fi.Name() != "f" || fi.IsDir() || fi.Mode().IsDir() {
		t.Errorf("Stat = %+v, %v", fi, err)
	}
	r, err := fs.Open("/f")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Write([]byte("x")); !errors.Is(err, syscall.EBADF) {
		t.Errorf("write on read-only handle: %v", err)
	}
	if got, _ := io.ReadAll(r); string(got) != "hello world" {
		t.Errorf("ReadAll = %q", got)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("second close: %v", err)
	}
	if _, err := r.Read(buf); !errors.Is(err, os.ErrClosed) {
		t.Errorf("read after close: %v", err)
	}
	d, err := fs.OpenDir("/")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Read(buf); !errors.Is(err, syscall.EISDIR) {
		t.Errorf("read of a dir: %v", err)
	}
	if fi, err := d.Stat(); err != nil || !fi.IsDir() {
		t.Errorf("dir Stat = %v, %v", fi, err)
	}
	d.Close()
	// A removed file stays readable and writable through open handles.
	if err := fs.Remove("f"); err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("!"))
	if n, err := w.ReadAt(buf[:1], 11); n != 1 || buf[0] != '!' {
		t.Errorf("read of unlinked file: %d, %v", n, err)
	}
	if got := fs.PathJoin("a", "b", "../c"); got != "a/c" {
		t.Errorf("PathJoin = %q", got)
	}
}

func TestMemLock(t *testing.T) {
	fs := NewMem()
	fs.MkdirAll("/db", 0o755)
	l, err := fs.Lock("/db/LOCK")
	if err != nil {
		t.Fatal(err)
	}
	_, err = fs.Lock("db/../db/LOCK")
	if !errors.Is(err, ErrLockHeld) || !strings.Contains(err.Error(), "held by another process or another Open in this process") {
		t.Fatalf("second lock: %v", err)
	}
	// Another MemFS, and a crash clone, are separate machines.
	if l2, err := fs.CrashClone().Lock("/db/LOCK"); err != nil {
		t.Errorf("lock on crash clone: %v", err)
	} else {
		l2.Close()
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("second unlock: %v", err)
	}
	l, err = fs.Lock("/db/LOCK")
	if err != nil {
		t.Fatalf("relock: %v", err)
	}
	l.Close()
}

// TestMemConcurrent runs writers, tail readers, directory syncs, listings
// and crash clones at once; run it with -race.
func TestMemConcurrent(t *testing.T) {
	fs := NewMem()
	fs.MkdirAll("/db", 0o755)
	const writers, chunks = 4, 200
	var wg sync.WaitGroup
	errc := make(chan error, 100)
	for w := range writers {
		name := fmt.Sprintf("/db/%06d.log", w)
		f, err := fs.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		r, err := fs.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		wg.Add(2)
		go func() { // writer: chunk i is 16 copies of byte i
			defer wg.Done()
			defer close(done)
			for i := range chunks {
				if _, err := f.Write(bytes.Repeat([]byte{byte(i)}, 16)); err != nil {
					errc <- err
					return
				}
				if i%10 == 0 {
					f.Sync()
				}
			}
			f.Close()
		}()
		go func() { // tail reader: whatever is visible is a correct prefix
			defer wg.Done()
			buf := make([]byte, 16)
			off := int64(0)
			for {
				finished := false
				select {
				case <-done:
					finished = true
				default:
				}
				n, err := r.ReadAt(buf, off)
				if n == 16 {
					if !bytes.Equal(buf, bytes.Repeat([]byte{byte(off / 16)}, 16)) {
						errc <- fmt.Errorf("%s at %d: %v", name, off, buf)
						return
					}
					off += 16
					continue
				}
				if err != io.EOF {
					errc <- fmt.Errorf("%s at %d: %d, %v", name, off, n, err)
					return
				}
				if finished && n == 0 {
					if off != 16*chunks {
						errc <- fmt.Errorf("%s: read %d bytes, want %d", name, off, 16*chunks)
					}
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() { // namespace churn, dir syncs and crashes
		defer wg.Done()
		for i := range 200 {
			tmp := fmt.Sprintf("/db/tmp%d", i%3)
			if f, err := fs.Create(tmp); err == nil {
				f.Write([]byte("x"))
				f.Sync()
				f.Close()
			}
			fs.Rename(tmp, "/db/CURRENT")
			if d, err := fs.OpenDir("/db"); err == nil {
				d.Sync()
				d.Close()
			}
			if _, err := fs.List("/db"); err != nil {
				errc <- err
			}
			c := fs.CrashClone()
			if _, err := c.Stat("/db"); err != nil {
				errc <- err
			}
			_ = fs.String()
		}
	}()
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
}

// applyRandomOps runs n random namespace and data operations on fs under
// root and returns a log of them with their outcomes (nil or errno), so two
// file systems can be compared op by op.
func applyRandomOps(fs FS, root string, rng *rand.Rand, n int) []string {
	dirs := []string{"", "a", "a/b", "c"}
	names := []string{"x", "y", "a", "b"}
	pick := func() string {
		return fs.PathJoin(root, dirs[rng.IntN(len(dirs))], names[rng.IntN(len(names))])
	}
	var log []string
	outcome := func(err error) string {
		var errno syscall.Errno
		switch {
		case err == nil:
			return "ok"
		case errors.As(err, &errno):
			return errno.Error()
		}
		return "error"
	}
	for range n {
		var entry string
		switch op := rng.IntN(10); op {
		case 0:
			p := fs.PathJoin(root, dirs[rng.IntN(len(dirs))])
			entry = "mkdir " + p + ": " + outcome(fs.MkdirAll(p, 0o755))
		case 1, 2:
			p := pick()
			f, err := fs.Create(p)
			if err == nil {
				f.Write(bytes.Repeat([]byte{byte('a' + rng.IntN(26))}, rng.IntN(40)))
				err = f.Close()
			}
			entry = "create " + p + ": " + outcome(err)
		case 3:
			p := pick()
			entry = "remove " + p + ": " + outcome(fs.Remove(p))
		case 4:
			a, b := pick(), pick()
			entry = "rename " + a + " " + b + ": " + outcome(fs.Rename(a, b))
		case 5:
			a, b := pick(), pick()
			entry = "link " + a + " " + b + ": " + outcome(fs.Link(a, b))
		case 6:
			p := fs.PathJoin(root, dirs[1+rng.IntN(len(dirs)-1)])
			if rng.IntN(2) == 0 {
				p = pick()
			}
			entry = "remove " + p + ": " + outcome(fs.Remove(p))
		case 7, 8:
			p := pick()
			fi, err := fs.Stat(p)
			entry = "stat " + p + ": " + outcome(err)
			if err == nil && fi.IsDir() {
				entry += " dir"
			} else if err == nil {
				entry += fmt.Sprintf(" size=%d", fi.Size())
			}
		case 9:
			a, b := fs.PathJoin(root, dirs[rng.IntN(len(dirs))]), fs.PathJoin(root, dirs[rng.IntN(len(dirs))])
			entry = "rename " + a + " " + b + ": " + outcome(fs.Rename(a, b))
		}
		log = append(log, strings.ReplaceAll(entry, root, "ROOT"))
	}
	return log
}

// TestMemMatchesOS runs the same random operations on MemFS and the OS and
// requires identical outcomes and final trees: the real file system is the
// model for MemFS's namespace semantics.
func TestMemMatchesOS(t *testing.T) {
	for seed := range uint64(30) {
		dir := t.TempDir()
		osLog := applyRandomOps(Default, dir, rand.New(rand.NewPCG(seed, 7)), 300)
		mem := NewMem()
		mem.MkdirAll("/root", 0o755)
		memLog := applyRandomOps(mem, "/root", rand.New(rand.NewPCG(seed, 7)), 300)
		for i := range osLog {
			if osLog[i] != memLog[i] {
				t.Fatalf("seed %d: op %d: os %q, mem %q\nmem state:\n%s", seed, i, osLog[i], memLog[i], mem)
			}
		}
		got := strings.ReplaceAll(tree(t, mem, "/root"), "/root", "ROOT")
		want := strings.ReplaceAll(tree(t, Default, dir), dir, "ROOT")
		if got != want {
			t.Fatalf("seed %d: trees differ\nmem:\n%s\nos:\n%s", seed, got, want)
		}
	}
}

// syncEverything syncs every file and directory reachable in fs.
func syncEverything(t testing.TB, fs *MemFS, dir string) {
	names, _ := fs.List(dir)
	for _, name := range names {
		p := fs.PathJoin(dir, name)
		fi, err := fs.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.IsDir() {
			syncEverything(t, fs, p)
			continue
		}
		f, err := fs.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		f.Sync()
		f.Close()
	}
	d, err := fs.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	d.Sync()
	d.Close()
}

// checkCrashInvariants checks what must hold of any MemFS: a crash clone is
// its own crash clone, and once everything is synced a crash loses nothing.
func checkCrashInvariants(t testing.TB, fs *MemFS, rng *rand.Rand) {
	c := fs.CrashClone()
	if a, b := tree(t, c, "/"), tree(t, c.CrashClone(), "/"); a != b {
		t.Fatalf("crash clone not durable:\n%s\nthen:\n%s", a, b)
	}
	torn := fs.CrashCloneWith(rng)
	if a, b := tree(t, torn, "/"), tree(t, torn.CrashClone(), "/"); a != b {
		t.Fatalf("torn crash clone not durable:\n%s\nthen:\n%s", a, b)
	}
	syncEverything(t, fs, "/")
	if a, b := tree(t, fs, "/"), tree(t, fs.CrashClone(), "/"); a != b {
		t.Fatalf("crash after syncing everything lost data:\n%s\nthen:\n%s\nstate:\n%s", a, b, fs)
	}
}

func TestMemCrashInvariantsRandom(t *testing.T) {
	for seed := range uint64(50) {
		rng := rand.New(rand.NewPCG(seed, 3))
		fs := NewMem()
		for range 5 {
			applyRandomOps(fs, "/", rng, 40)
			// Sync a random subset of directories.
			for _, d := range []string{"/", "/a", "/a/b", "/c"} {
				if rng.IntN(2) == 0 {
					if f, err := fs.OpenDir(d); err == nil {
						f.Sync()
						f.Close()
					}
				}
			}
		}
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			checkCrashInvariants(t, fs, rng)
		})
	}
}

// FuzzMemFSOps drives MemFS with operations decoded from the input and
// checks it neither panics nor breaks the crash invariants.
func FuzzMemFSOps(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add([]byte("create write sync rename remove link"))
	f.Add(bytes.Repeat([]byte{1, 9, 4, 0xff}, 20))
	f.Fuzz(func(t *testing.T, data []byte) {
		seed := uint64(0)
		for _, b := range data {
			seed = seed*131 + uint64(b)
		}
		fs := NewMem()
		rng := rand.New(rand.NewPCG(seed, uint64(len(data))))
		applyRandomOps(fs, "/", rng, len(data))
		checkCrashInvariants(t, fs, rng)
	})
}

func BenchmarkMemWrite(b *testing.B) {
	fs := NewMem()
	buf := make([]byte, 4096)
	f, _ := fs.Create("/f")
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i%4096 == 0 { // keep the file from growing without bound
			f.Close()
			f, _ = fs.Create("/f")
		}
		f.Write(buf)
	}
}

func BenchmarkMemReadAt(b *testing.B) {
	fs := NewMem()
	f, _ := fs.Create("/f")
	f.Write(make([]byte, 1<<20))
	buf := make([]byte, 4096)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		f.ReadAt(buf, int64(i*4096)%(1<<20))
	}
}

func BenchmarkMemCrashClone(b *testing.B) {
	fs := NewMem()
	fs.MkdirAll("/db", 0o755)
	for i := range 1000 {
		f, _ := fs.Create(fmt.Sprintf("/db/%06d.ldb", i))
		f.Write(make([]byte, 64<<10))
		f.Sync()
		f.Close()
	}
	d, _ := fs.OpenDir("/db")
	d.Sync()
	b.ReportAllocs()
	for b.Loop() {
		fs.CrashClone()
	}
}
