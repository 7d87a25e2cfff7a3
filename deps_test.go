package strata_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The import rules: which of the module's packages may import which, so
// that every layer imports only the layers below it (docs/architecture.md
// draws them). In the manner of the Go project's go/build/deps_test.go:
// TestImportRules lists every package of the module with `go list -deps`
// and fails, naming the rule, when a package imports something its rule
// does not allow. A new package needs a rule before its first test passes.
//
// Paths are relative to the module ("" is the engine, the root package).
// Standard-library imports are always allowed; other modules only where a
// rule names them.

// importRule says what the packages in pkgs may import.
type importRule struct {
	name    string   // the rule, as a failure states it
	pkgs    []string // the packages it governs
	may     []string // packages of this module they may import
	modules []string // other modules (path prefixes) they may import
	// testModules are other modules only their tests may import (peers
	// a test talks to, such as a MySQL client driver).
	testModules []string
}

// engineInternals are the engine's own packages below the root.
var engineInternals = []string{"internal/base", "internal/vfs", "internal/cache", "internal/record", "internal/rangedel",
	"internal/batch", "internal/memtable", "internal/sstable", "internal/manifest", "internal/iterator"}

var importRules = []importRule{
	{name: "keys encodes tuples for every layer and imports nothing of ours",
		pkgs: []string{"keys"}},
	{name: "the engine's leaves (keys and errors, files, the block cache, range-tombstone fragments) import nothing of ours",
		pkgs: []string{"internal/base", "internal/vfs", "internal/cache", "internal/rangedel"}},
	{name: "the tests' view of the machine (which outside tools there are) imports nothing of ours",
		pkgs: []string{"internal/testenv"}},
	{name: "the fault-injecting file system wraps vfs only",
		pkgs: []string{"internal/vfs/errorfs"}, may: []string{"internal/vfs"}},
	{name: "the log format and the batch encoding build on base only",
		pkgs: []string{"internal/record", "internal/batch"}, may: []string{"internal/base"}},
	{name: "the memtable holds entries and range tombstones, nothing of tables or versions",
		pkgs: []string{"internal/memtable"}, may: []string{"internal/base", "internal/rangedel"}},
	{name: "tables know keys, range tombstones and the block cache, not versions or the engine",
		pkgs: []string{"internal/sstable"}, may: []string{"internal/base", "internal/cache", "internal/rangedel"},
		modules: []string{"github.com/klauspost/compress"}},
	{name: "the MANIFEST package reads and writes its files through vfs and record, nothing above (a table's facts hold its range tombstones)",
		pkgs: []string{"internal/manifest"}, may: []string{"internal/base", "internal/rangedel", "internal/record", "internal/vfs"}},
	{name: "iterators merge internal iterators over versions and range tombstones, without the engine",
		pkgs: []string{"internal/iterator"}, may: []string{"internal/base", "internal/manifest", "internal/rangedel"}},
	{name: "the engine (root package) imports its internals only, never a layer above it",
		pkgs: []string{""}, may: engineInternals},
	{name: "data-engineering algorithms are clients of the engine's public API",
		pkgs: []string{"dataeng"}, may: []string{"", "keys"}},
	{name: "text formats, bulk load and export are clients of the engine's public API",
		pkgs: []string{"dataio"}, may: []string{""}},
	{name: "inspect reads the on-disk formats offline, without opening the engine",
		pkgs: []string{"inspect"}, may: []string{"dataio", "internal/base", "internal/batch",
			"internal/manifest", "internal/rangedel", "internal/record", "internal/sstable", "internal/vfs"},
		modules: []string{"golang.org/x/image"}}, // the PNG picture's font
	{name: "tools drive the engine from above, through its public API",
		pkgs: []string{"tools/dbbench", "tools/stress"}, may: []string{""}},
	{name: "the command does flags and printing over the packages below it",
		pkgs: []string{"cmd/strata"}, may: []string{"", "dataeng", "dataio", "inspect", "tools/dbbench", "tools/stress",
			"sql/kv/local", "sql/parser", "sql/server", "sql/session", "sql/types",
			"cluster/certs", "cluster/client", "cluster/clusterpb", "cluster/server"},
		modules: []string{"github.com/spf13/cobra", "github.com/schollz/progressbar", "golang.org/x/term",
			"vitess.io/vitess",         // the SQL shell's client for --connect
			"google.golang.org/grpc"}}, // the cluster commands' connections
	{name: "the SQL trees (statements, expressions) import nothing of ours, and nothing of vitess",
		pkgs: []string{"sql/ast"}},
	{name: "SQL values and types (MySQL's semantics) import nothing of ours; decimals are apd's",
		pkgs: []string{"sql/types"}, modules: []string{"github.com/cockroachdb/apd"}},
	{name: "the SQL layer's storage interface (transactions) imports nothing of ours",
		pkgs: []string{"sql/kv"}},
	{name: "the embedded store adapts the engine's transactions to the SQL layer's storage interface",
		pkgs: []string{"sql/kv/local"}, may: []string{"", "sql/kv"}},
	{name: "row and index encoding builds on keys and SQL values",
		pkgs: []string{"sql/rowcodec"}, may: []string{"keys", "sql/types"}, modules: []string{"github.com/cockroachdb/apd"}},
	{name: "the SQL catalog keeps the schema in system keys through the storage interface",
		pkgs: []string{"sql/catalog"}, may: []string{"keys", "sql/kv", "sql/types"}},
	{name: "compiled SQL expressions evaluate over SQL values, without storage",
		pkgs: []string{"sql/expr"}, may: []string{"sql/types"}, modules: []string{"github.com/cockroachdb/apd"}},
	{name: "the SQL planner binds and plans over the schema, without storage",
		pkgs: []string{"sql/plan"}, may: []string{"sql/ast", "sql/catalog", "sql/expr", "sql/types"}, modules: []string{"github.com/cockroachdb/apd"}},
	{name: "the SQL executor runs plans through the storage interface",
		pkgs: []string{"sql/exec"}, may: []string{"keys", "sql/catalog", "sql/expr", "sql/kv", "sql/plan", "sql/rowcodec", "sql/types"}, modules: []string{"github.com/cockroachdb/apd"}},
	{name: "the SQL parser is the only importer of vitess's parser",
		pkgs: []string{"sql/parser"}, may: []string{"sql/ast"},
		modules: []string{"vitess.io/vitess"}},
	{name: "a SQL session parses, plans and executes statements over the storage interface",
		pkgs: []string{"sql/session"}, may: []string{"keys", "sql/ast", "sql/catalog", "sql/exec", "sql/expr", "sql/kv", "sql/parser", "sql/plan", "sql/types"}},
	{name: "the sqllogictest runner reads the corpus format and talks to a database through an interface (its tests run it on an embedded session)",
		pkgs: []string{"sql/sqllogictest"}, may: []string{"sql/session"}},
	{name: "the MySQL wire server serves sessions with vitess's protocol side; its tests talk to it with a real client driver",
		pkgs: []string{"sql/server"}, may: []string{"sql/catalog", "sql/expr", "sql/kv", "sql/parser", "sql/session", "sql/sqllogictest", "sql/types"},
		modules: []string{"vitess.io/vitess", "github.com/cockroachdb/apd"}, testModules: []string{"github.com/go-sql-driver/mysql"}},
	{name: "the database/sql driver runs sessions over a database opened in the process",
		pkgs: []string{"sql/driver"}, may: []string{"", "sql/kv/local", "sql/session", "sql/types"}},
	{name: "the cluster's root package documents the layer and imports nothing",
		pkgs: []string{"cluster"}},
	{name: "the cluster's wire and log formats are generated protocol buffers over etcd raft's messages",
		pkgs: []string{"cluster/clusterpb"}, modules: []string{"google.golang.org/protobuf", "google.golang.org/grpc", "go.etcd.io/raft/v3"}},
	{name: "the raft store replicates regions of one node's engine with etcd raft; it knows no network (a Transport carries its messages)",
		pkgs: []string{"cluster/raftstore"}, may: []string{"", "cluster/clusterpb"},
		modules: []string{"google.golang.org/protobuf", "go.etcd.io/raft/v3"}, testModules: []string{"github.com/anishathalye/porcupine"}},
	{name: "the simulated network drives raft stores in one process, seeded (drop, delay, duplicate, reorder, partition)",
		pkgs: []string{"cluster/sim"}, may: []string{"", "cluster/clusterpb", "cluster/raftstore"},
		modules: []string{"google.golang.org/protobuf", "go.etcd.io/raft/v3"}, testModules: []string{"github.com/anishathalye/porcupine"}},
	{name: "the cluster's certificates (a local CA, node and client certificates, TLS configurations from files) are the standard library's crypto only",
		pkgs: []string{"cluster/certs"}},
	{name: "the transport carries raft messages and client requests between processes with gRPC (TLS optional)",
		pkgs: []string{"cluster/transport"}, may: []string{"cluster/clusterpb", "cluster/certs"},
		modules: []string{"google.golang.org/protobuf", "google.golang.org/grpc", "go.etcd.io/raft/v3"}},
	{name: "the cluster's Go client talks to nodes with gRPC only (region cache, retries); it knows no server code",
		pkgs: []string{"cluster/client"}, may: []string{"cluster/clusterpb"},
		modules: []string{"google.golang.org/protobuf", "google.golang.org/grpc", "go.etcd.io/raft/v3"}},
	{name: "the placement driver keeps its state in the system key space through a KV interface (the client's), and schedules as a pure function",
		pkgs: []string{"cluster/pd"}, may: []string{"cluster/client", "cluster/clusterpb"},
		modules: []string{"google.golang.org/protobuf", "google.golang.org/grpc", "go.etcd.io/raft/v3"}},
	{name: "a cluster node wires the raft store, the transport, the placement driver and the client together",
		pkgs: []string{"cluster/server"}, may: []string{"", "cluster/certs", "cluster/client", "cluster/clusterpb", "cluster/pd", "cluster/raftstore", "cluster/transport"},
		modules: []string{"google.golang.org/protobuf", "google.golang.org/grpc", "go.etcd.io/raft/v3"}, testModules: []string{"github.com/anishathalye/porcupine"}},
	{name: "examples use the public API only",
		pkgs: []string{"examples/quickstart"}, may: []string{""}},
}

