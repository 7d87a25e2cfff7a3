// Command userfs is a user's program in a module of its own that brings
// its own file system: countFS implements strata.FS, and countFile
// strata.File, method by method (no embedding), over strata.OSFS(),
// counting the bytes written. TestFSFromAnotherModule builds and runs it
// against this checkout (a replace directive), which proves that a package
// outside the module can implement the interfaces: they name nothing
// internal or unexported.
//
// Usage: userfs DIR (an empty directory to put the database in).
package main

import (
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/strata-db/strata"
)

type countFS struct {
	inner   strata.FS
	written *atomic.Int64
}

var (
	_ strata.FS   = countFS{}
	_ strata.File = countFile{}
)

func (fs countFS) Create(name string) (strata.File, error) {
	f, err := fs.inner.Create(name)
	if err != nil {
		return nil, err
	}
	return countFile{f, fs.written}, nil
}

func (fs countFS) Open(name string) (strata.File, error) {
	f, err := fs.inner.Open(name)
	if err != nil {
		return nil, err
	}
	return countFile{f, fs.written}, nil
}

func (fs countFS) OpenDir(name string) (strata.File, error)    { return fs.inner.OpenDir(name) }
func (fs countFS) Remove(name string) error                    { return fs.inner.Remove(name) }
func (fs countFS) Rename(oldname, newname string) error        { return fs.inner.Rename(oldname, newname) }
func (fs countFS) Link(oldname, newname string) error          { return fs.inner.Link(oldname, newname) }
func (fs countFS) MkdirAll(dir string, perm os.FileMode) error { return fs.inner.MkdirAll(dir, perm) }
func (fs countFS) List(dir string) ([]string, error)           { return fs.inner.List(dir) }
func (fs countFS) Stat(name string) (os.FileInfo, error)       { return fs.inner.Stat(name) }
func (fs countFS) Lock(name string) (io.Closer, error)         { return fs.inner.Lock(name) }
func (fs countFS) PathJoin(elem ...string) string              { return filepath.Join(elem...) }

type countFile struct {
	f       strata.File
	written *atomic.Int64
}

func (f countFile) Write(p []byte) (int, error) {
	n, err := f.f.Write(p)
	f.written.Add(int64(n))
	return n, err
}

func (f countFile) Read(p []byte) (int, error)              { return f.f.Read(p) }
func (f countFile) ReadAt(p []byte, off int64) (int, error) { return f.f.ReadAt(p, off) }
func (f countFile) Sync() error                             { return f.f.Sync() }
func (f countFile) Stat() (os.FileInfo, error)              { return f.f.Stat() }
func (f countFile) Close() error                            { return f.f.Close() }

func main() {
	if len(os.Args) != 2 {
		log.Fatal("usage: userfs DIR")
	}
	dir := filepath.Join(os.Args[1], "db")
	fs := countFS{inner: strata.OSFS(), written: new(atomic.Int64)}
	opts := &strata.Options{FS: fs}
	db, err := strata.Open(dir, opts)
	if err != nil {
		log.Fatal(err)
	}
	for i := range 1000 {
		if err := db.Put(fmt.Appendf(nil, "key%04d", i), fmt.Appendf(nil, "value %d", i), nil); err != nil {
			log.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		log.Fatal(err)
	}
	if db, err = strata.Open(dir, opts); err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	v, err := db.Get([]byte("key0999"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("key0999 = %s; bytes written through countFS: %t\n", v, fs.written.Load() > 10000)
}
