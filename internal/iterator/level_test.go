package iterator

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/manifest"
)

// testLevel is a level of in-memory tables with instrumentation.
type testLevel struct {
	files    []*manifest.FileMetadata
	contents map[uint64][]KV
	failOpen map[uint64]error
	// failAt injects a table error at an entry index of a file.
	failAt map[uint64]int
	opened []uint64
	open   int // tables currently open
	maxOpn int
	t      *testing.T
	check  func(f *manifest.FileMetadata) // called on every open
	iters  []*SliceIter
}

func (tl *testLevel) openFn(f *manifest.FileMetadata) (base.InternalIterator, error) {
	if tl.check != nil {
		tl.check(f)
	}
	if err := tl.failOpen[f.Num]; err != nil {
		return nil, err
	}
	tl.opened = append(tl.opened, f.Num)
	tl.open++
	tl.maxOpn = max(tl.maxOpn, tl.open)
	s := NewSliceIter(icmp, tl.contents[f.Num])
	if i, ok := tl.failAt[f.Num]; ok {
		s.FailAt(i, fmt.Errorf("table %d broken", f.Num))
	}
	tl.iters = append(tl.iters, s)
	return &closeCounting{InternalIterator: newInvalidating(s), tl: tl}, nil
}

type closeCounting struct {
	base.InternalIterator
	tl     *testLevel
	closed bool
}

func (c *closeCounting) Close() error {
	if c.closed {
		c.tl.t.Errorf("table closed twice")
	}
	c.closed = true
	c.tl.open--
	return c.InternalIterator.Close()
}

// newTestLevel cuts sorted kvs into tables at random and inserts empty
// tables (whose bounds are synthetic keys between neighbours; kvs' sequence
// numbers must be multiples of 4 so such keys exist).
func newTestLevel(t *testing.T, rng *rand.Rand, kvs []KV) *testLevel {
	tl := &testLevel{contents: map[uint64][]KV{}, failOpen: map[uint64]error{}, failAt: map[uint64]int{}, t: t}
	num := uint64(0)
	addFile := func(c []KV, smallest, largest []byte) {
		num++
		tl.files = append(tl.files, &manifest.FileMetadata{Num: num, Smallest: smallest, Largest: largest})
		tl.contents[num] = c
	}
	// between returns a synthetic internal key just before the entry b.
	between := func(b []byte, k int) []byte {
		uk, seq, _, _ := base.ParseInternalKey(b)
		return ikey(string(uk), seq+uint64(k), base.KindSet)
	}
	addEmpty := func(next []byte) {
		// Up to three empty tables in this gap, in order.
		for k := 3 - rng.IntN(3); k >= 1 && rng.IntN(3) == 0; k-- {
			x := between(next, k)
			addFile(nil, x, x)
		}
	}
	for i := 0; i < len(kvs); {
		n := 1 + rng.IntN(6)
		n = min(n, len(kvs)-i)
		c := kvs[i : i+n]
		addEmpty(c[0].Key)
		addFile(c, c[0].Key, c[n-1].Key)
		i += n
	}
	if len(kvs) > 0 && rng.IntN(3) == 0 {
		uk, seq, _, _ := base.ParseInternalKey(kvs[len(kvs)-1].Key)
		x := ikey(string(uk), seq-1, base.KindSet)
		addFile(nil, x, x)
	}
	return tl
}

// view returns the entries of the tables a bounded Level may open.
func (tl *testLevel) view(lower, upper []byte) []KV {
	var out []KV
	for _, f := range tl.files {
		if !overlaps(f, lower, upper) {
			continue
		}
		out = append(out, tl.contents[f.Num]...)
	}
	return out
}

func overlaps(f *manifest.FileMetadata, lower, upper []byte) bool {
	if lower != nil && string(f.LargestUserKey()) < string(lower) {
		return false
	}
	if upper != nil && string(f.SmallestUserKey()) >= string(upper) {
		return false
	}
	return true
}

func randomBounds(rng *rand.Rand, nkeys int) (lower, upper []byte) {
	if rng.IntN(2) == 0 {
		lower = randomSeekUKey(rng, nkeys)
	}
	if rng.IntN(2) == 0 {
		upper = randomSeekUKey(rng, nkeys)
	}
	return lower, upper
}

