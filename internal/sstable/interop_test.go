package sstable

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/testenv"
)

// TestCppLevelDBReadsTables writes tables with Strata's writer in four
// configurations and has C++ LevelDB 1.23 read them: testdata/cpp_read_table.cc,
// built here against libleveldb, opens each with its own Table class
// (paranoid checks, checksums verified), prints every entry and seeks to
// each key; its output must be exactly the entries written. Locally it
// skips without g++ and libleveldb-dev; with CI=true it must run.
// STRATA_SSTABLE_INTEROP_DIR keeps the tables and their dumps there.
func TestCppLevelDBReadsTables(t *testing.T) {
	checker := buildCppReadTable(t)
	dir := os.Getenv("STRATA_SSTABLE_INTEROP_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	var entries []kv
	for i := range 5000 {
		ukey := fmt.Appendf(nil, "user%08d", i*3)
		kind := base.KindSet
		if i%17 == 0 {
			kind = base.KindDelete
		}
		v := make([]byte, rng.IntN(200))
		for j := range v {
			v[j] = "abcdefgh"[rng.IntN(8)]
		}
		if i%100 == 0 {
			v = make([]byte, 20000) // larger than a block
		}
		entries = append(entries, kv{base.AppendInternalKey(nil, ukey, uint64(10000+i), kind), v})
	}
	for _, o := range []WriterOptions{
		{Compression: SnappyCompression, BloomBitsPerKey: 10},
		{Compression: NoCompression, BloomBitsPerKey: 10, BlockSize: 1024, BlockRestartInterval: 4},
		{Compression: SnappyCompression, BlockSize: 64 << 10, BlockRestartInterval: 32},
		{Compression: SnappyCompression, BlockSize: 100, BlockRestartInterval: 1, BloomBitsPerKey: 3},
	} {
		name := fmt.Sprintf("strata_%s_b%d_r%d_bloom%d", o.Compression, o.BlockSize, o.BlockRestartInterval, o.BloomBitsPerKey)
		data := writeTable(t, entries, o)
		var want strings.Builder
		for _, e := range entries {
			fmt.Fprintf(&want, "%x %x\n", e.k, e.v)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".ldb"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".want"), []byte(want.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd := exec.Command(checker, filepath.Join(dir, name+".ldb"))
		cmd.Stderr = &stderr
		got, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: C++ LevelDB: %v\n%s", name, err, stderr.String())
		}
		if string(got) != want.String() {
			g, w := strings.Split(string(got), "\n"), strings.Split(want.String(), "\n")
			i := 0
			for i < len(g) && i < len(w) && g[i] == w[i] {
				i++
			}
			t.Fatalf("%s: C++ LevelDB reads %d lines, want %d; line %d differs:\n got %.200s\nwant %.200s",
				name, len(g), len(w), i+1, lineAt(g, i), lineAt(w, i))
		}
	}
}

func lineAt(lines []string, i int) string {
	if i < len(lines) {
		return lines[i]
	}
	return "(end)"
}

// buildCppReadTable compiles testdata/cpp_read_table.cc against C++
// LevelDB (testenv.CppLevelDB: skipped where missing, except in CI).
func buildCppReadTable(t *testing.T) string {
	t.Helper()
	gxx := testenv.CppLevelDB(t, "/usr/include/leveldb/table.h")
	bin := filepath.Join(t.TempDir(), "cpp_read_table")
	out, err := exec.Command(gxx, "-O1", "-o", bin, filepath.Join("testdata", "cpp_read_table.cc"), "-lleveldb").CombinedOutput()
	if err != nil {
		t.Fatalf("building the C++ table reader: %v\n%s", err, out)
	}
	return bin
}
