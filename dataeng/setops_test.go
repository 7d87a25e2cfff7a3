package dataeng

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/strata-db/strata"
)

// modelSets computes the set comparison of two key sets in memory.
func modelSets(left, right map[string]string, lower, upper []byte) (c SetCounts, sets map[KeySet][]string) {
	in := func(k string) bool {
		return (lower == nil || k >= string(lower)) && (upper == nil || k < string(upper))
	}
	sets = map[KeySet][]string{}
	for k := range left {
		if !in(k) {
			continue
		}
		c.Left++
		if _, ok := right[k]; ok {
			c.Both++
			sets[InBoth] = append(sets[InBoth], k)
		} else {
			sets[OnlyLeft] = append(sets[OnlyLeft], k)
		}
	}
	for k := range right {
		if !in(k) {
			continue
		}
		c.Right++
		if _, ok := left[k]; !ok {
			sets[OnlyRight] = append(sets[OnlyRight], k)
		}
	}
	for _, s := range sets {
		slices.Sort(s)
	}
	return c, sets
}

// collector gathers emitted keys per part and set, safe for concurrent use.
type collector struct {
	mu   sync.Mutex
	keys map[KeySet]map[int][]string
}

func (c *collector) onKey(part int, set KeySet, key []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.keys == nil {
		c.keys = map[KeySet]map[int][]string{}
	}
	if c.keys[set] == nil {
		c.keys[set] = map[int][]string{}
	}
	c.keys[set][part] = append(c.keys[set][part], string(key))
	return nil
}

// sorted concatenates the parts in order.
func (c *collector) sorted(set KeySet) []string {
	var out []string
	for _, p := range slices.Sorted(maps.Keys(c.keys[set])) {
		out = append(out, c.keys[set][p]...)
	}
	return out
}

// TestCompareKeySetsModel: on random data (keys with 0x00 bytes, the empty
// key, deletions, data in memtables and tables, databases of different
// sizes), the counts and emitted keys equal the in-memory computation,
// sequentially and in parallel.
func TestCompareKeySetsModel(t *testing.T) {
	forSeeds(t, 8, 3, func(t *testing.T, seed uint64, rng *rand.Rand) {
		left, right := memDB(t), memDB(t)
		lm := fillRandom(t, left, rng, 300+rng.IntN(4000))
		rm := fillRandom(t, right, rng, 300+rng.IntN(400))
		if seed%2 == 1 {
			left, right, lm, rm = right, left, rm, lm
		}
		ranges := []struct{ lower, upper []byte }{{nil, nil}, {[]byte{0}, []byte("b")}, {[]byte{}, []byte{0, 0}}}
		for _, rg := range ranges {
			want, wantSets := modelSets(lm, rm, rg.lower, rg.upper)
			for _, parallel := range []bool{false, true} {
				name := fmt.Sprintf("seed=%d [%q,%q) parallel=%v", seed, rg.lower, rg.upper, parallel)
				var col collector
				o := KeySetOptions{Lower: rg.lower, Upper: rg.upper, Emit: OnlyLeft | OnlyRight | InBoth, OnKey: col.onKey,
					Parts: 1 + rng.IntN(12), Workers: 1 + rng.IntN(4)}
				var progress int64
				o.Progress = func(n int64) { progress += n }
				var got SetCounts
				var err error
				if parallel {
					got, err = ParallelCompareKeySets(context.Background(), left, right, o)
				} else {
					got, err = CompareKeySets(context.Background(), left, right, o)
				}
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if got != want {
					t.Fatalf("%s: %v, want %v", name, got, want)
				}
				if got.OnlyLeft() != int64(len(wantSets[OnlyLeft])) || got.OnlyRight() != int64(len(wantSets[OnlyRight])) ||
					got.Union() != got.OnlyLeft()+got.OnlyRight()+got.Both {
					t.Fatalf("%s: derived counts of %v wrong", name, got)
				}
				if progress != got.Left+got.Right {
					t.Fatalf("%s: progress reported %d keys, read %d", name, progress, got.Left+got.Right)
				}
				for _, set := range []KeySet{OnlyLeft, OnlyRight, InBoth} {
					if g := col.sorted(set); !slices.Equal(g, wantSets[set]) {
						t.Fatalf("%s: %v keys %q\nwant %q", name, set, g, wantSets[set])
					}
				}
			}
		}
		// Against itself: everything is in both.
		c, err := ParallelCompareKeySets(context.Background(), left, left, KeySetOptions{})
		if err != nil || c.Left != int64(len(lm)) || c.Right != c.Left || c.Both != c.Left {
			t.Fatalf("seed %d: left against itself: %v %v (%d keys)", seed, c, err, len(lm))
		}
	})
}

