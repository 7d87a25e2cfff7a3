package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"image/png"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/strata-db/strata"
	"github.com/strata-db/strata/inspect"
)

// makeDB writes a database with one flushed table (many data blocks, a
// bloom filter) and a live log holding ten more batches.
func makeDB(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "db")
	db, err := strata.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := db.NewBatch()
	for i := 0; i < 3000; i++ {
		b.Put([]byte(fmt.Sprintf("key%06d", i)), bytes.Repeat([]byte{byte('a' + i%26)}, 100))
	}
	if err := db.Write(b, nil); err != nil {
		t.Fatal(err)
	}
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if err := db.Put([]byte(fmt.Sprintf("log%02d", i)), []byte("in the log"), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "copy")
	os.MkdirAll(dst, 0o755)
	entries, _ := os.ReadDir(src)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644)
	}
	return dst
}

func onlyFile(t *testing.T, dir, pattern string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, pattern))
	if len(m) != 1 {
		t.Fatalf("%s in %s: %v", pattern, dir, m)
	}
	return m[0]
}

var findingRE = regexp.MustCompile(`(?m)^(\S+) at offset (\d+): (.*)$`)

// TestCheckFindsFlippedBytes: `check` finds one flipped byte in each kind
// of file and part of a table, naming the file and an offset at or just
// before the flipped byte (the start of the damaged block, record or
// chunk), and exits 1.
func TestCheckFindsFlippedBytes(t *testing.T) {
	clean := makeDB(t)
	if out := mustStrata(t, "", "check", "--db", clean); !strings.HasSuffix(out, "1 tables (") && !strings.Contains(out, ": OK\n") {
		t.Fatalf("check of a clean database: %s", out)
	}
	table := onlyFile(t, clean, "*.ldb")
	info, err := inspect.DescribeTable(table)
	if err != nil {
		t.Fatal(err)
	}
	if len(info.DataBlocks) < 10 || info.Filter == nil {
		t.Fatalf("fixture table: %d blocks, filter %v", len(info.DataBlocks), info.Filter)
	}
	blk := info.DataBlocks[5]
	cases := []struct {
		name       string
		file       string // pattern in the directory
		flip       int64
		lo, hi     int64 // the reported offset must be in [lo, hi]
		exactMatch bool
	}{
		{"table data block", "*.ldb", int64(blk.Offset + blk.Size/2), int64(blk.Offset), int64(blk.Offset + blk.Size/2), false},
		{"table data block trailer", "*.ldb", int64(blk.Offset + blk.Size + 2), int64(blk.Offset), int64(blk.Offset + blk.Size + 2), false},
		{"table index block", "*.ldb", int64(info.Index.Offset + 3), int64(info.Index.Offset), int64(info.Index.Offset + 3), false},
		{"table filter block", "*.ldb", int64(info.Filter.Offset + 7), int64(info.Filter.Offset), int64(info.Filter.Offset + 7), false},
		{"table metaindex block", "*.ldb", int64(info.Metaindex.Offset + 1), int64(info.Metaindex.Offset), int64(info.Metaindex.Offset + 1), false},
		{"table footer", "*.ldb", int64(info.Size - 3), int64(info.Size - 48), int64(info.Size - 3), false},
		{"log record", "*.log", 40, 0, 40, false},
		{"log record header", "*.log", 1, 0, 1, false},
		{"MANIFEST record", "MANIFEST-*", 20, 0, 20, false},
		{"CURRENT", "CURRENT", 3, 3, 3, true},
		{"CURRENT number", "CURRENT", 12, 12, 12, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyDir(t, clean)
			path := onlyFile(t, dir, tc.file)
			flipByte(t, path, tc.flip)
			r := runStrata(t, "", "check", "--db", dir)
			wantError(t, r, 1, "check: ")
			m := findingRE.FindStringSubmatch(r.stdout)
			if m == nil {
				t.Fatalf("no finding with an offset:\n%s", r)
			}
			off, _ := strconv.ParseInt(m[2], 10, 64)
			if m[1] != filepath.Base(path) || off < tc.lo || off > tc.hi {
				t.Fatalf("finding %q: want file %s, offset in [%d, %d] (flipped %d)", m[0], filepath.Base(path), tc.lo, tc.hi, tc.flip)
			}
			t.Logf("%s", m[0])
		})
	}

	// A missing table and a truncated log tail.
	dir := copyDir(t, clean)
	os.Remove(onlyFile(t, dir, "*.ldb"))
	log := onlyFile(t, dir, "*.log")
	b, _ := os.ReadFile(log)
	os.WriteFile(log, b[:len(b)-5], 0o644)
	r := runStrata(t, "", "check", "--db", dir)
	wantError(t, r, 1, "2 problem(s)")
	if !strings.Contains(r.stdout, "is missing") || !strings.Contains(r.stdout, "unreadable bytes") {
		t.Fatalf("check output:\n%s", r)
	}
}

