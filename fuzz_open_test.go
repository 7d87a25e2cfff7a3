package strata

import (
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/vfs"
)

// FuzzOpen feeds arbitrary MANIFEST and log contents to recovery, next to
// a real table: Open must return an error or a database that reads without
// panicking, whatever the bytes. (The decoders have their own fuzz targets;
// this one fuzzes what recovery does with what they decode: version edits
// naming odd levels, files, sizes and key ranges; batches with any
// sequence numbers.)
func FuzzOpen(f *testing.F) {
	manifest, log, table, tableNum := fuzzOpenSeed(f)
	f.Add(manifest, log, false)
	f.Add(manifest, log, true)
	f.Add(manifest[:len(manifest)/2], log[:len(log)/3], false)
	f.Add([]byte{}, []byte{}, false)
	f.Fuzz(func(t *testing.T, manifestBytes, logBytes []byte, paranoid bool) {
		fuzzOpenOnce(t, manifestBytes, logBytes, table, tableNum, paranoid)
	})
}

// fuzzOpenOnce is FuzzOpen's body.
func fuzzOpenOnce(t testing.TB, manifestBytes, logBytes, table []byte, tableNum uint64, paranoid bool) {
	{
		fs := vfs.NewMem()
		write := func(name string, data []byte) {
			fl, err := fs.Create("db/" + name)
			if err != nil {
				t.Fatal(err)
			}
			fl.Write(data)
			fl.Close()
		}
		fs.MkdirAll("db", 0o755)
		write("CURRENT", []byte("MANIFEST-000100\n"))
		write("MANIFEST-000100", manifestBytes)
		write(base.MakeFilename(base.FileTypeLog, 101), logBytes)
		write(base.MakeFilename(base.FileTypeTable, tableNum), table)
		db, err := Open("db", &Options{FS: fs, ParanoidChecks: paranoid, Logger: slog.New(slog.DiscardHandler),
			WriteBufferSize: 4 << 10})
		if err != nil {
			return
		}
		it := db.NewIterator(nil)
		n := 0
		for ok := it.First(); ok && n < 1000; ok = it.Next() {
			n++
		}
		it.Close()
		db.Get([]byte("k0001"))
		db.Put([]byte("after"), []byte("open"), nil)
		db.Flush()
		db.Close()
	}
}

// fuzzOpenSeed builds a small database and returns its MANIFEST (renamed
// to number 100 by the caller's CURRENT), a log whose number is 101, and
// one of its tables.
func fuzzOpenSeed(f *testing.F) (manifest, log, table []byte, tableNum uint64) {
	fs := vfs.NewMem()
	db, err := Open("db", &Options{FS: fs, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		db.Put([]byte(fmt.Sprintf("k%04d", i)), []byte("v"), nil)
	}
	db.Flush()
	for i := 25; i < 60; i++ {
		db.Put([]byte(fmt.Sprintf("k%04d", i)), []byte("w"), nil)
	}
	db.Delete([]byte("k0003"), nil)
	db.Close()
	read := func(name string) []byte {
		fl, err := fs.Open("db/" + name)
		if err != nil {
			f.Fatal(err)
		}
		defer fl.Close()
		b, _ := io.ReadAll(fl)
		return b
	}
	names, _ := fs.List("db")
	for _, name := range names {
		switch t, num, _ := base.ParseFilename(name); t {
		case base.FileTypeManifest:
			manifest = read(name)
		case base.FileTypeLog:
			log = read(name)
		case base.FileTypeTable:
			table, tableNum = read(name), num
		}
	}
	if manifest == nil || log == nil || table == nil {
		f.Fatalf("seed database incomplete: %v", names)
	}
	return manifest, log, table, tableNum
}
