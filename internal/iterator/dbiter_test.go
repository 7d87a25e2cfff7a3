package iterator

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/manifest"
)

// visibleModel is what a DB iterator at snapshot snap with bounds [lower,
// upper) must show over the sorted entries kvs.
func visibleModel(kvs []KV, snap uint64, lower, upper []byte) *sliceModel {
	m := &sliceModel{cmp: bytes.Compare, pos: -1}
	var last []byte
	done := false
	var ops [][]byte // the current key's operands, newest first
	emit := func(uk []byte, base []byte, has bool) {
		done = true
		if !has && len(ops) == 0 {
			return
		}
		v := base
		if len(ops) > 0 {
			slices.Reverse(ops)
			v, _ = testMerge(uk, base, has, ops)
		}
		if lower != nil && bytes.Compare(uk, lower) < 0 || upper != nil && bytes.Compare(uk, upper) >= 0 {
			return
		}
		m.keys = append(m.keys, uk)
		m.vals = append(m.vals, v)
	}
	for _, kv := range kvs {
		uk, seq, kind, ok := base.ParseInternalKey(kv.Key)
		if !ok {
			panic("visibleModel: malformed key")
		}
		if seq > snap {
			continue
		}
		if last == nil || !bytes.Equal(uk, last) {
			if last != nil && !done {
				emit(last, nil, false) // operands with nothing beneath
			}
			last, done, ops = uk, false, nil
		}
		if done {
			continue // an older entry of a key already decided
		}
		switch kind {
		case base.KindMerge:
			ops = append(ops, kv.Value)
		case base.KindSet:
			emit(uk, kv.Value, true)
		default:
			emit(uk, nil, false)
		}
	}
	if last != nil && !done {
		emit(last, nil, false)
	}
	return m
}

// testMerge is the merge operator of these tests: the value and operands
// joined by commas.
func testMerge(_, existing []byte, has bool, ops [][]byte) ([]byte, error) {
	var parts [][]byte
	if has {
		parts = append(parts, existing)
	}
	return bytes.Join(append(parts, ops...), []byte(",")), nil
}

// scan renders every user entry of d forward (or backward).
func scan(d *DBIter, backward bool) string {
	var parts []string
	var ok bool
	if backward {
		ok = d.Last()
	} else {
		ok = d.First()
	}
	for ; ok; ok = stepFn(d, backward) {
		parts = append(parts, fmt.Sprintf("%s=%s", d.Key(), d.Value()))
	}
	if err := d.Error(); err != nil {
		parts = append(parts, "err="+err.Error())
	}
	return strings.Join(parts, " ")
}

func newTestDB(kvs []KV, seq uint64, lower, upper string) *DBIter {
	var lo, up []byte
	if lower != "" {
		lo = []byte(lower)
	}
	if upper != "" {
		up = []byte(upper)
	}
	it := NewSliceIter(icmp, sortKVs(kvs))
	return NewDBIter(base.DefaultComparer, newInvalidating(it), seq, lo, up)
}

func TestDBTable(t *testing.T) {
	data := []KV{
		set("a", 1, "a1"),
		set("b", 2, "b2"), set("b", 5, "b5"),
		set("c", 3, "c3"), del("c", 6),
		del("d", 4), set("d", 7, "d7"),
		set("e", 9, "e9"),
	}
	for _, tc := range []struct {
		name         string
		seq          uint64
		lower, upper string
		want         string
	}{
		{"latest", base.MaxSeq, "", "", "a=a1 b=b5 d=d7 e=e9"},
		{"snapshot 0 sees nothing", 0, "", "", ""},
		{"snapshot 1", 1, "", "", "a=a1"},
		{"snapshot 4: d deleted, c alive", 4, "", "", "a=a1 b=b2 c=c3"},
		{"snapshot 5", 5, "", "", "a=a1 b=b5 c=c3"},
		{"snapshot 6: c deleted", 6, "", "", "a=a1 b=b5"},
		{"lower bound inclusive", base.MaxSeq, "b", "", "b=b5 d=d7 e=e9"},
		{"upper bound exclusive", base.MaxSeq, "", "d", "a=a1 b=b5"},
		{"both bounds", base.MaxSeq, "b\x00", "e", "d=d7"},
		{"empty range", base.MaxSeq, "c", "c", ""},
		{"inverted range", base.MaxSeq, "e", "b", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := scan(newTestDB(data, tc.seq, tc.lower, tc.upper), false); got != tc.want {
				t.Errorf("forward:\n got %s\nwant %s", got, tc.want)
			}
			parts := strings.Fields(tc.want)
			for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
				parts[i], parts[j] = parts[j], parts[i]
			}
			want := strings.Join(parts, " ")
			if got := scan(newTestDB(data, tc.seq, tc.lower, tc.upper), true); got != want {
				t.Errorf("backward:\n got %s\nwant %s", got, want)
			}
		})
	}
}