func TestFlushCompactStatsLSM(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "db")
	// Four loads of interleaved keys: overlapping level-0 tables.
	for round := 0; round < 4; round++ {
		var in strings.Builder
		for i := round; i < 20000; i += 4 {
			fmt.Fprintf(&in, "k%06d\t%s\n", i, strings.Repeat("v", 50))
		}
		mustStrata(t, in.String(), "load", "--db", db, "-")
		mustStrata(t, "", "flush", "--db", db)
	}
	var before statsJSON
	if err := json.Unmarshal([]byte(mustStrata(t, "", "stats", "--db", db, "--json")), &before); err != nil {
		t.Fatal(err)
	}
	if before.TotalFiles < 2 || before.ReadAmp < 2 || len(before.Levels) != 7 || before.History.Flushes == 0 && before.TotalFiles == 0 {
		t.Fatalf("stats before compaction: %+v", before)
	}
	out := mustStrata(t, "", "compact", "--db", db)
	if !regexp.MustCompile(`^compacted in [0-9.]+ s: \d+ compactions read .* and wrote .*; read amplification now 1\n$`).MatchString(out) {
		t.Fatalf("compact: %q", out)
	}
	var after statsJSON
	if err := json.Unmarshal([]byte(mustStrata(t, "", "stats", "--db", db, "--json")), &after); err != nil {
		t.Fatal(err)
	}
	// compact opened the database, which started a new MANIFEST: its
	// history has the compaction but no flush, so no write amplification.
	if after.ReadAmp != 1 || after.Levels[0].Files != 0 || after.History.Compactions == 0 || after.WriteAmp != 0 {
		t.Fatalf("stats after compaction: %+v", after)
	}
	text := mustStrata(t, "", "stats", "--db", db)
	for _, want := range []string{"level  tables       size  score\n", "  L0        0 ", "read amplification: 1 ", "write amplification: n/a (nothing flushed since MANIFEST-", "block cache: capacity 8.0 MiB"} {
		if !strings.Contains(text, want) {
			t.Errorf("stats text lacks %q:\n%s", want, text)
		}
	}
	// A compaction of a range, in hex.
	if out := mustStrata(t, "", "compact", "--db", db, "--hex", "--from", "6b", "--to", "6c"); !strings.HasPrefix(out, "compacted in ") {
		t.Errorf("compact --from --to: %q", out)
	}
	if got := mustStrata(t, "", "scan", "--db", db, "--keys-only", "--limit", "2"); got != "k000000\nk000001\n" {
		t.Errorf("after compaction: %q", got)
	}

	svg, pngFile := filepath.Join(dir, "tree.svg"), filepath.Join(dir, "tree.png")
	lsm := mustStrata(t, "", "lsm", "--db", db, "--svg", svg, "--png", pngFile, "--width", "40")
	for _, want := range []string{"LSM tree of " + db, "\nL0    0 files", "|[====", "keys k000000", "read amplification (sorted runs a point read may consult): 1", "wrote " + svg, "wrote " + pngFile} {
		if !strings.Contains(lsm, want) {
			t.Errorf("lsm output lacks %q:\n%s", want, lsm)
		}
	}
	sv, _ := os.ReadFile(svg)
	dec := xml.NewDecoder(bytes.NewReader(sv))
	rects := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "rect" {
			rects++
		}
	}
	if rects < 8 { // background, 7 lanes, the tables
		t.Errorf("SVG has %d rects", rects)
	}
	pf, _ := os.Open(pngFile)
	defer pf.Close()
	img, err := png.Decode(pf)
	if err != nil || img.Bounds().Dx() != 1000 {
		t.Fatalf("PNG: %v, %v", err, img)
	}
}

