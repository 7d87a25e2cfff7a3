package main

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPutGetDelete(t *testing.T) {
	db := filepath.Join(t.TempDir(), "db")
	mustStrata(t, "", "put", "--db", db, "--sync", "greeting", "hello world")
	mustStrata(t, "", "put", "--db", db, `bin\x00\xff`, `tab\there`)
	mustStrata(t, "", "put", "--db", db, "--hex", "00ff", "")
	if got := mustStrata(t, "", "get", "--db", db, "greeting"); got != "hello world\n" {
		t.Errorf("get greeting: %q", got)
	}
	if got := mustStrata(t, "", "get", "--db", db, `bin\x00\xff`); got != `tab\there`+"\n" {
		t.Errorf("get escaped key: %q", got)
	}
	if got := mustStrata(t, "", "get", "--db", db, "--hex", "62696e00ff"); got != "7461620968657265\n" {
		t.Errorf("get --hex: %q", got)
	}
	if got := mustStrata(t, "", "get", "--db", db, "--hex", "00ff"); got != "\n" {
		t.Errorf("get of an empty value: %q", got)
	}
	mustStrata(t, "", "delete", "--db", db, "greeting")
	r := runStrata(t, "", "get", "--db", db, "greeting")
	if r.code != 1 || r.stderr != "not found\n" || r.stdout != "" {
		t.Errorf("get of a deleted key: %s", r)
	}
	mustStrata(t, "", "delete", "--db", db, "never-there") // not an error
	// delete creates a missing database, as put does.
	db2 := filepath.Join(t.TempDir(), "db2")
	mustStrata(t, "", "delete", "--db", db2, "x")
	if _, err := os.Stat(filepath.Join(db2, "CURRENT")); err != nil {
		t.Errorf("delete did not create the database: %v", err)
	}
}

func TestCommandLineErrors(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "db")
	mustStrata(t, "", "put", "--db", db, "k", "v")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"get", "--db", filepath.Join(dir, "missing"), "k"}, 1, "database does not exist"},
		{[]string{"scan", "--db", filepath.Join(dir, "missing")}, 1, "database does not exist"},
		{[]string{"stats", "--db", filepath.Join(dir, "missing")}, 1, "does not exist"},
		{[]string{"compact", "--db", filepath.Join(dir, "missing")}, 1, "does not exist"},
		{[]string{"flush", "--db", filepath.Join(dir, "missing")}, 1, "does not exist"},
		{[]string{"check", "--db", filepath.Join(dir, "missing")}, 1, "no database"},
		{[]string{"lsm", "--db", filepath.Join(dir, "missing")}, 1, "no database"},
		{[]string{"export", "--db", filepath.Join(dir, "missing")}, 1, "database does not exist"},
		{[]string{"manifest", "--db", filepath.Join(dir, "missing")}, 1, "no database"},
		{[]string{"get", "--db", db}, 2, "want KEY"},
		{[]string{"get", "k"}, 2, `required flag(s) "db" not set`},
		{[]string{"scan", "--db", db, "--format", "xml"}, 2, "want text, hex or json"},
		{[]string{"scan", "--db", db, "--limit", "x"}, 2, "invalid argument"},
		{[]string{"scan", "--db", db, "--nope"}, 2, "unknown flag: --nope"},
		{[]string{"get", "--db", db, "--hex", "zz"}, 2, "invalid hex"},
		{[]string{"get", "--db", db, `a\q`}, 2, "unknown escape"},
		{[]string{"export", "--db", db, "--format", "xml"}, 2, "unknown format"},
		{[]string{"load", "--db", db, "--batches", "--batch", "0", "-"}, 2, "--batch 0"},
		{[]string{"load", "--db", db, "--parallel", "-1", "-"}, 2, "--parallel -1: must be >= 1"},
		{[]string{"load", "--db", db, "--parallel", "0", "-"}, 2, "--parallel 0: must be >= 1"},
		{[]string{"load", "--db", db, "--batch", "5", "-"}, 2, "--batch applies only with --batches"},
		{[]string{"load", "--db", db, "--batches", "--parallel", "2", "-"}, 2, "exclude each other"},
		{[]string{"frobnicate"}, 2, "unknown command"},
		{[]string{"wal", dir}, 1, "is a directory"},
		{[]string{"sst", filepath.Join(dir, "nope.ldb")}, 1, "no such file"},
		{[]string{"demo", "--n", "3"}, 2, "at least 10"},
		{[]string{"lsm", "--db", db, "--width", "0"}, 2, "--width 0: must be at least 20"},
		{[]string{"scan", "--db", db, "--from", "b", "--to", "a"}, 2, "--from b comes after --to a"},
		{[]string{"export", "--db", db, "--from", "b", "--to", "a"}, 2, "--from b comes after --to a"},
		{[]string{"compact", "--db", db, "--from", "b", "--to", "a"}, 2, "--from b comes after --to a"},
		{[]string{"export", "--db", db, "--limit", "-1"}, 2, "--limit -1"},
	} {
		r := runStrata(t, "", tc.args...)
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) { wantError(t, r, tc.code, tc.want) })
	}
	// Read-only commands on a missing database create nothing.
	if _, err := os.Stat(filepath.Join(dir, "missing")); !os.IsNotExist(err) {
		t.Errorf("a read-only command created the missing database: %v", err)
	}
}

