package vfs

import (
	"bytes"
	"errors"
	"io"
	iofs "io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
)

func TestOSBasics(t *testing.T) {
	fs := Default
	dir := filepath.Join(t.TempDir(), "db")
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := fs.PathJoin(dir, "000001.log")
	f, err := fs.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("hello world")); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if n, err := f.ReadAt(buf, 6); n != 5 || err != nil || string(buf) != "world" {
		t.Errorf("ReadAt on the writer = %d, %v, %q", n, err, buf)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	// Create truncates.
	f, _ = fs.Create(p)
	f.Write([]byte("new"))
	f.Close()
	if got := readAll(t, fs, p); got != "new" {
		t.Errorf("after re-Create: %q", got)
	}
	if fi, err := fs.Stat(p); err != nil || fi.Size() != 3 {
		t.Errorf("Stat = %v, %v", fi, err)
	}
	d, err := fs.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Sync(); err != nil {
		t.Errorf("dir sync: %v", err)
	}
	d.Close()
	if err := fs.Link(p, fs.PathJoin(dir, "000002.ldb")); err != nil {
		t.Fatal(err)
	}
	if err := fs.Rename(p, fs.PathJoin(dir, "CURRENT")); err != nil {
		t.Fatal(err)
	}
	names, err := fs.List(dir)
	if err != nil || strings.Join(names, ",") != "000002.ldb,CURRENT" {
		t.Errorf("List = %v, %v", names, err)
	}
	if err := fs.Remove(fs.PathJoin(dir, "CURRENT")); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.Open(p); !errors.Is(err, iofs.ErrNotExist) {
		t.Errorf("open missing: %v", err)
	}
	if _, err := fs.Create(filepath.Join(dir, "nope", "f")); !os.IsNotExist(err) {
		t.Errorf("create in missing dir: %v", err)
	}
}

func TestOSLock(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "LOCK")
	l, err := Default.Lock(name)
	if err != nil {
		t.Fatal(err)
	}
	// Through another spelling of the same path, too.
	other := dir + "/./LOCK"
	_, err = Default.Lock(other)
	var lhe *LockHeldError
	if !errors.Is(err, ErrLockHeld) || !errors.As(err, &lhe) {
		t.Fatalf("second Lock: %v", err)
	}
	want := "lock " + other + ": resource temporarily unavailable (held by another process or another Open in this process)"
	if err.Error() != want {
		t.Errorf("error:\n%s\nwant:\n%s", err, want)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("second Close: %v", err)
	}
	l, err = Default.Lock(name)
	if err != nil {
		t.Fatalf("relock: %v", err)
	}
	l.Close()
}

func TestOSLockConcurrent(t *testing.T) {
	name := filepath.Join(t.TempDir(), "LOCK")
	for range 20 {
		var wins atomic.Int32
		var wg sync.WaitGroup
		closers := make(chan io.Closer, 8)
		for range 8 {
			wg.Go(func() {
				l, err := Default.Lock(name)
				if err == nil {
					wins.Add(1)
					closers <- l
				} else if !errors.Is(err, ErrLockHeld) {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		close(closers)
		if wins.Load() != 1 {
			t.Fatalf("%d goroutines hold the lock", wins.Load())
		}
		for l := range closers {
			l.Close()
		}
	}
}

// TestOSLockOtherProcess checks the flock half: a child process cannot take
// a lock this process holds.
func TestOSLockOtherProcess(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("flock is used on Linux only")
	}
	if name := os.Getenv("STRATA_VFS_LOCK_CHILD"); name != "" {
		_, err := Default.Lock(name)
		if !errors.Is(err, ErrLockHeld) || !errors.Is(err, syscall.EWOULDBLOCK) {
			os.Stdout.WriteString("child: unexpected: " + errString(err))
			os.Exit(1)
		}
		os.Exit(0)
	}
	name := filepath.Join(t.TempDir(), "LOCK")
	l, err := Default.Lock(name)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestOSLockOtherProcess$")
	cmd.Env = append(os.Environ(), "STRATA_VFS_LOCK_CHILD="+name)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func TestMmapFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "000007.ldb")
	want := bytes.Repeat([]byte("strata"), 10000)
	if err := os.WriteFile(p, want, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Default.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data, unmap, err := MmapFile(f)
	if runtime.GOOS != "linux" {
		if !errors.Is(err, ErrMmapUnsupported) {
			t.Fatalf("MmapFile off Linux: %v", err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, want) {
		t.Error("mapped bytes differ from the file")
	}
	if err := unmap(); err != nil {
		t.Fatal(err)
	}
	if err := unmap(); err != nil {
		t.Errorf("second unmap: %v", err)
	}

	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o644)
	ef, _ := Default.Open(empty)
	defer ef.Close()
	if data, unmap, err := MmapFile(ef); err != nil || len(data) != 0 || unmap() != nil {
		t.Errorf("empty file: %v, %v", data, err)
	}

	mf, _ := NewMem().Create("/f")
	if _, _, err := MmapFile(mf); !errors.Is(err, ErrMmapUnsupported) {
		t.Errorf("MmapFile(MemFS file) = %v, want ErrMmapUnsupported", err)
	}
}

func BenchmarkOSReadAt(b *testing.B) {
	p := filepath.Join(b.TempDir(), "f")
	os.WriteFile(p, make([]byte, 1<<20), 0o644)
	f, err := Default.Open(p)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		f.ReadAt(buf, int64(i*4096)%(1<<20))
	}
}

func BenchmarkOSMmapRead(b *testing.B) {
	p := filepath.Join(b.TempDir(), "f")
	os.WriteFile(p, make([]byte, 1<<20), 0o644)
	f, err := Default.Open(p)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	data, unmap, err := MmapFile(f)
	if err != nil {
		b.Skip(err)
	}
	defer unmap()
	buf := make([]byte, 4096)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		off := (i * 4096) % (1 << 20)
		copy(buf, data[off:off+4096])
	}
}