// TestStatsEvents: stats --events shows the last events the writing
// processes recorded in LOG and LOG.old, as the engine described them, and
// says where there are none.
func TestStatsEvents(t *testing.T) {
	dir := makeDB(t) // one open: a flush; then a compaction in a second
	mustStrata(t, "", "compact", "--db", dir)
	out := mustStrata(t, "", "stats", "--db", dir, "--events", "--events-limit", "0")
	_, events, ok := strings.Cut(out, "events: all ")
	if !ok {
		t.Fatalf("stats --events:\n%s", out)
	}
	for _, want := range []string{" in LOG.old and LOG\n", "\n  LOG.old (the open for writing before it):\n",
		"] flushed 1 memtable (", "; Flush) to L", "\n  LOG (the last open for writing):\n", "] compacted (manual) L",
		"] table 0000", " created (compacting, ", " deleted\n", "] WAL 0000"} {
		if !strings.Contains(events, want) {
			t.Errorf("stats --events lacks %q:\n%s", want, events)
		}
	}
	if n := strings.Count(mustStrata(t, "", "stats", "--db", dir, "--events", "--events-limit", "3"), "\n    "); n != 3 {
		t.Errorf("--events-limit 3 shows %d events", n)
	}
	var s statsJSON
	if err := json.Unmarshal([]byte(mustStrata(t, "", "stats", "--db", dir, "--events", "--json")), &s); err != nil {
		t.Fatal(err)
	}
	if len(s.Events) == 0 || s.Events[len(s.Events)-1].File != "LOG" || s.Events[0].Kind == "" {
		t.Errorf("stats --events --json: %+v", s.Events)
	}
	os.Remove(filepath.Join(dir, "LOG"))
	os.Remove(filepath.Join(dir, "LOG.old"))
	if out := mustStrata(t, "", "stats", "--db", dir, "--events"); !strings.Contains(out, "events: no LOG in ") {
		t.Errorf("stats --events without a LOG:\n%s", out)
	}
}

// TestStatsJSONNames: every name in stats --json (with --events) is
// snake_case; the names are pinned in testdata/stats-json-keys.golden.
func TestStatsJSONNames(t *testing.T) {
	var v any
	if err := json.Unmarshal([]byte(mustStrata(t, "", "stats", "--db", makeDB(t), "--json", "--events")), &v); err != nil {
		t.Fatal(err)
	}
	var paths []string
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if !regexp.MustCompile(`^[a-z][a-z0-9_]*$`).MatchString(k) {
					t.Errorf("%s%s is not snake_case", prefix, k)
				}
				paths = append(paths, prefix+k)
				walk(prefix+k+".", x)
			}
		case []any:
			if len(v) > 0 {
				walk(prefix+"[].", v[0])
			}
		}
	}
	walk("", v)
	slices.Sort(paths)
	got := strings.Join(paths, "\n") + "\n"
	golden := "testdata/stats-json-keys.golden"
	if *update {
		os.WriteFile(golden, []byte(got), 0o644)
	}
	if want, _ := os.ReadFile(golden); got != string(want) {
		t.Errorf("stats --json names:\n%s\nwant (%s):\n%s", got, golden, want)
	}
}