// TestErrorsFromBinary runs the built binary on each kind of error the
// issue lists: one clear line on stderr, a non-zero exit, no stack trace,
// and the database left as it was.
func TestErrorsFromBinary(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "db")
	if r := strataExec(t, "", "put", "--db", db, "k", "v"); r.code != 0 {
		t.Fatal(r)
	}
	wantError(t, strataExec(t, "", "get", "--db", filepath.Join(dir, "missing"), "k"), 1, "database does not exist")
	wantError(t, strataExec(t, "", "get", "--db", db, "absent"), 1, "not found")
	wantError(t, strataExec(t, "", "scan", "--db", db, "--limit=-"), 2, "invalid argument")
	wantError(t, strataExec(t, "k\tv\nno tab\n", "load", "--db", db, "-"), 1, "line 2: no tab")

	// A locked database: the test process holds it open.
	held, err := openWriteDB(db, false)
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, strataExec(t, "", "put", "--db", db, "k2", "v2"), 1, "database is in use")
	// Readers do not need the lock.
	if r := strataExec(t, "", "get", "--db", db, "k"); r.code != 0 || r.stdout != "v\n" {
		t.Errorf("get beside a writer: %s", r)
	}
	held.Close()

	// A corrupt file.
	if r := strataExec(t, "", "flush", "--db", db); r.code != 0 {
		t.Fatal(r)
	}
	tables, _ := filepath.Glob(filepath.Join(db, "*.ldb"))
	if len(tables) == 0 {
		t.Fatal("no table after flush")
	}
	flipByte(t, tables[0], 3)
	wantError(t, strataExec(t, "", "check", "--db", db), 1, filepath.Base(tables[0])+" at offset 0")
	wantError(t, strataExec(t, "", "get", "--db", db, "k"), 1, "corruption")
}

func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if off < 0 {
		off += int64(len(b))
	}
	b[off] ^= 0xff
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestScan(t *testing.T) {
	db := filepath.Join(t.TempDir(), "db")
	var in strings.Builder
	for _, kv := range [][2]string{{"a", "1"}, {"ab", "2"}, {"abc", `x\ty`}, {"b", "3"}, {`b\xff`, `\x00`}, {"c", ""}} {
		fmt.Fprintf(&in, "%s\t%s\n", kv[0], kv[1])
	}
	mustStrata(t, in.String(), "load", "--db", db, "-")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "a\t1\nab\t2\nabc\tx\\ty\nb\t3\nb\\xff\t\\x00\nc\t\n"},
		{[]string{"--prefix", "ab"}, "ab\t2\nabc\tx\\ty\n"},
		{[]string{"--from", "ab", "--to", "b"}, "ab\t2\nabc\tx\\ty\n"},
		{[]string{"--from", "b", "--reverse"}, "c\t\nb\\xff\t\\x00\nb\t3\n"},
		{[]string{"--reverse", "--limit", "2", "--keys-only"}, "c\nb\\xff\n"},
		{[]string{"--prefix", `b\xff`, "--keys-only"}, "b\\xff\n"},
		{[]string{"--format", "hex", "--prefix", "b"}, "62\t33\n62ff\t00\n"},
		{[]string{"--hex", "--prefix", "62ff"}, "62ff\t00\n"},
		{[]string{"--hex", "--from", "61", "--to", "6162"}, "61\t31\n"},
		{[]string{"--format", "json", "--to", "ab"}, `{"key":"YQ==","value":"MQ=="}` + "\n"},
		{[]string{"--format", "json", "--hex", "--to", "6162"}, `{"key":"61","value":"31"}` + "\n"},
		{[]string{"--prefix", "zz"}, ""},
		{[]string{"--from", "b", "--to", "b"}, ""},
	} {
		got := mustStrata(t, "", append([]string{"scan", "--db", db}, tc.args...)...)
		if got != tc.want {
			t.Errorf("scan %s:\n got %q\nwant %q", strings.Join(tc.args, " "), got, tc.want)
		}
	}
}

