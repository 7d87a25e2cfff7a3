package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
		"stats", "check", "repair", "sst", "manifest", "wal", "lsm", "demo", "bench", "stress", "setops", "groupby"} {
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
