package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestCheckpointCmd: `strata checkpoint` writes a copy that scans and
// checks as the database does, its tables hard links to the database's,
// and says so; it refuses a directory that is not empty, and a missing
// --to is a usage error.
func TestCheckpointCmd(t *testing.T) {
	db := makeDB(t)
	to := filepath.Join(t.TempDir(), "backup")
	out := mustStrata(t, "", "checkpoint", "--db", db, "--to", to)
	re := regexp.MustCompile(`^checkpoint of .* written to .* in [0-9.]+ s: (\d+) table\(s\), [0-9.]+ [KM]iB; (\d+) hard-linked to the database's, 0 copied\n$`)
	m := re.FindStringSubmatch(out)
	if m == nil || m[1] == "0" || m[1] != m[2] {
		t.Fatalf("checkpoint: %q", out)
	}
	if got, want := mustStrata(t, "", "scan", "--db", to), mustStrata(t, "", "scan", "--db", db); got != want {
		t.Fatalf("the checkpoint scans as %d bytes, the database as %d", len(got), len(want))
	}
	if !strings.Contains(mustStrata(t, "", "scan", "--db", to), "log09\tin the log") {
		t.Fatal("the checkpoint lacks the writes the database's log held")
	}
	if out := mustStrata(t, "", "check", "--db", to); !strings.HasSuffix(out, ": OK\n") {
		t.Fatalf("check of the checkpoint: %q", out)
	}

	r := runStrata(t, "", "checkpoint", "--db", db, "--to", to)
	if r.code != 1 || !strings.Contains(r.stderr, "not empty") {
		t.Fatalf("checkpoint into a checkpoint: %s", r)
	}
	if entries, _ := os.ReadDir(to); len(entries) == 0 {
		t.Fatal("the refused checkpoint emptied the directory")
	}
	if r := runStrata(t, "", "checkpoint", "--db", db); r.code != 2 || !strings.Contains(r.stderr, `"to" not set`) {
		t.Fatalf("checkpoint without --to: %s", r)
	}
}
