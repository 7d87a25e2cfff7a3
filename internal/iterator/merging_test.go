package iterator

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/strata-db/strata/internal/base"
)

// collect walks it forward from First (or backward from Last) and renders
// every entry.
func collect(it base.InternalIterator, backward bool) string {
	var parts []string
	var ok bool
	if backward {
		ok = it.Last()
	} else {
		ok = it.First()
	}
	for ; ok; ok = stepFn(it, backward) {
		parts = append(parts, fmtKV(it.Key(), it.Value()))
	}
	if err := it.Error(); err != nil {
		parts = append(parts, "err="+err.Error())
	}
	return strings.Join(parts, " ")
}

func stepFn(it base.InternalIterator, backward bool) bool {
	if backward {
		return it.Prev()
	}
	return it.Next()
}

func TestMergingTable(t *testing.T) {
	for _, tc := range []struct {
		name     string
		children [][]KV
		want     string
	}{
		{"none", nil, ""},
		{"empty children", [][]KV{{}, {}}, ""},
		{"one", [][]KV{{set("a", 1, "x"), set("b", 2, "y")}}, `"a"#1,SET="x" "b"#2,SET="y"`},
		{
			"interleaved",
			[][]KV{
				{set("a", 1, "1"), set("c", 3, "3")},
				{},
				{set("b", 2, "2"), set("d", 4, "4")},
			},
			`"a"#1,SET="1" "b"#2,SET="2" "c"#3,SET="3" "d"#4,SET="4"`,
		},
		{
			"versions across children: newest first",
			[][]KV{
				{set("k", 5, "old")},
				{set("k", 9, "new"), del("k", 7)},
			},
			`"k"#9,SET="new" "k"#7,DEL="" "k"#5,SET="old"`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mk := func() *Merging {
				var its []base.InternalIterator
				for _, c := range tc.children {
					its = append(its, NewSliceIter(icmp, sortKVs(slices.Clone(c))))
				}
				return NewMerging(icmp, its...)
			}
			if got := collect(mk(), false); got != tc.want {
				t.Errorf("forward:\n got %s\nwant %s", got, tc.want)
			}
			parts := strings.Fields(tc.want)
			slices.Reverse(parts)
			want := strings.Join(parts, " ")
			if got := collect(mk(), true); got != want {
				t.Errorf("backward:\n got %s\nwant %s", got, want)
			}
		})
	}
}

// randomEntries makes n entries with user keys drawn from nkeys keys and
// unique sequence numbers 4, 8, 12, ... (gaps leave room for synthetic keys
// between neighbours).
func randomEntries(rng *rand.Rand, n, nkeys int) []KV {
	seqs := rng.Perm(n)
	kvs := make([]KV, n)
	for i := range kvs {
		seq := uint64(seqs[i]+1) * 4
		uk := fmt.Sprintf("k%03d", rng.IntN(nkeys))
		if rng.IntN(4) == 0 {
			kvs[i] = del(uk, seq)
		} else {
			kvs[i] = set(uk, seq, fmt.Sprintf("v%d", seq))
		}
	}
	return sortKVs(kvs)
}

// split deals the sorted kvs out to n children at random; each child's
// slice stays sorted.
func split(rng *rand.Rand, kvs []KV, n int) [][]KV {
	out := make([][]KV, n)
	for _, kv := range kvs {
		i := rng.IntN(n)
		out[i] = append(out[i], kv)
	}
	return out
}

// randomSeekIKey returns an internal key near the data: a random user key
// (present, absent or out of range) with a random sequence and kind.
func randomSeekIKey(rng *rand.Rand, nkeys int) []byte {
	uk := randomSeekUKey(rng, nkeys)
	return ikey(string(uk), uint64(rng.IntN(4*nkeys*8+8)), base.Kind(rng.IntN(2)))
}

func randomSeekUKey(rng *rand.Rand, nkeys int) []byte {
	switch rng.IntN(10) {
	case 0:
		return []byte("")
	case 1:
		return []byte(fmt.Sprintf("k%03d\x00", rng.IntN(nkeys+1)))
	case 2:
		return []byte("z")
	}
	return []byte(fmt.Sprintf("k%03d", rng.IntN(nkeys+1)))
}

func modelOf(kvs []KV) *sliceModel {
	m := &sliceModel{cmp: icmp, pos: -1}
	for _, kv := range kvs {
		m.keys = append(m.keys, kv.Key)
		m.vals = append(m.vals, kv.Value)
	}
	return m
}

func TestMergingRandomized(t *testing.T) {
	m := &Merging{} // reused across seeds through Init
	for _, seed := range seeds(400) {
		rng := rand.New(rand.NewPCG(seed, 0))
		nkeys := 1 + rng.IntN(40)
		kvs := randomEntries(rng, rng.IntN(120), nkeys)
		nchild := 1 + rng.IntN(8)
		var its []base.InternalIterator
		for _, c := range split(rng, kvs, nchild) {
			its = append(its, newInvalidating(NewSliceIter(icmp, c)))
		}
		m.Init(icmp, its...)
		runModel(t, seed, rng, m, modelOf(kvs), 300, func() []byte { return randomSeekIKey(rng, nkeys) })
		if err := m.Close(); err != nil {
			t.Fatalf("seed %d: close: %v", seed, err)
		}
	}
}