func TestSSTManifestWAL(t *testing.T) {
	dir := makeDB(t)
	table := onlyFile(t, dir, "*.ldb")
	out := mustStrata(t, "", "sst", table)
	for _, want := range []string{"table " + table, "entries      3000\n", "compression  snappy\n", "filter       offset ",
		"smallest     key000000#1,SET\n", "largest      key002999#3000,SET\n", "    data 0     offset 0 ", "    footer     offset "} {
		if !strings.Contains(out, want) {
			t.Errorf("sst lacks %q:\n%s", want, out)
		}
	}
	out = mustStrata(t, "", "sst", table, "--scan", "--check")
	if !strings.Contains(out, "\nkey000001#2,SET\t"+strings.Repeat("b", 100)+"\n") || !strings.HasSuffix(out, "check: OK\n") {
		t.Errorf("sst --scan --check:\n%.2000s", out)
	}
	if out := mustStrata(t, "", "sst", "--hex", "--scan", table); !strings.Contains(out, "\n6b6579303030303030#1,SET\t6161") {
		t.Errorf("sst --hex --scan:\n%.1000s", out)
	}

	out = mustStrata(t, "", "manifest", "--db", dir)
	for _, want := range []string{"comparator      leveldb.BytewiseComparator\n", "  add             L", " bytes [key000000#1,SET .. key002999#3000,SET]\n", "last-sequence   3000\n", " edits\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("manifest lacks %q:\n%s", want, out)
		}
	}
	name := filepath.Base(onlyFile(t, dir, "MANIFEST-*"))
	if again := mustStrata(t, "", "manifest", "--db", dir, "--file", name); again != out {
		t.Errorf("manifest --file %s differs from the current MANIFEST's output", name)
	}

	log := onlyFile(t, dir, "*.log")
	out = mustStrata(t, "", "wal", log)
	if !strings.HasPrefix(out, "batch at offset 0: seq 3001, 0 ops (log header: the logs before reached seq 3000)\n"+
		"batch at offset 19: seq 3001, 1 ops\n  3001 SET log00 = in the log\n") || !strings.HasSuffix(out, "11 batches, 10 ops\n") {
		t.Errorf("wal:\n%s", out)
	}

	// Damage is reported with its offset. The reader resumes at the next
	// 32 KiB block, so the rest of this small log's only block is lost.
	flipByte(t, log, 19+10)
	r := runStrata(t, "", "wal", log)
	wantError(t, r, 1, "wal: 1 problem(s); the first: "+filepath.Base(log)+" at offset 19: chunk checksum mismatch")
	if !strings.HasSuffix(r.stdout, "1 batches, 0 ops\ndamage: "+filepath.Base(log)+" at offset 19: chunk checksum mismatch\n") {
		t.Errorf("wal of a damaged log:\n%s", r)
	}
	flipByte(t, onlyFile(t, dir, "MANIFEST-*"), 5)
	wantError(t, runStrata(t, "", "manifest", "--db", dir), 1, "manifest: 4 problem(s)") // the record, and the three entries it held
	// A damaged data block is marked in the layout, which goes on.
	info, err := inspect.DescribeTable(table)
	if err != nil {
		t.Fatal(err)
	}
	blk := info.DataBlocks[4]
	flipByte(t, table, int64(blk.Offset+10))
	r = runStrata(t, "", "sst", table)
	wantError(t, r, 1, fmt.Sprintf("sst: 1 problem(s); the first: %s at offset %d: block checksum mismatch", filepath.Base(table), blk.Offset))
	for _, want := range []string{"  damage       1 of ", fmt.Sprintf("\n    data 4     offset %-9d size %-6d DAMAGED: block checksum mismatch", blk.Offset, blk.Size),
		"\n    data 5     offset ", "\n    footer     offset ", fmt.Sprintf("entries      %d\n", info.Entries-uint64(blk.Entries))} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("sst of a damaged table lacks %q:\n%s", want, r.stdout)
		}
	}
	// Damage that hides the blocks (here the footer) is an error.
	flipByte(t, table, -5)
	wantError(t, runStrata(t, "", "sst", table), 1, "corruption: ")
}

