package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// writeInput writes n TSV entries of about 120 bytes to a file.
func writeInput(t *testing.T, n int) string {
	t.Helper()
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, "key%09d\t%0100d\n", (i*7919)%n, i)
	}
	path := filepath.Join(t.TempDir(), "in.tsv")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// stagingDirs lists the strata-load-* directories in dir.
func stagingDirs(dir string) []string {
	m, _ := filepath.Glob(filepath.Join(dir, "strata-load-*"))
	return m
}

// TestLoadKilledIsAllOrNothing: a load killed (SIGKILL) while it writes
// leaves the database as it was — no entry of the input — and its staging
// directory, which the next command that opens the database for writing
// removes, saying so. Loads through tables (one loader and --parallel);
// the kill comes once the load has started writing: its staging directory
// exists.
func TestLoadKilledIsAllOrNothing(t *testing.T) {
	n := 400_000
	if testing.Short() {
		n = 150_000
	}
	input := writeInput(t, n)
	for _, mode := range [][]string{nil, {"--parallel", "2"}} {
		t.Run(fmt.Sprint(mode), func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "db")
			mustStrata(t, "", "put", "--db", db, "existing", "yes")
			cmd := exec.Command(strataBin, append(append([]string{"load", "--db", db}, mode...), input)...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			// The load writes its tables in a staging directory: once
			// one exists, it is writing. (Reading the log while the
			// loader creates it gave false starts: a log caught empty or
			// half written read as grown.)
			writing := func() bool { return len(stagingDirs(db)) > 0 }
			deadline := time.Now().Add(60 * time.Second)
			killed := false
		poll:
			for time.Now().Before(deadline) {
				select {
				case err := <-done:
					t.Fatalf("the load ended (%v) before it could be killed while writing: %s", err, stderr.String())
				default:
				}
				if writing() {
					cmd.Process.Signal(syscall.SIGKILL)
					killed = true
					break poll
				}
				time.Sleep(2 * time.Millisecond)
			}
			if !killed {
				cmd.Process.Kill()
				t.Fatal("the load never started writing")
			}
			<-done
			staged := stagingDirs(db)
			// The database is as it was: the one entry put before.
			if got := mustStrata(t, "", "scan", "--db", db, "--keys-only", "--limit", "3"); got != "existing\n" {
				t.Fatalf("after a killed load the database holds %q..., want only the entry put before", got)
			}
			if len(staged) == 0 {
				t.Fatal("the killed load left no staging directory: was it killed while writing tables?")
			}
			r := runStrata(t, "", "put", "--db", db, "after", "kill")
			if r.code != 0 || !strings.Contains(r.stderr, "strata: removed "+staged[0]+" (") ||
				!strings.Contains(r.stderr, "the staging directory of a load that was killed") {
				t.Fatalf("put after the kill: %s", r)
			}
			if left := stagingDirs(db); len(left) > 0 {
				t.Fatalf("staging directories left: %v", left)
			}
			// And a load that is not killed loads everything.
			mustStrata(t, "", append(append([]string{"load", "--db", db}, mode...), input)...)
			out := mustStrata(t, "", "scan", "--db", db, "--count")
			if !strings.Contains(out, fmt.Sprintf("entries=%d\t", n+2)) {
				t.Fatalf("after a full load: %s", out)
			}
		})
	}
}

// TestLoadProgressShowsEveryPhase: on a terminal, load shows a bar for the
// write phases as well as for validation.
func TestLoadProgressShowsEveryPhase(t *testing.T) {
	input := writeInput(t, 300_000) // validation takes long enough to show
	for _, tc := range []struct {
		mode []string
		want []string
	}{
		{nil, []string{"validating", "sorting", "writing tables", "ingesting"}},
		{[]string{"--batches"}, []string{"validating", "writing"}},
	} {
		var out, errb bytes.Buffer
		e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, progressAlways: true}
		db := filepath.Join(t.TempDir(), "db")
		if code := e.run(append(append([]string{"load", "--db", db}, tc.mode...), input)); code != 0 {
			t.Fatalf("load %v: exit %d: %s", tc.mode, code, errb.String())
		}
		for _, w := range tc.want {
			if !strings.Contains(errb.String(), w) {
				t.Errorf("load %v: no %q bar in %q", tc.mode, w, errb.String())
			}
		}
	}
}

// TestLoadRealWorldInput: csv with a header and a byte order mark, tsv by
// column numbers, jsonl with named fields and plain strings; the old jsonl
// form still loads.
func TestLoadRealWorldInput(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args  []string
		input string
		want  string
	}{
		{[]string{"--format", "csv", "--header", "--key-field", "email"},
			"\uFEFFname,email,city\r\nAda,ada@example.com,Lisbon\r\n\"Ken, T.\",ken@example.com,Osaka\r\n",
			"ada@example.com\tAda\\tLisbon\nken@example.com\tKen, T.\\tOsaka\n"},
		{[]string{"--format", "csv", "--header", "--key-field", "email", "--value-field", "city"},
			"name,email,city\nAda,ada@example.com,Lisbon\n",
			"ada@example.com\tLisbon\n"},
		{[]string{"--key-column", "2", "--value-columns", "3,1"},
			"1\tb\\x\tz\n2\ta\ty\n",
			"a\ty\\t2\nb\\\\x\tz\\t1\n"},
		{[]string{"--format", "jsonl", "--key-field", "id", "--value-fields", "name,n"},
			`{"id":"u1","name":"Zoë","n":3}` + "\n" + `{"id":2,"name":"Al","n":[1,2]}` + "\n",
			"2\tAl\\t[1,2]\nu1\tZoë\\t3\n"},
		{[]string{"--format", "jsonl", "--key-field", "id"},
			`{"id":"u1", "x": true}` + "\n",
			"u1\t{\"id\":\"u1\", \"x\": true}\n"},
		{[]string{"--format", "jsonl"}, "\uFEFF" + `{"key":"YQ==","value":"Yg=="}` + "\n", "a\tb\n"},
		{nil, "\uFEFFfirst\tkey\n", "first\tkey\n"},
	} {
		db := filepath.Join(dir, fmt.Sprint(len(tc.args), tc.want[:3]))
		mustStrata(t, tc.input, append(append([]string{"load", "--db", db}, tc.args...), "-")...)
		if got := mustStrata(t, "", "scan", "--db", db); got != tc.want {
			t.Errorf("load %v:\n got %q\nwant %q", tc.args, got, tc.want)
		}
	}
	db := filepath.Join(dir, "errors")
	wantError(t, runStrata(t, "", "load", "--db", db, "--key-field", "id", "-"), 2, "needs a header")
	wantError(t, runStrata(t, "", "load", "--db", db, "--format", "jsonl", "--header", "-"), 2, "jsonl has no columns")
	wantError(t, runStrata(t, "a\tb\tc\nd\te\n", "load", "--db", db, "--key-column", "1", "-"), 1, "line 2: 2 fields, but the first record has 3")
}