// TestDBSeeksAndSwitches pins seeks, bound clamping and direction changes.
func TestDBSeeksAndSwitches(t *testing.T) {
	data := []KV{
		set("a", 4, "a"), set("b", 8, "b"), del("c", 12), set("c", 2, "c-old"),
		set("d", 16, "d"), set("e", 99, "invisible"), set("f", 20, "f"), set("g", 24, "g"),
	}
	d := newTestDB(data, 50, "b", "g")
	steps := []struct {
		op   op
		want string // key=value or "-"
	}{
		{op{kind: "seekge", key: []byte("a")}, "b=b"}, // clamped to lower
		{op{kind: "next"}, "d=d"},                     // c is deleted
		{op{kind: "prev"}, "b=b"},
		{op{kind: "prev"}, "-"},                       // a is below lower
		{op{kind: "seeklt", key: []byte("z")}, "f=f"}, // clamped to upper
		{op{kind: "next"}, "-"},                       // g is at upper
		{op{kind: "seeklt", key: []byte("f")}, "d=d"},
		{op{kind: "next"}, "f=f"}, // e is invisible
		{op{kind: "prev"}, "d=d"},
		{op{kind: "next"}, "f=f"},
		{op{kind: "seekge", key: []byte("c")}, "d=d"},
		{op{kind: "seekge", key: []byte("g")}, "-"},
		{op{kind: "seeklt", key: []byte("b")}, "-"},
		{op{kind: "seeklt", key: []byte("c")}, "b=b"},
		{op{kind: "next"}, "d=d"},
		{op{kind: "first"}, "b=b"},
		{op{kind: "last"}, "f=f"},
	}
	for i, s := range steps {
		apply(d, s.op)
		got := "-"
		if d.Valid() {
			got = fmt.Sprintf("%s=%s", d.Key(), d.Value())
		}
		if got != s.want {
			t.Fatalf("step %d %v: got %s, want %s", i, s.op, got, s.want)
		}
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestDBRandomized runs random operation sequences over a full read stack
// (tables in levels and memtable-like slices, merged, under a DB iterator at
// a random snapshot with random bounds) against a model.
func TestDBRandomized(t *testing.T) {
	d := &DBIter{}
	m := &Merging{}
	for _, seed := range seeds(600) {
		rng := rand.New(rand.NewPCG(seed, 42))
		nkeys := 1 + rng.IntN(30)
		if rng.IntN(3) == 0 {
			nkeys = 1 + rng.IntN(3) // many versions of each key: the seek past them (maxSequentialSkips)
		}
		n := rng.IntN(150)
		kvs := randomEntries(rng, n, nkeys)
		snap := uint64(rng.IntN(4*n + 8))
		if rng.IntN(5) == 0 {
			snap = base.MaxSeq
		}
		lower, upper := randomBounds(rng, nkeys)
		var children []base.InternalIterator
		var levels []*testLevel
		for _, c := range split(rng, kvs, 1+rng.IntN(6)) {
			if rng.IntN(2) == 0 {
				children = append(children, newInvalidating(NewSliceIter(icmp, c)))
				continue
			}
			tl := newTestLevel(t, rng, c)
			tl.check = func(f *manifest.FileMetadata) {
				if !overlaps(f, lower, upper) {
					t.Fatalf("seed %d: opened %v outside bounds [%q, %q)", seed, f, lower, upper)
				}
			}
			levels = append(levels, tl)
			l := NewLevel(base.DefaultComparer, tl.files, tl.openFn)
			l.SetBounds(lower, upper)
			children = append(children, l)
		}
		m.Init(icmp, children...)
		d.Init(base.DefaultComparer, newInvalidating(m), snap, lower, upper)
		model := visibleModel(kvs, snap, lower, upper)
		runModel(t, seed, rng, d, model, 300, func() []byte { return randomSeekUKey(rng, nkeys) })
		if err := d.Close(); err != nil {
			t.Fatalf("seed %d: close: %v", seed, err)
		}
		for _, tl := range levels {
			if tl.open != 0 {
				t.Fatalf("seed %d: tables left open", seed)
			}
		}
	}
}

func TestDBCorruptKey(t *testing.T) {
	bad := []KV{
		{Key: []byte("abc"), Value: []byte("short")}, // shorter than a trailer
		{Key: base.AppendInternalKey(nil, []byte("k"), 3, base.Kind(7)), Value: []byte("unknown kind")},
	}
	for _, b := range bad {
		for _, backward := range []bool{false, true} {
			kvs := sortKVs([]KV{set("a", 1, "a"), b, set("z", 1, "z")})
			d := NewDBIter(base.DefaultComparer, NewSliceIter(icmp, kvs), base.MaxSeq, nil, nil)
			got := scan(d, backward)
			if !errors.Is(d.Error(), base.ErrCorruption) {
				t.Fatalf("%q backward=%v: scan %s, err %v; want corruption", b.Key, backward, got, d.Error())
			}
			if d.Valid() || d.SeekGE([]byte("a")) || d.First() || d.Last() {
				t.Fatal("corrupt iterator repositioned")
			}
			if !errors.Is(d.Close(), base.ErrCorruption) {
				t.Fatal("Close lost the corruption")
			}
		}
	}
}

func TestDBChildError(t *testing.T) {
	boom := errors.New("read failed")
	t.Run("forward stops", func(t *testing.T) {
		s := NewSliceIter(icmp, sortKVs([]KV{set("a", 1, "a"), set("b", 1, "b"), set("c", 1, "c")}))
		s.FailAt(2, boom)
		d := NewDBIter(base.DefaultComparer, s, base.MaxSeq, nil, nil)
		if got, want := scan(d, false), "a=a b=b err=read failed"; got != want {
			t.Fatalf("got %s, want %s", got, want)
		}
	})
	t.Run("reverse does not return a possibly shadowed version", func(t *testing.T) {
		s := NewSliceIter(icmp, sortKVs([]KV{set("k", 8, "new"), set("k", 4, "old")}))
		s.FailAt(0, boom) // the newest version cannot be read
		d := NewDBIter(base.DefaultComparer, s, base.MaxSeq, nil, nil)
		if got, want := scan(d, true), "err=read failed"; got != want {
			t.Fatalf("got %s, want %s", got, want)
		}
	})
	t.Run("error through merging and switch", func(t *testing.T) {
		a := NewSliceIter(icmp, sortKVs([]KV{set("a", 1, "a"), set("c", 1, "c"), set("e", 1, "e")}))
		b := NewSliceIter(icmp, sortKVs([]KV{set("b", 1, "b"), set("d", 1, "d")}))
		b.FailAt(0, boom)
		d := NewDBIter(base.DefaultComparer, NewMerging(icmp, a, b), base.MaxSeq, nil, nil)
		if !d.SeekGE([]byte("c")) || string(d.Key()) != "c" {
			t.Fatalf("SeekGE(c) at %q, err %v", d.Key(), d.Error())
		}
		if d.Prev() || !errors.Is(d.Error(), boom) {
			t.Fatalf("Prev over a failing child: valid %v err %v", d.Valid(), d.Error())
		}
		if !errors.Is(d.Close(), boom) {
			t.Fatal("Close lost the error")
		}
	})
}

func TestDBUnpositioned(t *testing.T) {
	d := newTestDB([]KV{set("a", 1, "a")}, base.MaxSeq, "", "")
	if d.Valid() || d.Next() || d.Prev() || d.Key() != nil || d.Value() != nil || d.Error() != nil {
		t.Fatal("unpositioned iterator claims a position")
	}
	d.First()
	d.SetBounds([]byte("b"), nil)
	if d.Valid() || d.First() {
		t.Fatal("SetBounds kept a position outside the new bounds")
	}
}

func TestDBReadSampling(t *testing.T) {
	const n, vsize = 200, 32 << 10 // 6.25 MiB of values
	var kvs []KV
	for i := range n {
		kvs = append(kvs, KV{Key: ikey(fmt.Sprintf("k%04d", i), uint64(i+1), base.KindSet), Value: make([]byte, vsize)})
	}
	var calls, total int
	d := NewDBIter(base.DefaultComparer, NewSliceIter(icmp, kvs), base.MaxSeq, nil, nil)
	d.SampleSeed = 12345
	d.OnRead = func(k []byte, bytes int) {
		calls++
		total += bytes
		if !base.ValidInternalKey(k) || bytes != len(k)+vsize {
			t.Fatalf("OnRead(%q, %d)", k, bytes)
		}
	}
	scan(d, false)
	scan(d, true)
	// 12.5 MiB read in all: about a dozen samples.
	if calls < 4 || calls > 30 {
		t.Fatalf("%d samples for %d bytes", calls, 2*n*(vsize+13))
	}
	// Without a hook nothing is sampled, and nothing breaks.
	d2 := NewDBIter(base.DefaultComparer, NewSliceIter(icmp, kvs), base.MaxSeq, nil, nil)
	if got := len(strings.Fields(scan(d2, false))); got != n {
		t.Fatalf("scan saw %d entries", got)
	}
	// One huge entry spans several sampling periods.
	calls = 0
	huge := []KV{{Key: ikey("big", 1, base.KindSet), Value: make([]byte, 8*ReadSamplePeriod)}}
	d3 := NewDBIter(base.DefaultComparer, NewSliceIter(icmp, huge), base.MaxSeq, nil, nil)
	d3.OnRead = func(k []byte, bytes int) { calls++ }
	d3.First()
	if calls < 3 {
		t.Fatalf("%d samples for an 8 MiB entry", calls)
	}
}