// TestCheckAndManifestAgree: on an empty or cut MANIFEST, check and
// manifest count the same edits, both report the damage and both say
// what to run.
func TestCheckAndManifestAgree(t *testing.T) {
	clean := makeDB(t)
	editsRE := regexp.MustCompile(`with (\d+) edits|(?m)^(\d+) edits$`)
	count := func(out string) string {
		m := editsRE.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no edit count in:\n%s", out)
		}
		return m[1] + m[2]
	}
	for _, size := range []int64{-1, 0, 10} {
		dir := copyDir(t, clean)
		if size >= 0 {
			if err := os.Truncate(onlyFile(t, dir, "MANIFEST-*"), size); err != nil {
				t.Fatal(err)
			}
		}
		c, m := runStrata(t, "", "check", "--db", dir), runStrata(t, "", "manifest", "--db", dir)
		if count(c.stdout) != count(m.stdout) {
			t.Errorf("MANIFEST of %d bytes: check counts %s edits, manifest %s\n%s\n%s", size, count(c.stdout), count(m.stdout), c, m)
		}
		if size < 0 {
			if c.code != 0 || m.code != 0 {
				t.Fatalf("intact MANIFEST:\n%s\n%s", c, m)
			}
			continue
		}
		if !strings.Contains(m.stdout, "damage: ") || !strings.Contains(m.stdout, "no last-sequence entry") {
			t.Errorf("manifest of a MANIFEST of %d bytes reports no damage:\n%s", size, m)
		}
		for _, r := range []result{c, m} {
			wantError(t, r, 1, "problem(s)")
			if !strings.Contains(r.stderr, "`strata repair --db "+dir+"` rebuilds the database") {
				t.Errorf("no repair hint: %s", r.stderr)
			}
		}
	}
}

func TestRepair(t *testing.T) {
	dir := makeDB(t)
	table := onlyFile(t, dir, "*.ldb")
	info, _ := inspect.DescribeTable(table)
	flipByte(t, table, int64(info.DataBlocks[3].Offset+10))
	wantError(t, runStrata(t, "", "check", "--db", dir), 1, "1 problem(s)")
	out := mustStrata(t, "", "repair", "--db", dir)
	if !strings.Contains(out, "damage: ") || !regexp.MustCompile(`repaired .*: \d+ tables, \d+ entries; 1 logs converted; 1 damaged tables; 0 log bytes dropped\n`).MatchString(out) ||
		!strings.Contains(out, "hole: [") || !strings.Contains(out, "--clear-holes") {
		t.Errorf("repair:\n%s", out)
	}
	mustStrata(t, "", "check", "--db", dir)
	// Reads in the hole fail until the loss is accepted.
	wantError(t, runStrata(t, "", "scan", "--db", dir, "--keys-only"), 1, "Repair could not recover")
	if out := mustStrata(t, "", "repair", "--db", dir, "--clear-holes"); !strings.Contains(out, "cleared the holes") {
		t.Errorf("repair --clear-holes:\n%s", out)
	}
	// The entries of the damaged block are gone; the others and the log's are kept.
	keys := strings.Count(mustStrata(t, "", "scan", "--db", dir, "--keys-only"), "\n")
	if lost := 3010 - keys; lost <= 0 || lost != info.DataBlocks[3].Entries {
		t.Errorf("after repair %d keys: lost %d, want the damaged block's %d", keys, lost, info.DataBlocks[3].Entries)
	}
	wantError(t, runStrata(t, "", "repair", "--db", filepath.Join(t.TempDir(), "missing")), 1, "no database")
}

func TestDemo(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	out := mustStrata(t, "", "demo", "--dir", dir, "--n", "5000")
	for _, want := range []string{"loading 5000 entries (500 users and their orders)", "\nloaded 5000 entries (",
		"\ncompacted everything in ", "\npoint gets: 20000 (half of them for missing users) in ", "; 10000 found\n",
		"\nprefix scan \"order:", "\nreverse scan of the same prefix", "\nfull scan: 5000 entries, ", "\nLSM tree of " + dir} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	// Running it again reuses the database.
	again := mustStrata(t, "", "demo", "--dir", dir, "--n", "5000")
	if !strings.HasPrefix(again, "reusing the demo database in "+dir+" (5000 entries)") || !strings.Contains(again, "full scan: 5000 entries") {
		t.Errorf("second run:\n%s", again)
	}
	// Another size starts clean.
	other := mustStrata(t, "", "demo", "--dir", dir, "--n", "3000")
	if !strings.HasPrefix(other, "deleting the previous demo database") || !strings.Contains(other, "full scan: 3000 entries") {
		t.Errorf("run with another --n:\n%s", other)
	}
	mustStrata(t, "", "check", "--db", dir)
	// A directory holding something else is left alone.
	busy := t.TempDir()
	os.WriteFile(filepath.Join(busy, "precious.txt"), []byte("x"), 0o644)
	wantError(t, runStrata(t, "", "demo", "--dir", busy, "--n", "100"), 1, "holds no demo database")
	if _, err := os.Stat(filepath.Join(busy, "precious.txt")); err != nil {
		t.Error(err)
	}
}