// randomEntries returns n distinct binary keys (sorted) with binary values.
func randomEntries(rng *rand.Rand, n int) (keys, values [][]byte) {
	seen := map[string]bool{}
	for len(keys) < n {
		k := make([]byte, 1+rng.IntN(24))
		for i := range k {
			k[i] = byte(rng.IntN(256))
		}
		if seen[string(k)] {
			continue
		}
		seen[string(k)] = true
		keys = append(keys, k)
	}
	slices.SortFunc(keys, bytes.Compare)
	for range keys {
		v := make([]byte, rng.IntN(200))
		for i := range v {
			v[i] = byte(rng.IntN(256))
		}
		values = append(values, v)
	}
	return keys, values
}

// TestLoadExportRoundTrip: load then export gives back a file of binary
// keys exactly, with --hex and in the text form, in every format; from a
// file and from stdin.
func TestLoadExportRoundTrip(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 3))
	keys, values := randomEntries(rng, 3000)
	dir := t.TempDir()
	var hexTSV strings.Builder
	for i := range keys {
		fmt.Fprintf(&hexTSV, "%x\t%x\n", keys[i], values[i])
	}
	src := filepath.Join(dir, "in.tsv")
	os.WriteFile(src, []byte(hexTSV.String()), 0o644)
	db := filepath.Join(dir, "db")
	out := mustStrata(t, "", "load", "--db", db, "--hex", src)
	if !regexp.MustCompile(`^loaded 3000 entries, \d+ bytes in [0-9.]+ s: \d+ entries/s\n$`).MatchString(out) {
		t.Errorf("load summary: %q", out)
	}
	if got := mustStrata(t, "", "export", "--db", db, "--hex"); got != hexTSV.String() {
		t.Fatalf("export --hex differs from the loaded file")
	}
	for _, format := range []string{"tsv", "csv", "jsonl"} {
		for _, hexFlag := range []bool{false, true} {
			name := fmt.Sprintf("%s-hex=%v", format, hexFlag)
			t.Run(name, func(t *testing.T) {
				args := []string{"--format", format}
				if hexFlag {
					args = append(args, "--hex")
				}
				file := filepath.Join(dir, name)
				mustStrata(t, "", append([]string{"export", "--db", db, file}, args...)...)
				exported, _ := os.ReadFile(file)
				db2 := filepath.Join(dir, "db-"+name)
				mustStrata(t, string(exported), append([]string{"load", "--db", db2, "-"}, args...)...)
				if got := mustStrata(t, "", "export", "--db", db2, "--hex"); got != hexTSV.String() {
					t.Fatalf("%s: the reloaded database differs", name)
				}
				if again := mustStrata(t, "", append([]string{"export", "--db", db2}, args...)...); again != string(exported) {
					t.Fatalf("%s: a second export differs from the first", name)
				}
			})
		}
	}
}

// dirState lists a directory's files with their sizes and contents' hash:
// what "left exactly as it was" compares.
func dirState(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return "<missing>"
	}
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range entries {
		data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		fmt.Fprintf(&b, "%s %d %x\n", e.Name(), len(data), data[:min(len(data), 64)])
	}
	return b.String()
}

// TestLoadMalformedLeavesDatabase: a malformed line anywhere (here near
// the end of an input larger than one batch) stops the load with its line
// number, and the database is left exactly as it was, whether it existed
// or not.
func TestLoadMalformedLeavesDatabase(t *testing.T) {
	dir := t.TempDir()
	var good strings.Builder
	for i := 0; i < 5000; i++ {
		fmt.Fprintf(&good, "key%05d\tvalue%d\n", i, i)
	}
	cases := []struct {
		format, input, want string
	}{
		{"tsv", good.String() + "k\\q\tv\n" + "z\tz\n", "line 5001: key: unknown escape"},
		{"tsv", "a\tb\n" + good.String() + "lonely\n", "line 5002: no tab"},
		{"csv", "a,b\nc,d,e\n", "line 2: 3 fields"},
		{"jsonl", `{"key":"YQ==","value":"Yg=="}` + "\n{\"key\":1}\n", "line 2: invalid JSON"},
	}
	for i, tc := range cases {
		t.Run(tc.format, func(t *testing.T) {
			// A missing database stays missing.
			missing := filepath.Join(dir, fmt.Sprintf("new%d", i))
			wantError(t, runStrata(t, tc.input, "load", "--db", missing, "--format", tc.format, "-"), 1, tc.want)
			if _, err := os.Stat(missing); !os.IsNotExist(err) {
				t.Fatalf("a failed load created %s", missing)
			}
			// An existing one keeps its files and contents.
			db := filepath.Join(dir, fmt.Sprintf("db%d", i))
			mustStrata(t, "", "put", "--db", db, "existing", "yes")
			before, contents := dirState(t, db), mustStrata(t, "", "export", "--db", db)
			file := filepath.Join(dir, fmt.Sprintf("in%d", i))
			os.WriteFile(file, []byte(tc.input), 0o644)
			for _, mode := range [][]string{nil, {"--parallel", "2"}, {"--batches", "--batch", "100"}, {"--batches", "--no-wal", "--batch", "100"}} {
				args := append(append([]string{"load", "--db", db, "--format", tc.format}, mode...), file)
				wantError(t, runStrata(t, "", args...), 1, tc.want)
			}
			if after := dirState(t, db); after != before {
				t.Fatalf("files changed:\nbefore\n%s\nafter\n%s", before, after)
			}
			if got := mustStrata(t, "", "export", "--db", db); got != contents {
				t.Fatalf("contents changed: %q", got)
			}
		})
	}
}

