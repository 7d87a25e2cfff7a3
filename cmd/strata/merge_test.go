package main

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-db/strata"
)

// TestDeleteRangeAndMerge: delete-range removes a range; merge folds
// operands with each built-in operator, numbers as 8 bytes little-endian
// (negative ones for add), bytes with --raw or --hex; the operator is
// recorded, then implied; the first use says the database is LevelDB's no
// more; mistakes are usage errors.
func TestDeleteRangeAndMerge(t *testing.T) {
	db := filepath.Join(t.TempDir(), "db")
	wantError(t, runStrata(t, "", "delete-range", "--db", db, "a", "b"), 1, "does not exist")
	for _, k := range []string{"a", "b", "c", "d"} {
		mustStrata(t, "", "put", "--db", db, k, "v"+k)
	}
	r := runStrata(t, "", "delete-range", "--db", db, "b", "d")
	if r.code != 0 || !strings.Contains(r.stderr, "now uses range deletions or merges: C++ LevelDB (and RocksDB) will refuse") {
		t.Fatalf("first delete-range: %s", r)
	}
	if got := mustStrata(t, "", "scan", "--db", db); got != "a\tva\nd\tvd\n" {
		t.Errorf("scan after delete-range:\n%s", got)
	}
	if r := runStrata(t, "", "delete-range", "--db", db, "--hex", "61", "62"); r.code != 0 || r.stderr != "" {
		t.Errorf("second delete-range (no note): %s", r)
	}
	wantError(t, runStrata(t, "", "delete-range", "--db", db, "d", "d"), 2, "the range is empty")

	// merge: the operator first named, then recorded.
	wantError(t, runStrata(t, "", "merge", "--db", db, "n", "1"), 2, "want --op add, max, min or append")
	mustStrata(t, "", "merge", "--db", db, "--op", "add", "n", "40")
	mustStrata(t, "", "merge", "--db", db, "n", "5")
	mustStrata(t, "", "merge", "--db", db, "n", "--", "-3")
	if got := mustStrata(t, "", "get", "--db", db, "--hex", "6e"); got != "2a00000000000000\n" { // 42
		t.Errorf("n = %s", got)
	}
	mustStrata(t, "", "merge", "--db", db, "--raw", "n", `\x01`) // one byte: the value is cut to it
	if got := mustStrata(t, "", "get", "--db", db, "--hex", "6e"); got != "2b\n" {
		t.Errorf("n after a 1-byte operand = %s", got)
	}
	wantError(t, runStrata(t, "", "merge", "--db", db, "--op", "max", "n", "1"), 1, "records merge operator strata.add; --op max would be refused")
	wantError(t, runStrata(t, "", "merge", "--db", db, "n", "x"), 2, "want a decimal integer")
	wantError(t, runStrata(t, "", "merge", "--db", db, "--op", "nope", "n", "1"), 2, `--op "nope"`)
	wantError(t, runStrata(t, "", "merge", "--db", db, "--op", "add", "--sep", ",", "n", "1"), 2, "--sep applies only with --op append")

	// Each operator on a database of its own.
	for _, tc := range []struct {
		args  []string
		ops   []string
		value string // get --hex
	}{
		{[]string{"--op", "max"}, []string{"7", "300", "9"}, "2c01000000000000"},
		{[]string{"--op", "min"}, []string{"7", "300", "9"}, "0700000000000000"},
		{[]string{"--op", "append", "--sep", ", "}, []string{"x", "y", "z"}, fmt.Sprintf("%x", "x, y, z")},
		{[]string{"--op", "append", "--hex", "--sep", "00"}, []string{"61", "62"}, "610062"},
		{[]string{"--op", "add", "--hex"}, []string{"0100", "ff00"}, "0001"},
	} {
		db := filepath.Join(t.TempDir(), "db")
		hexKey := "k"
		if strings.Contains(strings.Join(tc.args, " "), "--hex") {
			hexKey = "6b"
		}
		for _, op := range tc.ops {
			mustStrata(t, "", append(append([]string{"merge", "--db", db}, tc.args...), hexKey, op)...)
		}
		if got := mustStrata(t, "", "get", "--db", db, "--hex", "6b"); got != tc.value+"\n" {
			t.Errorf("%v %v: k = %s, want %s", tc.args, tc.ops, got, tc.value)
		}
	}
	wantError(t, runStrata(t, "", "merge", "--db", filepath.Join(t.TempDir(), "db"), "--op", "max", "k", "--", "-1"), 2, "compares unsigned integers")
}

// u64 is n as 8 bytes little-endian.
func u64(n uint64) []byte { return binary.LittleEndian.AppendUint64(nil, n) }