// TestDemoHintsRunAsPrinted: the demo's closing hints use the invocation
// the user ran — go run, strata on PATH, or the binary's path — and each
// runs verbatim in a shell.
func TestDemoHintsRunAsPrinted(t *testing.T) {
	tmp := t.TempDir()
	bin, spaced, other := filepath.Join(tmp, "bin", "strata"), filepath.Join(tmp, "my bin", "strata"), filepath.Join(tmp, "other", "strata")
	for _, p := range []string{bin, spaced, other} {
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(p), 0o755)
	}
	for _, tc := range []struct{ exe, arg0, path, want string }{
		{"/tmp/go-build1234/b001/exe/strata", "/tmp/go-build1234/b001/exe/strata", "", "go run ./cmd/strata"},
		{"/root/.cache/go-build/d3/d36dfc56530ded247b0d9600f1916c36e37cce0c9d4d67685bb34cf5b7c378d5-d/strata", "/root/.cache/go-build/d3/d36dfc56530ded247b0d9600f1916c36e37cce0c9d4d67685bb34cf5b7c378d5-d/strata", "", "go run ./cmd/strata"},
		{bin, "strata", bin, "strata"},
		{bin, "./strata", "", "./strata"},
		{spaced, spaced, other, "'" + spaced + "'"},
	} {
		lookPath := func(string) (string, error) {
			if tc.path == "" {
				return "", exec.ErrNotFound
			}
			return tc.path, nil
		}
		if got := invocation(tc.exe, tc.arg0, lookPath); got != tc.want {
			t.Errorf("invocation(%q, %q) = %q, want %q", tc.exe, tc.arg0, got, tc.want)
		}
	}

	// The built binary, by its path and on PATH.
	dir := filepath.Join(t.TempDir(), "demo db")
	hints := func(out string) []string {
		t.Helper()
		i := strings.Index(out, "\nnext: ")
		if i < 0 {
			t.Fatalf("no hints in:\n%s", out)
		}
		var cmds []string
		for _, line := range strings.Split(strings.TrimSpace(strings.TrimPrefix(out[i+1:], "next:")), "\n") {
			cmds = append(cmds, strings.TrimSpace(line))
		}
		return cmds
	}
	runHints := func(cmds []string, env []string, cwd string) {
		t.Helper()
		for _, c := range cmds {
			sh := exec.Command("/bin/sh", "-c", c)
			sh.Env, sh.Dir = env, cwd
			if out, err := sh.CombinedOutput(); err != nil {
				t.Fatalf("hint %q: %v\n%s", c, err, out)
			}
		}
	}
	r := strataExec(t, "", "demo", "--dir", dir, "--n", "200")
	cmds := hints(r.stdout)
	if !strings.HasPrefix(cmds[0], strataBin+" scan --db '"+dir+"' --prefix order:") {
		t.Errorf("hint by path: %q", cmds[0])
	}
	runHints(cmds, os.Environ(), t.TempDir())

	pathEnv := append(os.Environ(), "PATH="+filepath.Dir(strataBin)+string(os.PathListSeparator)+os.Getenv("PATH"))
	cmd := exec.Command(strataBin, "demo", "--dir", dir, "--n", "200")
	cmd.Env, cmd.Args[0] = pathEnv, "strata" // as a shell runs it from PATH
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	cmds = hints(string(out))
	if !strings.HasPrefix(cmds[0], "strata scan --db ") || !strings.HasPrefix(cmds[1], "strata stats --db ") {
		t.Errorf("hints on PATH: %q", cmds)
	}
	runHints(cmds, pathEnv, t.TempDir())

	// README's quickstart: go run ./cmd/strata from the repository's root.
	if testing.Short() {
		t.Skip("go run of the quickstart: not in -short")
	}
	root, _ := filepath.Abs("../..")
	gorun := exec.Command("go", "run", "./cmd/strata", "demo", "--dir", dir, "--n", "200")
	gorun.Dir = root
	out, err = gorun.Output()
	if err != nil {
		t.Fatalf("go run ./cmd/strata demo: %v", err)
	}
	cmds = hints(string(out))
	if !strings.HasPrefix(cmds[0], "go run ./cmd/strata scan --db ") {
		t.Errorf("hints of go run: %q", cmds)
	}
	runHints(cmds[:1], os.Environ(), root)
}