// testOnly are packages any test of the module may import besides what its
// package may: the engine, to build a test's fixtures (inspect's tests write
// the databases they inspect; Go itself refuses the cycle for the engine's
// own internal packages), the fault-injecting file system, testenv, and
// the SQL layer's embedded store (the SQL packages' tests run over it).
var testOnly = []string{"", "internal/vfs/errorfs", "internal/testenv", "sql/kv/local"}

// listedPackage is what TestImportRules reads of `go list -json`.
type listedPackage struct {
	ImportPath string
	Module     *struct {
		Path string
		Main bool
	}
	Standard     bool
	Imports      []string
	TestImports  []string
	XTestImports []string
}

func TestImportRules(t *testing.T) {
	pkgs := goListDeps(t)
	module := ""
	for _, p := range pkgs {
		if p.Module != nil && p.Module.Main {
			module = p.Module.Path
		}
	}
	if module == "" {
		t.Fatal("go list found no root package of the module")
	}
	rules := map[string]*importRule{}
	for i := range importRules {
		for _, p := range importRules[i].pkgs {
			if rules[p] != nil {
				t.Fatalf("package %q has two rules", p)
			}
			rules[p] = &importRules[i]
		}
	}
	rel := func(path string) (string, bool) {
		if path == module {
			return "", true
		}
		r, ok := strings.CutPrefix(path, module+"/")
		return r, ok
	}
	seen := map[string]bool{}
	for _, p := range pkgs {
		name, ours := rel(p.ImportPath)
		if !ours || p.Module == nil || p.Module.Path != module {
			continue
		}
		seen[name] = true
		r := rules[name]
		if r == nil {
			t.Errorf("package %s has no import rule: add one to importRules in deps_test.go (and its place to docs/architecture.md)", show(name))
			continue
		}
		check := func(imports []string, extra []string, what string) {
			modules := r.modules
			if what != "" {
				modules = append(slices.Clone(r.modules), r.testModules...)
			}
			for _, imp := range imports {
				if to, ours := rel(imp); ours {
					if to == name || slices.Contains(r.may, to) || slices.Contains(extra, to) {
						continue
					}
					t.Errorf("%s%s imports %s: not allowed by the rule %q (it may import: %s)",
						show(name), what, show(to), r.name, showAll(r.may))
				} else if !isStandard(imp) && !slices.ContainsFunc(modules, func(m string) bool {
					return imp == m || strings.HasPrefix(imp, m+"/")
				}) {
					t.Errorf("%s%s imports %s: another module, not allowed by the rule %q (it may import: %s)",
						show(name), what, imp, r.name, strings.Join(append([]string{"the standard library"}, modules...), ", "))
				}
			}
		}
		check(p.Imports, nil, "")
		check(p.TestImports, testOnly, " (in its tests)")
		// An external test package (package x_test) may import the
		// packages that import x, directly or through others, to test x as
		// they use it (the engine's fuzz test checks its reads against
		// inspect.Check, which reaches the engine through dataio).
		check(p.XTestImports, append(slices.Clone(testOnly), importersOf(name, rules)...), " (in its external tests)")
	}
	for _, r := range importRules {
		for _, p := range r.pkgs {
			if !seen[p] {
				t.Errorf("the rule %q names %s, which go list did not find: remove it", r.name, show(p))
			}
		}
	}
}

// importersOf lists the packages whose rule lets them import pkg, directly
// or through other packages.
func importersOf(pkg string, rules map[string]*importRule) []string {
	out := []string{}
	for todo := []string{pkg}; len(todo) > 0; todo = todo[1:] {
		for p, r := range rules {
			if slices.Contains(r.may, todo[0]) && !slices.Contains(out, p) {
				out = append(out, p)
				todo = append(todo, p)
			}
		}
	}
	return out
}

// goListDeps runs `go list -deps -test -json ./...` in the module root.
func goListDeps(t *testing.T) []listedPackage {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("go is not on PATH: %v", err)
		}
		t.Skipf("go is not on PATH: %v", err)
	}
	cmd := exec.Command(gobin, "list", "-deps", "-json=ImportPath,Module,Standard,Imports,TestImports,XTestImports", "./...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// isStandard reports whether an import path is the standard library's: its
// first element has no dot.
func isStandard(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

func show(p string) string {
	if p == "" {
		return "the engine (root package)"
	}
	return p
}

func showAll(ps []string) string {
	if len(ps) == 0 {
		return "nothing of this module"
	}
	var out []string
	for _, p := range ps {
		out = append(out, show(p))
	}
	return strings.Join(out, ", ")
}
