package strata_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/strata-db/strata"
	"github.com/strata-db/strata/inspect"
	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/batch"
	"github.com/strata-db/strata/internal/record"
)

// FuzzOpen feeds arbitrary MANIFEST and log contents to recovery, next to
// a real table. (The decoders have their own fuzz targets; this one fuzzes
// what recovery does with what they decode: version edits naming odd
// levels, files, sizes and key ranges; batches with any sequence numbers.)
// Whatever the bytes:
//
//   - nothing panics, and every error Open, a read, a write, Flush or Close
//     returns is a corruption error (errors.Is(err, strata.ErrCorruption)):
//     the files are in memory, so no other error has a cause, except one:
//     a MANIFEST that names another comparator (isComparatorMismatch),
//     which Open refuses and inspect.Check reports alike;
//   - no read returns a value that was never written to its key (by the
//     seed, or by an intact batch of the log), or a key never written;
//   - inspect.Check, run on the same files, agrees with the engine: where
//     it finds nothing wrong, Open succeeds, every read succeeds and scans
//     agree with Get (so a read that fails with corruption is always one
//     Check warned of).
//
// The seeds that are valid databases (the MANIFEST and log as written, and
// the MANIFEST with an empty log) open and read back exactly what was
// written, with and without ParanoidChecks.
func FuzzOpen(f *testing.F) {
	s := fuzzOpenSeed(f)
	f.Add(s.manifest, s.log, false)
	f.Add(s.manifest, s.log, true)
	f.Add(s.manifest, []byte{}, false)
	f.Add(s.manifest[:len(s.manifest)/2], s.log[:len(s.log)/3], false)
	f.Add([]byte{}, []byte{}, false)
	f.Fuzz(func(t *testing.T, manifestBytes, logBytes []byte, paranoid bool) {
		s.check(t, manifestBytes, logBytes, paranoid)
	})
}

// FuzzOpenRecords is FuzzOpen where the fuzzer writes the records, not the
// bytes: each input is a sequence of records (a uvarint length, then the
// record; the last takes what is left) that the test frames with valid
// checksums into the MANIFEST (version edits) and the log (batches). So
// the fuzzer reaches what FuzzOpen's checksums keep it from: edits naming
// odd levels, files, sizes, numbers and key ranges, and batches with any
// sequence numbers and counts, all intact as far as the framing can tell.
// The checks are FuzzOpen's.
func FuzzOpenRecords(f *testing.F) {
	s := fuzzOpenSeed(f)
	manifest, log := unframeRecords(f, s.manifest), unframeRecords(f, s.log)
	f.Add(manifest, log, false)
	f.Add(manifest, log, true)
	f.Add(manifest, []byte{}, false)
	f.Add(manifest, log[:len(log)/2], false)
	f.Fuzz(func(t *testing.T, manifestRecords, logRecords []byte, paranoid bool) {
		s.check(t, frameRecords(t, manifestRecords), frameRecords(t, logRecords), paranoid)
	})
}

// frameRecords writes the records of data (see FuzzOpenRecords) in the log
// format.
func frameRecords(t testing.TB, data []byte) []byte {
	var buf bytes.Buffer
	w := record.NewWriter(&buf)
	for len(data) > 0 {
		n, w0 := binary.Uvarint(data)
		if w0 <= 0 || n > uint64(len(data)-w0) {
			n, w0 = uint64(len(data)), 0
		}
		if _, err := w.WriteRecord(data[w0 : w0+int(n)]); err != nil {
			t.Fatal(err)
		}
		data = data[w0+int(n):]
	}
	return buf.Bytes()
}

