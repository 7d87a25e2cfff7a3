package strata

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestLevelSizingSwitch writes a database with one LevelSizing, reopens it
// with the other, and so on: nothing on disk records the sizing, so each
// open takes the tree as it finds it. After every phase (writes, deletes,
// waiting for compactions, a reopen) the database reads like the model, and
// Metrics reports the base level. The seed is logged.
func TestLevelSizingSwitch(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 3))
	fs := NewMemFS()
	model := map[string][]byte{}
	sorted := func() []kvPair {
		var out []kvPair
		for k, v := range model {
			out = append(out, kvPair{[]byte(k), v})
		}
		slices.SortFunc(out, func(a, b kvPair) int { return bytes.Compare(a.k, b.k) })
		return out
	}
	n := 6000
	if testing.Short() {
		n = 3000
	}
	for phase, sizing := range []LevelSizing{FixedLevelSizes, DynamicLevelSizes, FixedLevelSizes, DynamicLevelSizes} {
		db, err := Open("db", &Options{FS: fs, LevelSizing: sizing, BaseLevelSize: 16 << 10,
			WriteBufferSize: 8 << 10, TargetFileSize: 4 << 10, BlockSize: 256, L0CompactionTrigger: 2,
			LevelSizeMultiplier: 3})
		if err != nil {
			t.Fatalf("phase %d (%s): %v", phase, sizing, err)
		}
		checkDBEquals(t, db, sorted())
		for range n {
			k := fmt.Appendf(nil, "key%05d", rng.IntN(4000))
			if rng.IntN(6) == 0 {
				if err := db.Delete(k, nil); err != nil {
					t.Fatal(err)
				}
				delete(model, string(k))
				continue
			}
			v := bytes.Repeat([]byte{byte(phase), byte(rng.IntN(256))}, 1+rng.IntN(40))
			if err := db.Put(k, v, nil); err != nil {
				t.Fatal(err)
			}
			model[string(k)] = v
		}
		if err := db.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := db.WaitForCompactions(); err != nil {
			t.Fatal(err)
		}
		checkDBEquals(t, db, sorted())
		m := db.Metrics()
		t.Logf("phase %d (%s): base level %d, files per level %v", phase, sizing, m.BaseLevel, levelFiles(m))
		if sizing == FixedLevelSizes && m.BaseLevel != 1 {
			t.Errorf("phase %d: base level %d with fixed level sizes", phase, m.BaseLevel)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func levelFiles(m *Metrics) []int {
	out := make([]int, len(m.Levels))
	for i, l := range m.Levels {
		out[i] = l.Files
	}
	return out
}
