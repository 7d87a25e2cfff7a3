// Package testenv says what the machine offers the tests that need an
// outside tool: such a test skips where the tool is missing, except in CI
// (CI=true), where it must run and fails instead. It also meters the
// process's CPU time for benchmarks (CPUMeter).
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// Require skips t, or fails it when CI=true, if err (what finding what
// the test needs returned) is not nil.
func Require(t testing.TB, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required in CI: %v", what, err)
	}
	t.Skipf("%s not available: %v", what, err)
}

// CppLevelDB returns the path of g++ for building a program against C++
// LevelDB (libleveldb-dev), after checking that the given files of the
// package (headers, libraries) exist; see Require for when they do not.
func CppLevelDB(t testing.TB, files ...string) string {
	t.Helper()
	gxx, err := exec.LookPath("g++")
	Require(t, "g++", err)
	for _, p := range files {
		_, err := os.Stat(p)
		Require(t, "C++ LevelDB (libleveldb-dev)", err)
	}
	return gxx
}
