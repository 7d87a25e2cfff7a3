package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

// The tests run the real command two ways: in process through run (the
// same entry point main uses, with captured stdin, stdout and stderr), and,
// for exit codes and what a user sees on errors, the binary built once in
// TestMain.

var strataBin string // the built binary

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "strata-cmd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	strataBin = filepath.Join(dir, "strata")
	build := exec.Command("go", "build", "-o", strataBin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build strata:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// runStrata runs the command in process with stdin as its input.
func runStrata(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errb)
	return result{code, out.String(), errb.String()}
}

// mustStrata is runStrata, failing the test unless the command succeeds.
func mustStrata(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	r := runStrata(t, stdin, args...)
	if r.code != 0 {
		t.Fatalf("strata %s: %s", strings.Join(args, " "), r)
	}
	return r.stdout
}

// strataExec runs the built binary.
func strataExec(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(strataBin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %s: %v", strataBin, err)
	}
	return result{code, out.String(), errb.String()}
}

// wantError checks a failed command: the exit code, one line on stderr
// containing want, and no Go stack trace.
func wantError(t *testing.T, r result, code int, want string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit %d, want %d\n%s", r.code, code, r)
	}
	lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	if len(lines) != 1 || !strings.HasSuffix(r.stderr, "\n") {
		t.Errorf("stderr is not exactly one line:\n%s", r.stderr)
	}
	if !strings.Contains(r.stderr, want) {
		t.Errorf("stderr %q does not mention %q", r.stderr, want)
	}
	if strings.Contains(r.stderr, "goroutine ") || strings.Contains(r.stderr, "panic") {
		t.Errorf("stack trace on stderr:\n%s", r.stderr)
	}
}

func TestHelpListsEveryCommand(t *testing.T) {
	out := mustStrata(t, "", "help")
	for _, name := range []string{"put", "get", "delete", "scan", "load", "export", "compact", "flush",
		"stats", "check", "repair", "sst", "manifest", "wal", "lsm", "demo", "bench", "stress", "setops", "groupby", "completion", "approxsize", "property", "idump", "checkpoint", "delete-range", "merge"} {
		if !strings.Contains(out, "\n  "+name+" ") {
			t.Errorf("help does not list %s:\n%s", name, out)
		}
	}
}

func TestOneLine(t *testing.T) {
	if got := oneLine("a\n  b\nc  d\n"); got != "a; b; c  d" {
		t.Fatalf("oneLine: %q", got)
	}
}

// TestTypoHint: an unknown command gets one "did you mean" and no empty
// parts (cobra's message has blank lines).
func TestTypoHint(t *testing.T) {
	r := runStrata(t, "", "scna")
	wantError(t, r, 2, `unknown command "scna" for "strata"; did you mean scan? (see strata help)`)
	if strings.Contains(r.stderr, "; ;") || strings.Contains(r.stderr, "?;") {
		t.Errorf("stderr %q has empty parts", r.stderr)
	}
	if got := oneLine("a\n\nDid you mean this?\n\tstats\n\tstat\n"); got != "a; did you mean stats or stat?" {
		t.Errorf("oneLine with two suggestions: %q", got)
	}
}

// TestVersion: --version prints the module version from the build
// information, and the VCS revision when the build recorded one.
func TestVersion(t *testing.T) {
	out := mustStrata(t, "", "--version")
	if !strings.HasPrefix(out, "strata version ") || !strings.Contains(out, ", built with go") {
		t.Errorf("--version: %q", out)
	}
	bi := &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Path: "github.com/strata-db/strata", Version: "v0.4.0"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "d32bc59"}, {Key: "vcs.time", Value: "2026-01-02T03:04:05Z"}, {Key: "vcs.modified", Value: "true"}}}
	if got, want := version(bi, true), "v0.4.0, revision d32bc59 of 2026-01-02T03:04:05Z with local changes, built with go1.26.0"; got != want {
		t.Errorf("version: %q, want %q", got, want)
	}
	if got := version(nil, false); !strings.HasPrefix(got, "unknown") {
		t.Errorf("version without build information: %q", got)
	}
}

// TestCompletion: cobra's completion command is there and writes scripts
// that know the commands.
func TestCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		if out := mustStrata(t, "", "completion", shell); !strings.Contains(out, "strata") || len(out) < 500 {
			t.Errorf("completion %s: %.200q", shell, out)
		}
	}
	out := mustStrata(t, "", "__complete", "sc")
	if !strings.Contains(out, "scan\t") {
		t.Errorf("completing \"sc\": %q", out)
	}
}

// TestCorruptionHint: every command that meets damage ends its error with
// what to run, naming the database directory.
func TestCorruptionHint(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "my db")
	mustStrata(t, "", "put", "--db", dir, "k", "v")
	mustStrata(t, "", "flush", "--db", dir)
	tables, _ := filepath.Glob(filepath.Join(dir, "*.ldb"))
	if len(tables) != 1 {
		t.Fatalf("tables: %v", tables)
	}
	flipByte(t, tables[0], 3)
	full := "; run `strata check --db '" + dir + "'` to list the damage; `strata repair --db '" + dir + "'` rebuilds the database\n"
	for _, args := range [][]string{{"get", "--db", dir, "k"}, {"scan", "--db", dir}, {"export", "--db", dir}, {"sst", tables[0]}} {
		r := runStrata(t, "", args...)
		wantError(t, r, 1, "checksum mismatch")
		if !strings.HasSuffix(r.stderr, full) {
			t.Errorf("%v: stderr %q does not end with the hint", args, r.stderr)
		}
	}
	r := runStrata(t, "", "check", "--db", dir)
	wantError(t, r, 1, "1 problem(s)")
	if !strings.HasSuffix(r.stderr, "; `strata repair --db '"+dir+"'` rebuilds the database\n") || strings.Contains(r.stderr, "strata check --db") {
		t.Errorf("check: stderr %q", r.stderr)
	}
	if got := shellQuote("it's"); got != `'it'\''s'` {
		t.Errorf("shellQuote: %s", got)
	}
}

// TestCreateOnlyLastComponent: commands that create a database make only
// the last component of its path, as mkdir does.
func TestCreateOnlyLastComponent(t *testing.T) {
	dir := t.TempDir()
	deep := filepath.Join(dir, "no", "such", "db")
	for _, args := range [][]string{{"put", "--db", deep, "k", "v"}, {"delete", "--db", deep, "k"}, {"load", "--db", deep, "-"}} {
		wantError(t, runStrata(t, "k\tv\n", args...), 1, "its parent directory "+filepath.Join(dir, "no", "such")+" does not exist")
		if _, err := os.Stat(filepath.Join(dir, "no")); !os.IsNotExist(err) {
			t.Fatalf("%v created a parent: %v", args, err)
		}
	}
	wantError(t, runStrata(t, "", "demo", "--dir", deep, "--n", "10"), 1, "does not exist")
	mustStrata(t, "", "put", "--db", filepath.Join(dir, "db"), "k", "v")
	if got := mustStrata(t, "", "get", "--db", filepath.Join(dir, "db"), "k"); got != "v\n" {
		t.Errorf("get: %q", got)
	}
}
