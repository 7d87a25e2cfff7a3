package strata_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-db/strata/internal/testenv"
)

// TestFSFromAnotherModule: a program in a module of its own
// (testdata/userfs) implements strata.FS and strata.File method by method
// and opens a database through them. It builds against this checkout only
// if the interfaces name nothing a package outside the module cannot
// (internal packages, unexported types); it runs offline, from the module
// cache the tests were built with.
func TestFSFromAnotherModule(t *testing.T) {
	goTool, err := exec.LookPath("go")
	testenv.Require(t, "the go command", err)
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	mod := t.TempDir()
	gomod := "module example.com/userfs\n\ngo 1.26\n\nrequire github.com/strata-db/strata v0.0.0\n\n" +
		"replace github.com/strata-db/strata => " + root + "\n"
	if err := os.WriteFile(filepath.Join(mod, "go.mod"), []byte(gomod), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct{ from, to string }{{"go.sum", "go.sum"}, {"testdata/userfs/main.go", "main.go"}} {
		b, err := os.ReadFile(f.from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(mod, f.to), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(goTool, "run", ".", t.TempDir())
	cmd.Dir = mod
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off", "GOTOOLCHAIN=local")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go run testdata/userfs in a module of its own: %v\n%s", err, out)
	}
	if want := "key0999 = value 999; bytes written through countFS: true\n"; !strings.HasSuffix(string(out), want) {
		t.Fatalf("userfs printed %q, want %q", out, want)
	}
}