// TestMergingEqualKeys pins the behaviour with the same internal key in
// several children, which the engine never produces: one direction yields
// every copy (ties by child order) and direction changes terminate.
func TestMergingEqualKeys(t *testing.T) {
	mk := func() *Merging {
		return NewMerging(icmp,
			NewSliceIter(icmp, []KV{set("a", 1, "0"), set("b", 1, "0"), set("c", 1, "0")}),
			NewSliceIter(icmp, []KV{set("b", 1, "1")}),
			NewSliceIter(icmp, []KV{set("b", 1, "2"), set("c", 1, "2")}),
		)
	}
	if got, want := collect(mk(), false), `"a"#1,SET="0" "b"#1,SET="0" "b"#1,SET="1" "b"#1,SET="2" "c"#1,SET="0" "c"#1,SET="2"`; got != want {
		t.Errorf("forward:\n got %s\nwant %s", got, want)
	}
	if got, want := collect(mk(), true), `"c"#1,SET="2" "c"#1,SET="0" "b"#1,SET="2" "b"#1,SET="1" "b"#1,SET="0" "a"#1,SET="0"`; got != want {
		t.Errorf("backward:\n got %s\nwant %s", got, want)
	}
	// Zig-zag: every step must make progress or stop, never loop.
	m := mk()
	rng := rand.New(rand.NewPCG(1, 2))
	m.First()
	for i := 0; i < 1000 && m.Valid(); i++ {
		if rng.IntN(3) == 0 {
			m.Prev()
		} else {
			m.Next()
		}
	}
	if err := m.Error(); err != nil {
		t.Fatal(err)
	}
}

func TestMergingErrors(t *testing.T) {
	boom := errors.New("boom")
	kvsA := []KV{set("a", 1, ""), set("c", 1, ""), set("e", 1, ""), set("g", 1, "")}
	kvsB := []KV{set("b", 1, ""), set("d", 1, ""), set("f", 1, ""), set("h", 1, "")}
	for _, tc := range []struct {
		name   string
		failAt int // index in child B
		ops    []op
		// stepsOK is how many ops succeed before the error surfaces.
		stepsOK int
	}{
		{"next into failure", 2, []op{{kind: "first"}, {kind: "next"}, {kind: "next"}, {kind: "next"}, {kind: "next"}}, 4},
		{"first fails", 0, []op{{kind: "first"}}, 0},
		{"seek fails", 1, []op{{kind: "seekge", key: ikey("c", 1, base.KindSet)}}, 0},
		{"prev into failure", 1, []op{{kind: "last"}, {kind: "prev"}, {kind: "prev"}, {kind: "prev"}, {kind: "prev"}}, 3},
		{"switch to reverse fails", 1, []op{{kind: "seekge", key: ikey("e", 1, base.KindSet)}, {kind: "prev"}}, 1},
		{"switch to forward fails", 3, []op{{kind: "seeklt", key: ikey("g", 1, base.KindSet)}, {kind: "next"}}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := NewSliceIter(icmp, kvsB)
			b.FailAt(tc.failAt, boom)
			a := NewSliceIter(icmp, kvsA)
			m := NewMerging(icmp, a, b)
			for i, o := range tc.ops {
				ok := apply(m, o)
				if i < tc.stepsOK {
					if !ok || m.Error() != nil {
						t.Fatalf("op %d (%v): ok %v err %v", i, o, ok, m.Error())
					}
					continue
				}
				if ok || m.Valid() || !errors.Is(m.Error(), boom) {
					t.Fatalf("op %d (%v): ok %v valid %v err %v, want boom", i, o, ok, m.Valid(), m.Error())
				}
				break
			}
			// Sticky: nothing repositions a failed iterator.
			for _, o := range []op{{kind: "first"}, {kind: "last"}, {kind: "seekge", key: ikey("a", 1, base.KindSet)}, {kind: "next"}} {
				if apply(m, o) || m.Key() != nil || m.Value() != nil {
					t.Fatalf("%v after error: valid", o)
				}
			}
			if err := m.Close(); !errors.Is(err, boom) {
				t.Fatalf("Close = %v, want boom", err)
			}
			if a.Closes != 1 || b.Closes != 1 {
				t.Fatalf("closes = %d, %d; want 1, 1", a.Closes, b.Closes)
			}
		})
	}
}

func TestMergingUnpositioned(t *testing.T) {
	m := NewMerging(icmp, NewSliceIter(icmp, []KV{set("a", 1, "")}))
	if m.Valid() || m.Next() || m.Prev() || m.Key() != nil || m.Value() != nil || m.Error() != nil {
		t.Fatal("unpositioned iterator claims a position")
	}
}
