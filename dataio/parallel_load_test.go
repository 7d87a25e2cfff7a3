package dataio

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-db/strata"
)

// dbContents returns every entry of db as "key=value" lines (hex).
func dbContents(t *testing.T, db *strata.DB) string {
	t.Helper()
	var b strings.Builder
	it := db.NewIterator(nil)
	for k, v := range it.All() {
		fmt.Fprintf(&b, "%x=%x\n", k, v)
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestLoadParallelEqualsSequential: on random unsorted input with many
// repeated keys (keys with 0x00 bytes, the empty key), into an empty
// database and into one holding older data, LoadParallel leaves exactly
// what LoadInto leaves, for several chunk and table sizes and loader
// counts.
func TestLoadParallelEqualsSequential(t *testing.T) {
	seeds, maxN := 4, 5000
	if testing.Short() {
		seeds, maxN = 2, 1500
	}
	for seed := range uint64(seeds) {
		rng := rand.New(rand.NewPCG(seed, 3))
		n := 500 + rng.IntN(maxN)
		var in bytes.Buffer
		hexEnc := rng.IntN(2) == 0
		w := NewWriter(&in, TSV, hexEnc, false)
		for i := range n {
			k := make([]byte, rng.IntN(4))
			for j := range k {
				k[j] = []byte{0, 1, 'a', 0xff}[rng.IntN(4)]
			}
			if i%5 == 0 {
				k = fmt.Appendf(nil, "key%06d", rng.IntN(n))
			}
			w.Write(k, fmt.Appendf(nil, "v%d-%x", i, rng.Uint64()))
		}
		w.Flush()
		path := filepath.Join(t.TempDir(), "in.tsv")
		if err := os.WriteFile(path, in.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, preload := range []bool{false, true} {
			name := fmt.Sprintf("seed=%d preload=%v", seed, preload)
			open := func(sub string) *strata.DB {
				db, err := strata.Open(filepath.Join(t.TempDir(), sub), nil)
				if err != nil {
					t.Fatal(err)
				}
				if preload {
					for i := range 300 {
						db.Put(fmt.Appendf(nil, "key%06d", i*7), []byte("old"), nil)
					}
					db.Put(nil, []byte("old empty"), nil)
				}
				return db
			}
			load := func(db *strata.DB, po *ParallelLoadOptions) LoadResult {
				f, err := os.Open(path)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				inp, err := Prepare(f, LoadOptions{Format: TSV, Hex: hexEnc})
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				defer inp.Close()
				var res LoadResult
				if po == nil {
					res, err = inp.LoadInto(db)
				} else {
					res, err = inp.LoadParallel(db, *po)
				}
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				return res
			}
			seq := open("seq")
			wantRes := load(seq, nil)
			want := dbContents(t, seq)
			seq.Close()
			for _, po := range []ParallelLoadOptions{
				{Loaders: 1},
				{Loaders: 3, ChunkBytes: 2 << 10, TableBytes: 4 << 10},
				{Loaders: 2, ChunkBytes: 16 << 10, TableBytes: 16 << 10},
			} {
				po.TempDir = t.TempDir()
				db := open("par")
				res := load(db, &po)
				if res.Entries != wantRes.Entries || res.Bytes != wantRes.Bytes {
					t.Fatalf("%s %+v: result %+v, sequential %+v", name, po, res, wantRes)
				}
				if got := dbContents(t, db); got != want {
					t.Fatalf("%s %+v: contents differ from a sequential load:\n%.400s\nwant\n%.400s", name, po, got, want)
				}
				if !preload {
					if n, _ := db.Property("strata.num-files-at-level0"); n != "0" {
						t.Fatalf("%s: tables in level 0 of an empty database:\n%s", name, n)
					}
				}
				if ents, _ := os.ReadDir(po.TempDir); len(ents) != 0 {
					t.Fatalf("%s: staging left behind: %v", name, ents)
				}
				db.Close()
			}
		}
	}
}

// TestLoadParallelErrors: an entry larger than a chunk fails the load and
// leaves the database untouched.
func TestLoadParallelErrors(t *testing.T) {
	db, err := strata.Open(filepath.Join(t.TempDir(), "db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	in := "a\tshort\nb\t" + strings.Repeat("x", 5000) + "\n"
	inp, err := Prepare(strings.NewReader(in), LoadOptions{Format: TSV})
	if err != nil {
		t.Fatal(err)
	}
	defer inp.Close()
	tmp := t.TempDir()
	_, err = inp.LoadParallel(db, ParallelLoadOptions{ChunkBytes: 1000, TempDir: tmp})
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("oversized entry: %v", err)
	}
	if got := dbContents(t, db); got != "" {
		t.Fatalf("a failed load wrote %q", got)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Fatalf("staging left behind: %v", ents)
	}
}

// TestRemoveStaleStaging removes the staging directories a killed
// LoadParallel leaves, and nothing else.
func TestRemoveStaleStaging(t *testing.T) {
	dir := t.TempDir()
	mk := func(name string, files ...string) string {
		p := filepath.Join(dir, name)
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if err := os.WriteFile(filepath.Join(p, f), []byte("12345"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return p
	}
	stale := mk("strata-load-123456", "run-000000", "run-000001", "part-0000-0000.ldb")
	empty := mk("strata-load-42")
	foreign := mk("strata-load-7", "run-000000", "notes.txt")
	other := mk("strata-load-x1", "run-000000")
	os.WriteFile(filepath.Join(dir, "strata-load-9"), nil, 0o644) // a file, not a directory
	removed, err := RemoveStaleStaging(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []StaleStaging{{stale, 15}, {empty, 0}}
	if fmt.Sprint(removed) != fmt.Sprint(want) {
		t.Fatalf("removed %v, want %v", removed, want)
	}
	for _, p := range []string{stale, empty} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s is still there", p)
		}
	}
	for _, p := range []string{foreign, other, filepath.Join(dir, "strata-load-9")} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was removed: %v", p, err)
		}
	}
	if _, err := RemoveStaleStaging(filepath.Join(dir, "missing")); err == nil {
		t.Error("no error for a missing directory")
	}
}
