package main

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/strata-db/strata"
)

// TestApproxSize: the sizes of ranges add up, an empty range is 0, and the
// flags pair up.
func TestApproxSize(t *testing.T) {
	db := makeDB(t) // key000000..key002999 in a table, 100-byte values
	out := mustStrata(t, "", "approxsize", "--db", db)
	m := regexp.MustCompile(`^from=-\tto=-\tbytes=(\d+)\ntotal\tbytes=(\d+)\n$`).FindStringSubmatch(out)
	if m == nil || m[1] != m[2] {
		t.Fatalf("approxsize of everything: %q", out)
	}
	all, _ := strconv.Atoi(m[1])
	if all < 20_000 { // snappy shrinks the repeated letters
		t.Fatalf("approxsize of 3000 entries of 100 bytes (compressed): %d", all)
	}
	wantError(t, runStrata(t, "", "approxsize", "--db", db, "--from", "a", "--from", "b", "--to", "c"), 2, "2 --from and 1 --to")
	out = mustStrata(t, "", "approxsize", "--db", db, "--from", "key000000", "--to", "key001500", "--from", "key001500", "--to", "key999999")
	re := regexp.MustCompile(`(?m)^from=(\S+)\tto=(\S+)\tbytes=(\d+)$`)
	var sum int
	for _, l := range re.FindAllStringSubmatch(out, -1) {
		n, _ := strconv.Atoi(l[3])
		if n < all/4 {
			t.Errorf("half of the keys: %d bytes of %d", n, all)
		}
		sum += n
	}
	if sum < all*9/10 || sum > all*11/10 || !strings.HasSuffix(out, fmt.Sprintf("total\tbytes=%d\n", sum)) {
		t.Errorf("two halves: %d bytes, the whole %d:\n%s", sum, all, out)
	}
	if out := mustStrata(t, "", "approxsize", "--db", db, "--hex", "--from", "7a"); out != "from=7a\tto=-\tbytes=0\ntotal\tbytes=0\n" {
		t.Errorf("approxsize past the last key: %q", out)
	}
}

// TestPropertyNames: every name property lists is one the engine knows,
// and its value prints.
func TestPropertyNames(t *testing.T) {
	db := makeDB(t)
	list := mustStrata(t, "", "property", "--db", db)
	if n := strings.Count(list, "\n"); n != len(properties) {
		t.Fatalf("%d names listed:\n%s", n, list)
	}
	handle, err := strata.Open(db, &strata.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer handle.Close()
	for _, p := range properties {
		name := strings.ReplaceAll(p.name, "<N>", "0")
		if _, ok := handle.Property(name); !ok {
			t.Errorf("property lists %s, which the engine does not know", p.name)
		}
		if out := mustStrata(t, "", "property", "--db", db, name); out == "" || !strings.HasSuffix(out, "\n") {
			t.Errorf("property %s: %q", name, out)
		}
	}
	if got := mustStrata(t, "", "property", "--db", db, "leveldb.num-files-at-level0"); got != "1\n" && got != "0\n" {
		t.Errorf("leveldb.num-files-at-level0: %q", got)
	}
	wantError(t, runStrata(t, "", "property", "--db", db, "strata.nope"), 2, `unknown property "strata.nope"`)
}

// TestIdump: every version of a key, newest first, from the log and the
// tables, with its file and level.
func TestIdump(t *testing.T) {
	db := filepath.Join(t.TempDir(), "db")
	mustStrata(t, "", "put", "--db", db, "k", "one")
	mustStrata(t, "", "put", "--db", db, "other", "x")
	mustStrata(t, "", "compact", "--db", db)
	mustStrata(t, "", "put", "--db", db, "k", "two\tlines")
	mustStrata(t, "", "delete", "--db", db, "k")
	r := runStrata(t, "", "idump", "--db", db, "k")
	lines := regexp.MustCompile(`(?m)^(\d+)\t(SET|DEL)\t(\d{6}\.(?:log|ldb))\t(L\d|log)\t(.*)$`).FindAllStringSubmatch(r.stdout, -1)
	if r.code != 0 || len(lines) != 3 || r.stderr != "3 version(s) of k\n" {
		t.Fatalf("idump:\n%s", r)
	}
	for i, want := range [][2]string{{"DEL", ""}, {"SET", `two\tlines`}, {"SET", "one"}} {
		if l := lines[i]; l[2] != want[0] || l[5] != want[1] || (l[4] == "log") != strings.HasSuffix(l[3], ".log") {
			t.Errorf("version %d: %q, want %s %q", i, l[0], want[0], want[1])
		}
	}
	if seq := func(i int) int { n, _ := strconv.Atoi(lines[i][1]); return n }; !(seq(0) > seq(1) && seq(1) > seq(2)) {
		t.Errorf("not newest first:\n%s", r.stdout)
	}
	if out := mustStrata(t, "", "idump", "--db", db, "--hex", "6b"); !strings.Contains(out, "\t6f6e65\n") {
		t.Errorf("idump --hex:\n%s", out)
	}
	if r := runStrata(t, "", "idump", "--db", db, "absent"); r.code != 0 || r.stdout != "" || r.stderr != "0 version(s) of absent\n" {
		t.Errorf("idump of an absent key: %s", r)
	}
	wantError(t, runStrata(t, "", "idump", "--db", filepath.Join(t.TempDir(), "missing"), "k"), 1, "no database")
}