// TestCompareKeySetsSnapshots: given snapshots are read; writes after them
// are not seen.
func TestCompareKeySetsSnapshots(t *testing.T) {
	left, right := memDB(t), memDB(t)
	left.Put([]byte("a"), nil, nil)
	right.Put([]byte("a"), nil, nil)
	ls, rs := left.NewSnapshot(), right.NewSnapshot()
	defer ls.Close()
	defer rs.Close()
	left.Put([]byte("b"), nil, nil)
	right.Delete([]byte("a"), nil)
	o := KeySetOptions{LeftSnapshot: ls, RightSnapshot: rs}
	for _, f := range []func(context.Context, *strata.DB, *strata.DB, KeySetOptions) (SetCounts, error){CompareKeySets, ParallelCompareKeySets} {
		c, err := f(context.Background(), left, right, o)
		if err != nil || c != (SetCounts{1, 1, 1}) {
			t.Fatalf("with snapshots: %v %v", c, err)
		}
		c, err = f(context.Background(), left, right, KeySetOptions{})
		if err != nil || c != (SetCounts{2, 0, 0}) {
			t.Fatalf("latest: %v %v", c, err)
		}
	}
	if _, err := CompareKeySets(context.Background(), left, right, KeySetOptions{LeftSnapshot: rs}); err == nil {
		t.Fatal("a snapshot of the wrong database was accepted")
	}
}

func TestCompareKeySetsErrors(t *testing.T) {
	left, right := memDB(t), memDB(t)
	for i := range 3000 {
		left.Put(fmt.Appendf(nil, "k%05d", i), nil, nil)
	}
	left.Flush()
	ctx := context.Background()
	if _, err := CompareKeySets(ctx, left, right, KeySetOptions{Emit: InBoth}); err == nil {
		t.Fatal("Emit without OnKey accepted")
	}
	boom := errors.New("boom")
	o := KeySetOptions{Emit: OnlyLeft, Parts: 8, OnKey: func(part int, set KeySet, key []byte) error {
		if string(key) == "k02000" {
			return boom
		}
		return nil
	}}
	if _, err := ParallelCompareKeySets(ctx, left, right, o); !errors.Is(err, boom) {
		t.Fatalf("OnKey error: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := CompareKeySets(cctx, left, right, KeySetOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: %v", err)
	}
	rev := &strata.Comparer{Name: "reverse", Compare: func(a, b []byte) int { return -strata.DefaultComparer.Compare(a, b) },
		Separator: func(dst, a, b []byte) []byte { return append(dst, a...) },
		Successor: func(dst, a []byte) []byte { return append(dst, a...) }}
	other := mustOpen(t, "rev", &strata.Options{FS: strata.NewMemFS(), Comparator: rev})
	defer other.Close()
	if _, err := CompareKeySets(ctx, left, other, KeySetOptions{}); err == nil || !strings.Contains(err.Error(), "comparators") {
		t.Fatalf("different comparators: %v", err)
	}
	if s := (OnlyLeft | InBoth).String(); s != "left|both" {
		t.Fatalf("KeySet string %q", s)
	}
}