// unframeRecords is the inverse of frameRecords, for the seeds: it fails t
// unless framing the records again gives back the file.
func unframeRecords(t testing.TB, file []byte) []byte {
	var out []byte
	r := record.NewReader(bytes.NewReader(file), "seed")
	if err := r.Each(nil, func(rec []byte, _ int64) error {
		out = binary.AppendUvarint(out, uint64(len(rec)))
		out = append(out, rec...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(frameRecords(t, out), file) {
		t.Fatal("framing the seed's records again does not give back its file")
	}
	return out
}

// fuzzOpenDB is FuzzOpen's seed database: its files, and what each key
// holds (tableState: what the table alone holds; state: with the log).
type fuzzOpenDB struct {
	manifest, log, table []byte
	tableName            string
	tableState, state    map[string]string
	// written lists every value ever written to each key.
	written map[string][]string
}

// fuzzOpenSeed builds a small database: 50 keys flushed to a table, then
// 35 overwrites (25 of the same keys) and a deletion in the log.
func fuzzOpenSeed(f *testing.F) *fuzzOpenDB {
	fs := strata.NewMemFS()
	db, err := strata.Open("db", &strata.Options{FS: fs, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.Fatal(err)
	}
	s := &fuzzOpenDB{state: map[string]string{}, written: map[string][]string{}}
	put := func(k, v string) {
		if err := db.Put([]byte(k), []byte(v), nil); err != nil {
			f.Fatal(err)
		}
		s.state[k] = v
		s.written[k] = append(s.written[k], v)
	}
	for i := 0; i < 50; i++ {
		put(fmt.Sprintf("k%04d", i), "v")
	}
	if err := db.Flush(); err != nil {
		f.Fatal(err)
	}
	s.tableState = maps.Clone(s.state)
	for i := 25; i < 60; i++ {
		put(fmt.Sprintf("k%04d", i), "w")
	}
	if err := db.Delete([]byte("k0003"), nil); err != nil {
		f.Fatal(err)
	}
	delete(s.state, "k0003")
	if err := db.Close(); err != nil {
		f.Fatal(err)
	}
	read := func(name string) []byte {
		fl, err := fs.Open("db/" + name)
		if err != nil {
			f.Fatal(err)
		}
		defer fl.Close()
		b, err := io.ReadAll(fl)
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	names, err := fs.List("db")
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range names {
		switch filepath.Ext(name) {
		case ".log":
			s.log = read(name)
		case ".ldb":
			s.table, s.tableName = read(name), name
		default:
			if len(name) > 9 && name[:9] == "MANIFEST-" {
				s.manifest = read(name)
			}
		}
	}
	if s.manifest == nil || s.log == nil || s.table == nil {
		f.Fatalf("seed database incomplete: %v", names)
	}
	return s
}

// files returns the directory FuzzOpen opens: the seed's table, the given
// MANIFEST (numbered 100, named by CURRENT) and log (numbered 101, so
// recovery replays it whatever log number the MANIFEST gives).
func (s *fuzzOpenDB) files(manifestBytes, logBytes []byte) map[string][]byte {
	return map[string][]byte{
		"CURRENT":         []byte("MANIFEST-000100\n"),
		"MANIFEST-000100": manifestBytes,
		"000101.log":      logBytes,
		s.tableName:       s.table,
	}
}

// want returns the state the seed's valid inputs must read back, or nil
// for any other input.
func (s *fuzzOpenDB) want(manifestBytes, logBytes []byte) map[string]string {
	if !bytes.Equal(manifestBytes, s.manifest) {
		return nil
	}
	switch {
	case bytes.Equal(logBytes, s.log):
		return s.state
	case len(logBytes) == 0:
		return s.tableState
	}
	return nil
}

// check is FuzzOpen's body.
func (s *fuzzOpenDB) check(t *testing.T, manifestBytes, logBytes []byte, paranoid bool) {
	files := s.files(manifestBytes, logBytes)
	want := s.want(manifestBytes, logBytes)

	// inspect.Check reads a directory of the OS, written before Open can
	// change anything.
	dir := t.TempDir()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := inspect.Check(dir)
	if err != nil && !isComparatorMismatch(err) {
		t.Fatalf("inspect.Check: %v", err)
	}
	clean := err == nil && rep.OK()
	if want != nil && !clean {
		t.Fatalf("Check finds damage in a valid database: %v", rep.Findings)
	}

	fs := strata.NewMemFS()
	if err := fs.MkdirAll("db", 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		fl, err := fs.Create("db/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fl.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := fl.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// fail checks an error of the engine: corruption, and only where Check
	// found damage.
	fail := func(what string, err error) {
		t.Helper()
		switch {
		case err == nil:
		case !errors.Is(err, strata.ErrCorruption):
			t.Fatalf("%s: %v, which is not a corruption error", what, err)
		case want != nil:
			t.Fatalf("%s: %v, in a valid database", what, err)
		case clean:
			t.Fatalf("%s: %v, where inspect.Check found nothing wrong", what, err)
		}
	}
	db, err := strata.Open("db", &strata.Options{FS: fs, ParanoidChecks: paranoid,
		Logger: slog.New(slog.DiscardHandler), WriteBufferSize: 4 << 10})
	if rep == nil { // the MANIFEST names another comparator
		if !isComparatorMismatch(err) {
			t.Fatalf("Open = %v, where inspect.Check found the MANIFEST names another comparator", err)
		}
		return
	}
	fail("Open", err)
	if err != nil {
		return
	}
	got := read(t, db, s.writtenWith(logBytes), clean, fail)
	if want != nil && !maps.Equal(got, want) {
		t.Fatalf("a valid database reads %d keys, want %d: %v", len(got), len(want), got)
	}
	fail("Put", db.Put([]byte("after"), []byte("open"), nil))
	fail("Flush", db.Flush())
	fail("Close", db.Close())
}

// isComparatorMismatch reports the one error other than corruption that
// damaged bytes may cause, in Open and in inspect.Check alike: a MANIFEST
// naming a comparator other than the one configured. (It is what a
// database written with another comparator looks like; neither can tell
// the two apart, and the engine's error is not typed.)
func isComparatorMismatch(err error) bool {
	return err != nil && !errors.Is(err, strata.ErrCorruption) && strings.Contains(err.Error(), "uses comparator")
}

// writtenWith returns every value written to each key: by the seed, or by
// an intact batch of logBytes (what the fuzzer writes in a log is written
// too, as far as recovery can tell).
func (s *fuzzOpenDB) writtenWith(logBytes []byte) map[string][]string {
	written := maps.Clone(s.written)
	r := record.NewReader(bytes.NewReader(logBytes), "log")
	_ = r.Each(func(error) error { return nil }, func(rec []byte, _ int64) error {
		if batch.Validate(rec) != nil {
			return nil
		}
		br, _ := batch.NewReader(rec)
		for {
			kind, k, v, ok, _ := br.Next()
			if !ok {
				return nil
			}
			if kind == base.KindSet {
				written[string(k)] = append(written[string(k)], string(v))
			}
		}
	})
	return written
}

// read reads every key of written with Get, and scans in each direction,
// passing every error to fail; it returns what Get found. A value never
// written to its key fails t, and so does, where inspect.Check found the
// database clean, a scan that disagrees with Get. (Where Check found
// damage they may disagree: a MANIFEST's key range that does not match its
// table's keys hides them from Get but not from a scan.)
func read(t *testing.T, db *strata.DB, written map[string][]string, clean bool, fail func(string, error)) map[string]string {
	t.Helper()
	got := map[string]string{}
	getOK := true
	for _, k := range slices.Sorted(maps.Keys(written)) {
		v, err := db.Get([]byte(k))
		if errors.Is(err, strata.ErrNotFound) {
			continue
		}
		fail("Get "+k, err)
		if err != nil {
			getOK = false
			continue
		}
		if !slices.Contains(written[k], string(v)) {
			t.Fatalf("Get %s = %q, never written to it (%q were)", k, v, written[k])
		}
		got[k] = string(v)
	}
	for _, backward := range []bool{false, true} {
		it := db.NewIterator(nil)
		first, next := it.First, it.Next
		if backward {
			first, next = it.Last, it.Prev
		}
		scanned := map[string]string{}
		for ok := first(); ok && len(scanned) <= len(written); ok = next() {
			k, v := string(it.Key()), string(it.Value())
			if !slices.Contains(written[k], v) {
				t.Fatalf("scan (backward %v): %q = %q, never written to it (%q were)", backward, k, v, written[k])
			}
			scanned[k] = v
		}
		err := it.Close()
		fail(fmt.Sprintf("scan (backward %v)", backward), err)
		if clean && err == nil && getOK && !maps.Equal(scanned, got) {
			t.Fatalf("scan (backward %v) finds %d keys, Get %d, where inspect.Check found nothing wrong", backward, len(scanned), len(got))
		}
	}
	return got
}