// TestLoadNoWAL: --batches --no-wal writes nothing to the log (but its
// header record) and flushes, so the data is in tables.
func TestLoadNoWAL(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "db")
	var in strings.Builder
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&in, "k%04d\tv\n", i)
	}
	out := mustStrata(t, in.String(), "load", "--db", db, "--batches", "--no-wal", "--batch", "7", "-")
	if !strings.HasPrefix(out, "loaded 1000 entries, 6000 bytes in ") {
		t.Errorf("summary %q", out)
	}
	logs, _ := filepath.Glob(filepath.Join(db, "*.log"))
	for _, l := range logs {
		if got := mustStrata(t, "", "wal", "--summary", l); !strings.HasSuffix(got, " batches, 0 ops\n") {
			t.Errorf("%s after a --no-wal load: %q", l, got)
		}
	}
	if tables, _ := filepath.Glob(filepath.Join(db, "*.ldb")); len(tables) == 0 {
		t.Error("no table after a --no-wal load: it did not flush")
	}
	if got := mustStrata(t, "", "scan", "--db", db, "--keys-only", "--reverse", "--limit", "1"); got != "k0999\n" {
		t.Errorf("last key %q", got)
	}
}

// TestExportToFile writes a file and reports the count on stderr.
func TestExportToFile(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "db")
	mustStrata(t, "", "put", "--db", db, "k", "v")
	r := runStrata(t, "", "export", "--db", db, "--format", "csv", "--prefix", "k", filepath.Join(dir, "out.csv"))
	if r.code != 0 || r.stdout != "" || !strings.Contains(r.stderr, "exported 1 entries") {
		t.Fatal(r)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "out.csv")); string(b) != "k,v\r\n" {
		t.Fatalf("out.csv: %q", b)
	}
	if got := hex.EncodeToString([]byte(mustStrata(t, "", "export", "--db", db, "-"))); got != hex.EncodeToString([]byte("k\tv\n")) {
		t.Fatalf("export to -: %s", got)
	}
	mustStrata(t, "", "put", "--db", db, "k2", "v2")
	mustStrata(t, "", "put", "--db", db, "k3", "v3")
	if got := mustStrata(t, "", "export", "--db", db, "--limit", "2"); got != "k\tv\nk2\tv2\n" {
		t.Fatalf("export --limit 2: %q", got)
	}
}

// TestBinaryValues: put --value-file (a file, or stdin) stores bytes as
// they are, and get --raw prints them back exactly, without a newline.
func TestBinaryValues(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "db")
	blob := make([]byte, 3<<20)
	for i := range blob {
		blob[i] = byte(i * 7)
	}
	file := filepath.Join(dir, "blob")
	os.WriteFile(file, blob, 0o644)
	mustStrata(t, "", "put", "--db", db, "--value-file", file, "blob")
	if got := mustStrata(t, "", "get", "--db", db, "--raw", "blob"); got != string(blob) {
		t.Fatalf("get --raw: %d bytes, want the file's %d", len(got), len(blob))
	}
	mustStrata(t, "line\n\x00\xff", "put", "--db", db, "--value-file", "-", "--hex", "00")
	if got := mustStrata(t, "", "get", "--db", db, "--raw", "--hex", "00"); got != "line\n\x00\xff" {
		t.Fatalf("get --raw of a value from stdin: %q", got)
	}
	if got := mustStrata(t, "", "get", "--db", db, "--hex", "00"); got != "6c696e650a00ff\n" {
		t.Fatalf("get --hex: %q", got)
	}
	wantError(t, runStrata(t, "", "put", "--db", db, "--value-file", file, "k", "v"), 2, "want KEY with --value-file")
	wantError(t, runStrata(t, "", "put", "--db", db, "--value-file", filepath.Join(dir, "missing"), "k"), 1, "no such file")
}
