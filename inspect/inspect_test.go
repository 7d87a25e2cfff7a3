package inspect

import (
	"bytes"
	"flag"
	"fmt"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-db/strata"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func TestHumanBytes(t *testing.T) {
	for n, want := range map[uint64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 8 << 20: "8.0 MiB",
		3 << 30: "3.0 GiB", 5 << 40: "5.0 TiB", 3000 << 40: "3000.0 TiB"} {
		if got := HumanBytes(n); got != want {
			t.Errorf("HumanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestReadCurrent(t *testing.T) {
	for _, tc := range []struct {
		content string
		name    string
		off     int64 // of the finding; -2: none
	}{
		{"MANIFEST-000005\n", "MANIFEST-000005", -2},
		{"MANIFEST-000005", "", 15},
		{"MANIFEST-\n", "", 9},
		{"MANIFEST-00x005\n", "", 11},
		{"MANXFEST-000005\n", "", 3},
		{"", "", 0},
		{"MANIFEST-000005\nextra", "", 16},
	} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "CURRENT"), []byte(tc.content), 0o644)
		name, bad, err := ReadCurrent(dir)
		if err != nil {
			t.Fatal(err)
		}
		if tc.off == -2 {
			if bad != nil || name != tc.name {
				t.Errorf("%q: %q, %v", tc.content, name, bad)
			}
			continue
		}
		if bad == nil || bad.Offset != tc.off || bad.File != "CURRENT" {
			t.Errorf("%q: finding %v, want one at offset %d", tc.content, bad, tc.off)
		}
	}
}