// TestRecordedMerger: every command opens a database that records a
// built-in operator without being told it; a database whose operator is
// not built in opens for reading, and reading a merged key fails naming
// the operator, while commands that write refuse it with the same name.
func TestRecordedMerger(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	db, err := strata.Open(dir, &strata.Options{Merger: strata.MaxMerger})
	if err != nil {
		t.Fatal(err)
	}
	db.Merge([]byte("m"), u64(3), nil)
	db.Flush()
	db.Merge([]byte("m"), u64(9), nil)
	db.Put([]byte("p"), []byte("plain"), nil)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if got := mustStrata(t, "", "get", "--db", dir, "--hex", "6d"); got != "0900000000000000\n" {
		t.Errorf("get m = %s", got)
	}
	for _, args := range [][]string{
		{"scan", "--db", dir}, {"stats", "--db", dir}, {"property", "--db", dir}, {"approxsize", "--db", dir},
		{"export", "--db", dir}, {"put", "--db", dir, "q", "x"}, {"delete", "--db", dir, "q"}, {"flush", "--db", dir},
		{"compact", "--db", dir}, {"merge", "--db", dir, "m", "1"}, {"delete-range", "--db", dir, "x", "y"},
		{"checkpoint", "--db", dir, "--to", filepath.Join(t.TempDir(), "cp")}, {"check", "--db", dir},
		{"setops", "--left", dir, "--right", dir},
	} {
		mustStrata(t, "", args...)
	}
	if got := mustStrata(t, "", "scan", "--db", dir, "--format", "hex"); got != "6d\t0900000000000000\n70\t706c61696e\n" {
		t.Errorf("scan after the commands:\n%s", got)
	}

	// An operator strata does not have.
	other := filepath.Join(t.TempDir(), "db")
	concat := &strata.Merger{Name: "acme.concat", FullMerge: func(_, ex []byte, _ bool, ops [][]byte) ([]byte, error) {
		for _, op := range ops {
			ex = append(ex, op...)
		}
		return ex, nil
	}}
	if db, err = strata.Open(other, &strata.Options{Merger: concat}); err != nil {
		t.Fatal(err)
	}
	db.Merge([]byte("m"), []byte("x"), nil)
	db.Put([]byte("p"), []byte("plain"), nil)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if got := mustStrata(t, "", "get", "--db", other, "p"); got != "plain\n" {
		t.Errorf("get p = %q", got)
	}
	mustStrata(t, "", "stats", "--db", other)
	for _, args := range [][]string{{"get", "--db", other, "m"}, {"scan", "--db", other}} {
		wantError(t, runStrata(t, "", args...), 1, `merge operator acme.concat on key "m": the operator is not built into strata`)
	}
	for _, args := range [][]string{{"put", "--db", other, "q", "x"}, {"compact", "--db", other}, {"merge", "--db", other, "m", "y"}} {
		wantError(t, runStrata(t, "", args...), 1, `holds merge operands of operator "acme.concat", which strata does not have built in`)
	}
	wantError(t, runStrata(t, "", "merge", "--db", other, "--op", "add", "m", "1"), 1, "records merge operator acme.concat")
}

// TestRepairMergesCmd: with its MANIFEST gone, a database of merge
// operands is rebuilt but not compacted until repair is told the
// operator; then it reads as before and records it.
func TestRepairMergesCmd(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	mustStrata(t, "", "put", "--db", dir, "--hex", "6e", "0100000000000000")
	mustStrata(t, "", "merge", "--db", dir, "--op", "add", "n", "41")
	mustStrata(t, "", "delete-range", "--db", dir, "a", "m")
	for _, m := range mustGlob(t, dir, "MANIFEST-*") {
		os.Remove(m)
	}
	wantError(t, runStrata(t, "", "repair", "--db", dir), 1, "--op")
	out := mustStrata(t, "", "repair", "--db", dir, "--op", "add")
	if !strings.Contains(out, "the database holds range deletions or merge operands, merge operator strata.add (C++ LevelDB refuses it)") {
		t.Errorf("repair --op add:\n%s", out)
	}
	if got := mustStrata(t, "", "get", "--db", dir, "--hex", "6e"); got != "2a00000000000000\n" {
		t.Errorf("n after repair = %s", got)
	}
	out = mustStrata(t, "", "manifest", "--db", dir)
	if !strings.Contains(out, "  merger          strata.add\n") {
		t.Errorf("manifest after repair:\n%s", out)
	}
}

func mustGlob(t *testing.T, dir, pattern string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil || len(m) == 0 {
		t.Fatalf("%s in %s: %v %v", pattern, dir, m, err)
	}
	return m
}

// TestInspectRangeDelsAndMergesGolden pins what sst, wal, manifest,
// check and idump print about range deletions and merge operands
// (testdata/rangedel.golden; go test -update rewrites it).
func TestInspectRangeDelsAndMergesGolden(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	db, err := strata.Open(dir, &strata.Options{Merger: strata.AddMerger, DisableAutoCompactions: true})
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"a", "b", "c", "d"} {
		must(db.Put([]byte(k), []byte("v"+k), nil))
	}
	must(db.Merge([]byte("n"), u64(2), nil))
	// A snapshot from before the range deletions keeps the entries they
	// cover in the flushed table (a flush drops what no reader can see),
	// so the table shows both.
	snap := db.NewSnapshot()
	must(db.DeleteRange([]byte("b"), []byte("d"), nil))
	must(db.DeleteRange([]byte("c"), []byte("zz"), nil))
	must(db.Flush())
	snap.Close()
	b := db.NewBatch()
	b.Merge([]byte("n"), u64(40))
	b.DeleteRange([]byte("a"), []byte("b"))
	b.Put([]byte("c"), []byte("again"))
	must(db.Write(b, nil))
	must(db.Close())

	var out strings.Builder
	section := func(args ...string) {
		r := runStrata(t, "", args...)
		fmt.Fprintf(&out, "$ strata %s\n%s%s", strings.Join(args, " "), r.stdout, r.stderr)
		if r.code != 0 {
			fmt.Fprintf(&out, "(exit %d)\n", r.code)
		}
	}
	table := onlyFile(t, dir, "*.ldb")
	section("sst", "--scan", "--check", table)
	section("wal", onlyFile(t, dir, "*.log"))
	section("manifest", "--db", dir)
	section("check", "--db", dir)
	section("idump", "--db", dir, "c")
	section("idump", "--db", dir, "n")
	section("get", "--db", dir, "--hex", "6e")
	section("scan", "--db", dir)
	got := strings.ReplaceAll(out.String(), dir, "DIR")

	golden := "testdata/rangedel.golden"
	if *update {
		os.WriteFile(golden, []byte(got), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("got:\n%s\nwant (%s):\n%s", got, golden, want)
	}
}
