//go:build linux

// Command syncfloor measures what one durable small write costs on this
// disk, written the ways the engines in the comparison write their logs: it
// bounds what any engine's single-writer fillsync can reach here.
//
// Usage: go run ./syncfloor DIR (DIR on the disk to measure; it writes a
// few 1 MiB files there). Each method appends 1,500 records of 130 bytes
// (a db_bench 100-byte value, its key and the log framing), syncing after
// each one, in two rounds:
//
//   - write + fdatasync: C++ LevelDB's log (PosixWritableFile);
//   - write + fsync: goleveldb's (os.File.Sync);
//   - a store into a fallocated, shared mapping + fsync: Strata's mapped
//     WAL appender (internal/vfs);
//   - the same with fdatasync;
//   - pwrite over a file already zero-filled and synced + fdatasync (a
//     recycled log: no block allocation at sync time);
//   - a store into the mapping of such a file + fdatasync.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

const (
	writes   = 1500
	record   = 130
	fileSize = 1 << 20
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: syncfloor DIR")
		os.Exit(2)
	}
	dir := os.Args[1]
	if err := run(dir); err != nil {
		fmt.Fprintln(os.Stderr, "syncfloor:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	rec := make([]byte, record)
	for i := range rec {
		rec[i] = byte(i)
	}
	methods := []struct {
		name string
		fn   func(path string, rec []byte) error
	}{
		{"write+fdatasync", func(p string, r []byte) error { return appendSync(p, r, true) }},
		{"write+fsync", func(p string, r []byte) error { return appendSync(p, r, false) }},
		{"fallocate+mmap+fsync", func(p string, r []byte) error { return mappedSync(p, r, false, false) }},
		{"fallocate+mmap+fdatasync", func(p string, r []byte) error { return mappedSync(p, r, false, true) }},
		{"zeroed+pwrite+fdatasync", zeroedPwrite},
		{"zeroed+mmap+fdatasync", func(p string, r []byte) error { return mappedSync(p, r, true, true) }},
	}
	for round := 1; round <= 2; round++ {
		for _, m := range methods {
			path := filepath.Join(dir, "syncfloor-"+m.name)
			start := time.Now()
			if err := m.fn(path, rec); err != nil {
				return fmt.Errorf("%s: %w", m.name, err)
			}
			el := time.Since(start)
			os.Remove(path)
			fmt.Printf("round %d  %-26s %6.0f writes/s  %5.0f µs/write\n", round, m.name,
				writes/el.Seconds(), float64(el.Microseconds())/writes)
		}
	}
	return nil
}

func appendSync(path string, rec []byte, datasync bool) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	for range writes {
		if _, err := f.Write(rec); err != nil {
			return err
		}
		if err := syncFile(f, datasync); err != nil {
			return err
		}
	}
	return nil
}

// zeroFilled creates path as fileSize zero bytes, written and synced.
func zeroFilled(path string) (*os.File, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(make([]byte, fileSize)); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func zeroedPwrite(path string, rec []byte) error {
	f, err := zeroFilled(path)
	if err != nil {
		return err
	}
	defer f.Close()
	for i := range writes {
		if _, err := f.WriteAt(rec, int64(i*len(rec))); err != nil {
			return err
		}
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			return err
		}
	}
	return nil
}

func mappedSync(path string, rec []byte, zeroed, datasync bool) error {
	var f *os.File
	var err error
	if zeroed {
		f, err = zeroFilled(path)
	} else {
		f, err = os.Create(path)
		if err == nil {
			err = syscall.Fallocate(int(f.Fd()), 0, 0, fileSize)
		}
	}
	if err != nil {
		if f != nil {
			f.Close()
		}
		return err
	}
	defer f.Close()
	m, err := syscall.Mmap(int(f.Fd()), 0, fileSize, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return err
	}
	defer syscall.Munmap(m)
	for i := range writes {
		copy(m[i*len(rec):], rec)
		if err := syncFile(f, datasync); err != nil {
			return err
		}
	}
	return nil
}

// syncFile is fdatasync(2) or fsync(2) of f.
func syncFile(f *os.File, datasync bool) error {
	if datasync {
		return syscall.Fdatasync(int(f.Fd()))
	}
	return f.Sync()
}