func TestLevelRandomized(t *testing.T) {
	for _, seed := range seeds(400) {
		rng := rand.New(rand.NewPCG(seed, 7))
		nkeys := 1 + rng.IntN(30)
		kvs := randomEntries(rng, rng.IntN(100), nkeys)
		tl := newTestLevel(t, rng, kvs)
		var lower, upper []byte
		if seed%3 != 0 {
			lower, upper = randomBounds(rng, nkeys)
		}
		tl.check = func(f *manifest.FileMetadata) {
			if !overlaps(f, lower, upper) {
				t.Fatalf("seed %d: opened %v outside bounds [%q, %q)", seed, f, lower, upper)
			}
		}
		l := NewLevel(base.DefaultComparer, tl.files, tl.openFn)
		l.SetBounds(lower, upper)
		runModel(t, seed, rng, l, modelOf(tl.view(lower, upper)), 300,
			func() []byte { return randomSeekIKey(rng, nkeys) })
		if err := l.Close(); err != nil {
			t.Fatalf("seed %d: close: %v", seed, err)
		}
		if tl.open != 0 || tl.maxOpn > 1 {
			t.Fatalf("seed %d: %d tables left open, up to %d open at once", seed, tl.open, tl.maxOpn)
		}
	}
}

func TestLevelReusesCurrentTable(t *testing.T) {
	kvs := []KV{set("a", 4, ""), set("b", 4, ""), set("c", 4, ""), set("d", 4, "")}
	tl := &testLevel{contents: map[uint64][]KV{1: kvs[:2], 2: kvs[2:]}, t: t}
	tl.files = []*manifest.FileMetadata{
		{Num: 1, Smallest: kvs[0].Key, Largest: kvs[1].Key},
		{Num: 2, Smallest: kvs[2].Key, Largest: kvs[3].Key},
	}
	l := NewLevel(base.DefaultComparer, tl.files, tl.openFn)
	l.SeekGE(ikey("a", 9, base.KindSet))
	l.SeekGE(ikey("b", 9, base.KindSet))
	l.SeekLT(ikey("b", 9, base.KindSet))
	l.Next()
	l.Next() // crosses into table 2
	l.SeekGE(ikey("d", 9, base.KindSet))
	if got := fmt.Sprint(tl.opened); got != "[1 2]" {
		t.Fatalf("opened %s, want [1 2]", got)
	}
	if string(base.UserKey(l.Key())) != "d" {
		t.Fatalf("at %s", base.FormatInternalKey(l.Key()))
	}
	if err := l.Close(); err != nil || tl.open != 0 {
		t.Fatalf("close: %v, %d open", err, tl.open)
	}
}