// TestWarnsWhenRecoveryLeavesWritesOut: a database whose log is damaged
// opens (recovery stops at the damage), and every command that opens it,
// reading or writing, says on stderr what was left out, instead of
// counting fewer entries in silence.
func TestWarnsWhenRecoveryLeavesWritesOut(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	var in strings.Builder
	for i := range 20000 {
		fmt.Fprintf(&in, "k%05d\tv\n", i)
	}
	mustStrata(t, in.String(), "load", "--db", dir, "--batches", "-")
	// The load's writes are in one log, or (Options.InitialMemTableSize:
	// the small first memtables) several; damage the oldest, in the middle.
	logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	if len(logs) == 0 {
		t.Fatalf("no log in %s", dir)
	}
	slices.Sort(logs)
	fi, _ := os.Stat(logs[0])
	flipByte(t, logs[0], fi.Size()/2)
	r := runStrata(t, "", "scan", "--db", dir, "--count")
	if r.code != 0 || !strings.Contains(r.stderr, "warning") || !strings.Contains(r.stderr, "not replayed") {
		t.Fatalf("scan of a database with a damaged log:\n%s", r)
	}
	r = runStrata(t, "", "put", "--db", dir, "x", "y")
	if r.code != 0 || !strings.Contains(r.stderr, "warning") || !strings.Contains(r.stderr, "lost/") {
		t.Fatalf("put into a database with a damaged log:\n%s", r)
	}
	// Recovery is done: the next command opens a database with nothing
	// missing, and warns of nothing.
	if r := runStrata(t, "", "get", "--db", dir, "x"); r.code != 0 || r.stderr != "" {
		t.Fatalf("get after recovery:\n%s", r)
	}
}

// TestStatsWriteBufferSize: stats computes the levels' scores for the write
// buffer the database was written with when told it (--write-buffer-size).
// One flushed table of ~2.3 MiB is the tree's only level, whose budget is
// the base level's: 10 MiB with the default options, 64 MiB with a 64 MiB
// buffer, so its score falls 6.4-fold. A negative size is refused.
func TestStatsWriteBufferSize(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	db, err := strata.Open(dir, &strata.Options{Compression: strata.NoCompression})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	value := make([]byte, 100)
	for i := range 20000 {
		for j := range value {
			value[j] = byte(rng.Uint32())
		}
		if err := db.Put(fmt.Appendf(nil, "key%08d", i), value, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	score := func(args ...string) float64 {
		t.Helper()
		var s statsJSON
		if err := json.Unmarshal([]byte(mustStrata(t, "", append([]string{"stats", "--db", dir, "--json"}, args...)...)), &s); err != nil {
			t.Fatal(err)
		}
		var levels []levelJSON
		for _, l := range s.Levels {
			if l.Files > 0 {
				levels = append(levels, l)
			}
		}
		if len(levels) != 1 || levels[0].Files != 1 {
			t.Fatalf("want one table in one level: %+v", s.Levels)
		}
		return levels[0].Score
	}
	def, big := score(), score("--write-buffer-size", "67108864")
	if def < 0.15 || def > 0.35 {
		t.Errorf("default options: the level scores %.3f, want its ~2.3 MiB over 10 MiB", def)
	}
	if r := def / big; r < 6.3 || r > 6.5 {
		t.Errorf("--write-buffer-size 64 MiB: the level scores %.4f, %.2f times less than by default (%.3f); want 6.4", big, r, def)
	}
	if r := runStrata(t, "", "stats", "--db", dir, "--write-buffer-size", "-1"); r.code == 0 || !strings.Contains(r.stderr, "must be 0") {
		t.Errorf("--write-buffer-size -1: exit %d, stderr %q", r.code, r.stderr)
	}
}
