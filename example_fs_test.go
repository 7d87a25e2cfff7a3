package strata_test

// The examples of in-memory databases, of a file system of one's own, and
// of checkpoints. Each runs under go test and checks its output.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"

	"github.com/strata-db/strata"
)

// An in-memory database: the same engine on a file system that lives in
// memory. It outlives Close (reopen it on the same FS) and is gone with the
// FS.
func ExampleNewMemFS() {
	mem := strata.NewMemFS()
	opts := &strata.Options{FS: mem}
	db, err := strata.Open("/cache", opts)
	if err != nil {
		log.Fatal(err)
	}
	if err := db.Put([]byte("session"), []byte("42"), nil); err != nil {
		log.Fatal(err)
	}
	if err := db.Close(); err != nil {
		log.Fatal(err)
	}

	db, err = strata.Open("/cache", opts) // the same FS: the same database
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	v, err := db.Get([]byte("session"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("session = %s\n", v)

	// Another FS is another, empty, world.
	_, err = strata.Open("/cache", &strata.Options{FS: strata.NewMemFS(), ErrorIfNotExists: true})
	fmt.Println("on a new MemFS:", errors.Is(err, os.ErrNotExist))
	// Output:
	// session = 42
	// on a new MemFS: true
}

// xorFS is a file system of one's own: it wraps another FS and XORs every
// byte written with a key, and every byte read back. It is a TOY, to show
// the shape of a wrapper — XOR with one byte hides nothing from anyone who
// looks; real encryption needs a real cipher (say AES-CTR keyed per file,
// with the offset as the counter, so that ReadAt can decrypt any range).
//
// Embedding the inner FS passes every method through; only Create and
// Open, which return files, are replaced. OpenDir's files are only synced
// and closed, so they pass through too.
type xorFS struct {
	strata.FS
	key byte
}

func (fs xorFS) Create(name string) (strata.File, error) {
	f, err := fs.FS.Create(name)
	if err != nil {
		return nil, err
	}
	return xorFile{f, fs.key}, nil
}

func (fs xorFS) Open(name string) (strata.File, error) {
	f, err := fs.FS.Open(name)
	if err != nil {
		return nil, err // unchanged: a missing file must still match fs.ErrNotExist
	}
	return xorFile{f, fs.key}, nil
}

// xorFile transforms what passes through Write, Read and ReadAt. XOR with
// one byte does not depend on the offset, so ReadAt of any range works;
// Sync, Stat and Close pass through.
type xorFile struct {
	strata.File
	key byte
}

func (f xorFile) xor(p []byte) {
	for i := range p {
		p[i] ^= f.key
	}
}

func (f xorFile) Write(p []byte) (int, error) {
	buf := bytes.Clone(p) // p is the caller's: never change it
	f.xor(buf)
	return f.File.Write(buf)
}

func (f xorFile) Read(p []byte) (int, error) {
	n, err := f.File.Read(p)
	f.xor(p[:n])
	return n, err
}

func (f xorFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := f.File.ReadAt(p, off)
	f.xor(p[:n])
	return n, err
}

// A database on a file system of one's own (xorFS above, a toy cipher):
// it reads back what it wrote, while the files underneath never hold the
// bytes in the clear. Wrap strata.OSFS() instead of a MemFS to keep the
// files on disk.
func ExampleFS() {
	under := strata.NewMemFS()
	fs := xorFS{FS: under, key: 0x5a}
	db, err := strata.Open("/secrets", &strata.Options{FS: fs, Compression: strata.NoCompression})
	if err != nil {
		log.Fatal(err)
	}
	secret := []byte("the launch code is 0000")
	if err := db.Put([]byte("code"), secret, nil); err != nil {
		log.Fatal(err)
	}
	if err := db.Flush(); err != nil { // into a table, beside the log
		log.Fatal(err)
	}
	v, err := db.Get([]byte("code"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("read back: %s\n", v)
	if err := db.Close(); err != nil {
		log.Fatal(err)
	}

	// Every file, as the storage underneath has it.
	names, err := under.List("/secrets")
	if err != nil {
		log.Fatal(err)
	}
	clear := 0
	for _, name := range names {
		f, err := under.Open("/secrets/" + name)
		if err != nil {
			log.Fatal(err)
		}
		data, err := io.ReadAll(f)
		f.Close()
		if err != nil {
			log.Fatal(err)
		}
		if bytes.Contains(data, secret) {
			clear++
		}
	}
	fmt.Printf("files underneath holding the secret in the clear: %d of %d\n", clear, len(names))
	// Output:
	// read back: the launch code is 0000
	// files underneath holding the secret in the clear: 0 of 6
}

// A checkpoint is a consistent copy of a live database, openable on its
// own: here a backup taken while the database goes on.
func ExampleDB_Checkpoint() {
	db, done := openExample()
	defer done()
	if err := db.Put([]byte("balance"), []byte("100"), nil); err != nil {
		log.Fatal(err)
	}

	backups := tempDir()
	defer os.RemoveAll(backups)
	backup := filepath.Join(backups, "backup-1") // must not exist (its parent must), or be empty
	if err := db.Checkpoint(backup); err != nil {
		log.Fatal(err)
	}
	if err := db.Put([]byte("balance"), []byte("50"), nil); err != nil { // after: not in the backup
		log.Fatal(err)
	}

	b, err := strata.Open(backup, &strata.Options{ErrorIfNotExists: true})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	for name, d := range map[string]*strata.DB{"database": db, "backup": b} {
		v, err := d.Get([]byte("balance"))
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s: balance = %s\n", name, v)
	}
	// Unordered output:
	// database: balance = 50
	// backup: balance = 100
}