func TestLevelEmpty(t *testing.T) {
	l := NewLevel(base.DefaultComparer, nil, func(*manifest.FileMetadata) (base.InternalIterator, error) {
		t.Fatal("open called")
		return nil, nil
	})
	for _, o := range []op{{kind: "first"}, {kind: "last"}, {kind: "seekge", key: ikey("a", 1, 1)}, {kind: "seeklt", key: ikey("a", 1, 1)}, {kind: "next"}, {kind: "prev"}} {
		if apply(l, o) || l.Valid() || l.Key() != nil || l.Value() != nil {
			t.Fatalf("%v: valid on an empty level", o)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestLevelErrors(t *testing.T) {
	// Three tables of two entries each: a b | c d | e f.
	var kvs []KV
	for _, k := range []string{"a", "b", "c", "d", "e", "f"} {
		kvs = append(kvs, set(k, 4, k))
	}
	mk := func() *testLevel {
		tl := &testLevel{contents: map[uint64][]KV{}, failOpen: map[uint64]error{}, failAt: map[uint64]int{}, t: t}
		for i := 0; i < 3; i++ {
			c := kvs[2*i : 2*i+2]
			tl.files = append(tl.files, &manifest.FileMetadata{Num: uint64(i + 1), Smallest: c[0].Key, Largest: c[1].Key})
			tl.contents[uint64(i+1)] = c
		}
		return tl
	}
	openErr := errors.New("no such file")
	for _, tc := range []struct {
		name   string
		setup  func(tl *testLevel)
		walk   func(l *Level) bool
		back   bool
		nKeys  int // entries seen before the error
		errStr string
	}{
		{"open error forward", func(tl *testLevel) { tl.failOpen[2] = openErr }, nil, false, 2, "no such file"},
		{"open error backward", func(tl *testLevel) { tl.failOpen[2] = openErr }, nil, true, 2, "no such file"},
		{"open error on first", func(tl *testLevel) { tl.failOpen[1] = openErr }, nil, false, 0, "no such file"},
		{"table error forward", func(tl *testLevel) { tl.failAt[2] = 1 }, nil, false, 3, "table 2 broken"},
		{"table error backward", func(tl *testLevel) { tl.failAt[2] = 0 }, nil, true, 3, "table 2 broken"},
		{"table error on seek", func(tl *testLevel) { tl.failAt[3] = 0 }, func(l *Level) bool { return l.SeekGE(ikey("e", 9, 1)) }, false, 0, "table 3 broken"},
		{"table error on seeklt", func(tl *testLevel) { tl.failAt[1] = 1 }, func(l *Level) bool { return l.SeekLT(ikey("c", 9, 1)) }, true, 0, "table 1 broken"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tl := mk()
			tc.setup(tl)
			l := NewLevel(base.DefaultComparer, tl.files, tl.openFn)
			walk := tc.walk
			if walk == nil {
				walk = func(l *Level) bool {
					if tc.back {
						return l.Last()
					}
					return l.First()
				}
			}
			n := 0
			for ok := walk(l); ok; ok = stepFn(l, tc.back) {
				n++
			}
			if n != tc.nKeys || l.Error() == nil || l.Error().Error() != tc.errStr {
				t.Fatalf("saw %d entries, err %v; want %d, %s", n, l.Error(), tc.nKeys, tc.errStr)
			}
			if l.First() || l.Last() || l.SeekGE(ikey("a", 9, 1)) || l.Valid() {
				t.Fatal("failed level repositioned")
			}
			if err := l.Close(); err == nil || err.Error() != tc.errStr {
				t.Fatalf("Close = %v", err)
			}
			if tl.open != 0 {
				t.Fatalf("%d tables left open", tl.open)
			}
		})
	}
}

// TestLevelBoundsNeverOpenOutside checks a bounded scan in both directions
// opens exactly the tables overlapping the bounds.
func TestLevelBoundsNeverOpenOutside(t *testing.T) {
	var kvs []KV
	for i := range 20 {
		kvs = append(kvs, set(fmt.Sprintf("k%02d", i), 4, ""))
	}
	tl := &testLevel{contents: map[uint64][]KV{}, t: t}
	for i := 0; i < 10; i++ {
		c := kvs[2*i : 2*i+2]
		tl.files = append(tl.files, &manifest.FileMetadata{Num: uint64(i), Smallest: c[0].Key, Largest: c[1].Key})
		tl.contents[uint64(i)] = c
	}
	l := NewLevel(base.DefaultComparer, tl.files, tl.openFn)
	l.SetBounds([]byte("k05"), []byte("k12")) // tables 2..5
	n := 0
	for ok := l.First(); ok; ok = l.Next() {
		n++
	}
	for ok := l.Last(); ok; ok = l.Prev() {
		n++
	}
	l.SeekGE(ikey("k00", 9, 1))
	l.SeekLT(ikey("k19", 9, 1))
	if got := fmt.Sprint(tl.opened); got != "[2 3 4 5 5 4 3 2 2 5]" {
		t.Fatalf("opened %s", got)
	}
	if n != 16 {
		t.Fatalf("saw %d entries, want 16 (8 per direction)", n)
	}
	_ = l.Close()
}

func TestLevelOpenReturnsNil(t *testing.T) {
	f := &manifest.FileMetadata{Num: 7, Smallest: ikey("a", 1, 1), Largest: ikey("b", 1, 1)}
	l := NewLevel(base.DefaultComparer, []*manifest.FileMetadata{f},
		func(*manifest.FileMetadata) (base.InternalIterator, error) { return nil, nil })
	if l.First() || l.Error() == nil {
		t.Fatalf("First with a nil table iterator: err %v", l.Error())
	}
}
