package strata

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/strata-db/strata/internal/base"
)

// The damage-history test: the corruption matrix's database has each key
// written once, so a read cannot return a stale value there. This one has
// history: batch i sets the counter key to i, overwrites some keys and
// deletes others, and the database holds those batches across compacted
// levels, flushed tables and logs. After damage to any of its files, every
// state a read shows — after a default Open, through a read-only handle's
// CatchUp, and after Repair — must be an exact prefix of the batches: with
// the counter saying c, every key reads as it was after batch c, or fails
// with an error (corruption, or a Repair hole). No stale value, no deleted
// key, no key from a later batch, without an error.

// historyBatches is the number of batches the database is built from.
const historyBatches = 300

// historyKey names key k of the history database.
func historyKey(k int) []byte { return fmt.Appendf(nil, "h%04d", k) }

// historyModel is the state after each batch: states[i] is after batch i
// (states[0] is the empty database).
type historyModel struct{ states []map[string]string }

// buildHistory writes the batches into dir (flushing and compacting along
// the way, so they lie in several levels, tables and the log) and returns
// the model.
func buildHistory(t *testing.T, dir string, seed uint64) *historyModel {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 99))
	db := mustOpen(t, dir, &Options{BlockSize: 512, WriteBufferSize: 256 << 10, DisableAutoCompactions: true})
	m := &historyModel{states: []map[string]string{{}}}
	cur := map[string]string{}
	for i := 1; i <= historyBatches; i++ {
		b := db.NewBatch()
		b.Put([]byte("counter"), fmt.Appendf(nil, "%d", i))
		cur["counter"] = fmt.Sprint(i)
		for range 1 + rng.IntN(8) {
			k := historyKey(rng.IntN(400))
			if rng.IntN(4) == 0 {
				b.Delete(k)
				delete(cur, string(k))
			} else {
				v := fmt.Sprintf("b%d-%s-%0200d", i, k, 0) // ~200 bytes: the log spans several blocks
				b.Put(k, []byte(v))
				cur[string(k)] = v
			}
		}
		if err := db.Write(b, nil); err != nil {
			t.Fatal(err)
		}
		m.states = append(m.states, cloneMap(cur))
		switch i {
		case 100:
			if err := db.CompactRange(nil, nil); err != nil {
				t.Fatal(err)
			}
		case 200, 250:
			if err := db.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return m
}

func cloneMap(m map[string]string) map[string]string {
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// isDamageError reports an error a read may return on damaged data.
func isDamageError(err error) bool {
	return errors.Is(err, ErrCorruption) || errors.Is(err, ErrHole)
}

// checkPrefixState checks that db shows the state after some batch (the
// counter says which), or fails with damage errors.
func (m *historyModel) checkPrefixState(t *testing.T, what string, db *DB) {
	t.Helper()
	v, err := db.Get([]byte("counter"))
	if isDamageError(err) {
		return // which batch the state is at is unknown; reads may fail
	}
	if err != nil {
		t.Fatalf("%s: counter: %v", what, err)
	}
	var c int
	if _, err := fmt.Sscan(string(v), &c); err != nil || c < 1 || c > historyBatches {
		t.Fatalf("%s: counter %q", what, v)
	}
	want := m.states[c]
	for k := range 400 {
		key := historyKey(k)
		v, err := db.Get(key)
		w, live := want[string(key)]
		switch {
		case isDamageError(err):
		case errors.Is(err, ErrNotFound):
			if live {
				t.Fatalf("%s: at batch %d, %s = %q, but it reads as absent", what, c, key, w)
			}
		case err != nil:
			t.Fatalf("%s: %s: %v", what, key, err)
		case !live || string(v) != w:
			t.Fatalf("%s: at batch %d, %s reads %q; want %q (live %v): a stale or invented value", what, c, key, v, w, live)
		}
	}
	it := db.NewIterator(&IterOptions{LowerBound: []byte("h"), UpperBound: []byte("i")})
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range want {
			if k != "counter" && !yield(k) {
				return
			}
		}
	})
	i := 0
	for k, v := range it.All() {
		if i >= len(keys) || string(k) != keys[i] || string(v) != want[keys[i]] {
			t.Fatalf("%s: at batch %d, the scan shows %s=%q where the state has %v", what, c, k, v, keys[i:min(i+1, len(keys))])
		}
		i++
	}
	if err := it.Close(); err == nil && i != len(keys) {
		t.Fatalf("%s: at batch %d, the scan ended after %d of %d keys without an error", what, c, i, len(keys))
	} else if err != nil && !isDamageError(err) {
		t.Fatalf("%s: scan: %v", what, err)
	}
}

// TestDamageNeverShowsStaleState damages each kind of file of a database
// with history (flipped bytes and truncations at random places, several
// seeds) and checks every state that Open, CatchUp and Repair show (see
// above).
func TestDamageNeverShowsStaleState(t *testing.T) {
	seeds := uint64(4)
	if testing.Short() {
		seeds = 2
	}
	for seed := range seeds {
		golden := t.TempDir()
		model := buildHistory(t, golden, seed)
		rng := rand.New(rand.NewPCG(seed, 7))
		for _, ft := range []base.FileType{base.FileTypeTable, base.FileTypeLog, base.FileTypeManifest} {
			for trial := range 4 {
				name := fmt.Sprintf("seed=%d/%s/%d", seed, ft, trial)
				t.Run(name, func(t *testing.T) {
					dir := filepath.Join(t.TempDir(), "db")
					copyDir(t, golden, dir)
					files := filesOfType(t, dir, ft)
					if len(files) == 0 {
						t.Skipf("no %s file", ft)
					}
					file := files[rng.IntN(len(files))]
					fi, err := os.Stat(file)
					if err != nil || fi.Size() == 0 {
						t.Skipf("%s is empty", file)
					}
					off := rng.Int64N(fi.Size())
					if trial%2 == 0 {
						xorByte(t, file, off, byte(1+rng.IntN(255)))
					} else {
						truncateFile(t, file, off)
					}
					t.Logf("damaged %s at %d (%s)", filepath.Base(file), off, map[bool]string{true: "flip", false: "truncate"}[trial%2 == 0])
					damaged := filepath.Join(t.TempDir(), "db")
					copyDir(t, dir, damaged)

					// A read-only handle, opened and caught up.
					if ro, err := Open(damaged, &Options{ReadOnly: true}); err == nil {
						model.checkPrefixState(t, "read-only open", ro)
						if err := ro.CatchUp(); err == nil {
							model.checkPrefixState(t, "catch-up", ro)
						} else if !isDamageError(err) {
							t.Fatalf("catch-up: %v", err)
						}
						ro.Close()
					} else if !isDamageError(err) {
						t.Fatalf("read-only open: %v", err)
					}
					// A default open.
					if db, err := Open(damaged, nil); err == nil {
						model.checkPrefixState(t, "open", db)
						db.Close()
					} else if !isDamageError(err) {
						t.Fatalf("open: %v", err)
					}
					// Repair.
					if _, err := Repair(dir, nil); err != nil {
						t.Fatalf("repair: %v", err)
					}
					db, err := Open(dir, nil)
					if err != nil {
						t.Fatalf("open after repair: %v", err)
					}
					model.checkPrefixState(t, "repair", db)
					db.Close()
				})
			}
		}
	}
}