// TestLSMAgreesWithEngine: the tree and the flush/compaction history that
// LoadLSM rebuilds from the MANIFEST agree with what the engine reports
// about itself, and Check passes on what the engine wrote.
func TestLSMAgreesWithEngine(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	db, err := strata.Open(dir, &strata.Options{WriteBufferSize: 32 << 10, TargetFileSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 30000; i++ {
		k := fmt.Sprintf("key%06d", i*7919%30000) // random order: overlapping flushes
		if err := db.Put([]byte(k), bytes.Repeat([]byte{'v'}, 20), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.CompactRange(nil, nil); err != nil {
		t.Fatal(err)
	}
	m := db.Metrics()
	l, err := LoadLSM(dir)
	if err != nil {
		t.Fatal(err)
	}
	for level := range l.Levels {
		if len(l.Levels[level]) != m.Levels[level].Files || l.LevelBytes(level) != m.Levels[level].Bytes {
			t.Errorf("level %d: MANIFEST has %d tables, %d bytes; the engine %d, %d", level,
				len(l.Levels[level]), l.LevelBytes(level), m.Levels[level].Files, m.Levels[level].Bytes)
		}
	}
	h := l.History
	if uint64(h.Flushes) != m.Flushes || h.FlushBytes != m.FlushBytes || uint64(h.Compactions) != m.Compactions ||
		uint64(h.TrivialMoves) != m.TrivialMoves {
		t.Errorf("history %+v; engine: %d flushes of %d bytes, %d compactions, %d trivial moves",
			h, m.Flushes, m.FlushBytes, m.Compactions, m.TrivialMoves)
	}
	if math.Abs(h.WriteAmp()-m.WriteAmp()) > 1e-9 || h.WriteAmp() <= 1 {
		t.Errorf("write amplification: MANIFEST %.4f, engine %.4f", h.WriteAmp(), m.WriteAmp())
	}
	if l.ReadAmp() != m.ReadAmp() {
		t.Errorf("read amplification: %d vs %d", l.ReadAmp(), m.ReadAmp())
	}
	// Inspection works beside the open database.
	rep, err := Check(dir)
	if err != nil || !rep.OK() || rep.Tables != l.NumTables() || rep.Logs != 1 {
		t.Fatalf("Check: %+v, %v", rep, err)
	}
	// The open log's size is its records, not the space reserved for it.
	if err := db.Put([]byte("one more"), []byte("entry"), nil); err != nil {
		t.Fatal(err)
	}
	if l, err = LoadLSM(dir); err != nil || len(l.Logs) != 1 {
		t.Fatalf("LoadLSM: %v, %+v", err, l)
	}
	var records int64
	if _, err := ReadWAL(filepath.Join(dir, fmt.Sprintf("%06d.log", l.Logs[0].Num)), func(b *Batch) error {
		records++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if lf := l.Logs[0]; lf.Size <= 0 || lf.Size > 200 || lf.Allocated < lf.Size || records != 2 {
		t.Errorf("live log: %+v with %d records (the header and one batch)", lf, records)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestWriteTextGolden pins the terminal picture of a small tree with
// overlapping level-0 tables.
func TestWriteTextGolden(t *testing.T) {
	k := func(s string, seq uint64) InternalKey {
		return InternalKey{UserKey: []byte(s), Seq: seq, Kind: "SET", Valid: true}
	}
	tm := func(level int, num uint64, size uint64, a, z string) TableMeta {
		return TableMeta{Level: level, Num: num, Size: size, Smallest: k(a, num), Largest: k(z, num)}
	}
	l := &LSM{Dir: "/db", Manifest: "MANIFEST-000009", Logs: []LogFile{{Num: 8, Size: 1500}}}
	l.Levels[0] = []TableMeta{tm(0, 20, 3000, "b", "k"), tm(0, 21, 2000, "c", "e"), tm(0, 22, 1000, "m", "q")}
	l.Levels[1] = []TableMeta{tm(1, 10, 5<<20, "a", "f"), tm(1, 11, 4<<20, "g", "p"), tm(1, 12, 3<<20, "r", "z\xff")}
	l.Levels[3] = []TableMeta{tm(3, 5, 50<<20, "a", "z\xff")}
	l.History = History{Edits: 5, Flushes: 3, FlushBytes: 6000, Compactions: 1, CompactionReadBytes: 9000, CompactionWriteBytes: 12000}
	var got bytes.Buffer
	if err := l.WriteText(&got, 40, nil); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "lsm.golden")
	if *update {
		os.MkdirAll("testdata", 0o755)
		os.WriteFile(golden, got.Bytes(), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != string(want) {
		t.Errorf("got:\n%s\nwant:\n%s", got.String(), want)
	}
	// The SVG holds a rectangle and a tooltip per table.
	var svg bytes.Buffer
	l.WriteSVG(&svg, nil)
	if n := strings.Count(svg.String(), "<title>"); n != l.NumTables() {
		t.Errorf("SVG has %d tooltips for %d tables", n, l.NumTables())
	}
	if !strings.Contains(svg.String(), "<title>L1 000012 3.0 MiB [r .. z\\xff]</title>") {
		t.Errorf("SVG tooltip of table 12 missing:\n%s", svg.String())
	}
}

// TestPNGLabelsTrueCase: the PNG's labels are drawn in true case: lower
// and upper case differ, and the label lands where the SVG puts its text.
func TestPNGLabelsTrueCase(t *testing.T) {
	draw := func(s string) *image.RGBA {
		img := image.NewRGBA(image.Rect(0, 0, 80, 20))
		drawText(img, 2, 15, s, color.RGBA{0, 0, 0, 0xff})
		return img
	}
	lower, upper := draw("files"), draw("FILES")
	if bytes.Equal(lower.Pix, upper.Pix) {
		t.Fatal(`"files" and "FILES" are drawn alike`)
	}
	inked := 0
	for y := 0; y < 20; y++ {
		for x := 0; x < 80; x++ {
			if lower.RGBAAt(x, y).A != 0 {
				inked++
				if y > 15+3 || y < 15-11 || x < 2 || x >= 2+5*7 {
					t.Errorf("ink at (%d, %d), outside the label's box", x, y)
				}
			}
		}
	}
	if inked < 20 {
		t.Errorf("%d pixels inked for \"files\"", inked)
	}
}

// TestKeyHistory: every version of a key, from tables of several levels
// and the live log, newest first; other keys' versions are not listed.
func TestKeyHistory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	db, err := strata.Open(dir, &strata.Options{DisableAutoCompactions: true})
	if err != nil {
		t.Fatal(err)
	}
	put := func(k, v string) {
		t.Helper()
		if err := db.Put([]byte(k), []byte(v), nil); err != nil {
			t.Fatal(err)
		}
	}
	put("k", "v1")
	put("k2", "other")
	if err := db.CompactRange(nil, nil); err != nil { // v1 to a deeper level
		t.Fatal(err)
	}
	put("k", "v2")
	if err := db.Flush(); err != nil { // v2 in level 0
		t.Fatal(err)
	}
	if err := db.Delete([]byte("k"), nil); err != nil { // in the log
		t.Fatal(err)
	}
	put("k", "v3")
	vs, findings, err := KeyHistory(dir, []byte("k"))
	if err != nil || len(findings) > 0 {
		t.Fatalf("KeyHistory: %v, %v", err, findings)
	}
	l, err := LoadLSM(dir)
	if err != nil {
		t.Fatal(err)
	}
	levelOf := map[string]int{}
	for level, tables := range l.Levels {
		for _, tm := range tables {
			levelOf[fmt.Sprintf("%06d.ldb", tm.Num)] = level
		}
	}
	var got []string
	for _, v := range vs {
		got = append(got, fmt.Sprintf("%d %s %s %s", v.Seq, v.Kind, filepath.Ext(v.File), v.Value))
		if lv, ok := levelOf[v.File]; v.Level != -1 && (!ok || lv != v.Level) || v.Level == -1 && filepath.Ext(v.File) != ".log" {
			t.Errorf("version %d in %s at level %d; the MANIFEST has it at %d", v.Seq, v.File, v.Level, lv)
		}
	}
	if len(vs) == 4 && vs[2].Level >= vs[3].Level {
		t.Errorf("v2 at level %d, v1 at %d: v1 was compacted deeper", vs[2].Level, vs[3].Level)
	}
	want := []string{"5 SET .log v3", "4 DEL .log ", "3 SET .ldb v2", "1 SET .ldb v1"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("history:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if vs, _, err := KeyHistory(dir, []byte("absent")); err != nil || len(vs) != 0 {
		t.Fatalf("history of an absent key: %v, %v", vs, err)
	}
}
