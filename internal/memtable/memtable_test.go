package memtable

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/strata-db/strata/internal/base"
)

func TestDuplicateRejected(t *testing.T) {
	m := New(base.DefaultComparer, 4096)
	if err := m.Add(7, base.KindSet, []byte("k"), []byte("v1")); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []base.Kind{base.KindSet, base.KindDelete} {
		if err := m.Add(7, kind, []byte("k"), []byte("v2")); !errors.Is(err, ErrRecordExists) {
			t.Fatalf("duplicate %v: err %v, want ErrRecordExists", kind, err)
		}
	}
	// Neighbours with the same user key but other sequences are fine.
	for _, seq := range []uint64{6, 8} {
		if err := m.Add(seq, base.KindDelete, []byte("k"), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Add(7, base.KindDelete, []byte("k"), nil); !errors.Is(err, ErrRecordExists) {
		t.Fatalf("duplicate between neighbours: err %v", err)
	}
	if m.Len() != 3 {
		t.Fatalf("Len %d, want 3", m.Len())
	}
	if v, k, ok := m.Get([]byte("k"), 7); !ok || k != base.KindSet || string(v) != "v1" {
		t.Fatalf("Get = %q,%v,%v", v, k, ok)
	}
	checkStructure(t, m)
}

func TestInvalidAdd(t *testing.T) {
	m := New(base.DefaultComparer, 4096)
	if err := m.Add(base.MaxSeq+1, base.KindSet, []byte("k"), nil); err == nil {
		t.Fatal("seq > MaxSeq accepted")
	}
	for _, k := range []base.Kind{base.KindMax + 1, base.KindRangeDelete, 3} {
		if err := m.Add(1, k, []byte("k"), nil); err == nil {
			t.Fatalf("kind %s accepted", k)
		}
	}
	if err := m.Add(base.MaxSeq, base.KindSet, []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if !m.Empty() && m.Len() != 1 {
		t.Fatalf("Len %d", m.Len())
	}
	// Get clamps a sequence above MaxSeq.
	if v, _, ok := m.Get([]byte("k"), ^uint64(0)); !ok || string(v) != "v" {
		t.Fatalf("Get(MaxUint64) = %q,%v", v, ok)
	}
}

func TestEmpty(t *testing.T) {
	for _, size := range []int{-5, 0, 1, 4096} {
		m := New(base.DefaultComparer, size)
		if !m.Empty() || m.Len() != 0 || m.ApproximateMemoryUsage() != 0 {
			t.Fatalf("size %d: not empty", size)
		}
		if m.Comparer() != base.DefaultComparer {
			t.Fatal("Comparer")
		}
		if m.ArenaSize() != max(size, 0) {
			t.Fatalf("ArenaSize %d, want %d", m.ArenaSize(), max(size, 0))
		}
		if _, _, ok := m.Get(nil, base.MaxSeq); ok {
			t.Fatal("Get on empty table found something")
		}
		it := m.NewIter()
		if it.First() || it.Last() || it.Valid() ||
			it.SeekGE(base.MakeSearchKey(nil, []byte("a"), 1)) || it.SeekLT(base.MakeSearchKey(nil, []byte("a"), 1)) ||
			it.Next() || it.Prev() {
			t.Fatal("iterator over empty table positioned")
		}
		if err := it.Close(); err != nil {
			t.Fatal(err)
		}
		if size <= 1 {
			if err := m.Add(1, base.KindSet, nil, nil); !errors.Is(err, ErrArenaFull) {
				t.Fatalf("size %d: Add err %v, want ErrArenaFull", size, err)
			}
		}
	}
}

// TestArenaFull fills small arenas until Add fails: a failed Add changes
// nothing, later entries that do fit are still accepted, and usage never
// exceeds the arena.
func TestArenaFull(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 2))
		size := 200 + rng.IntN(4000)
		m := New(base.DefaultComparer, size)
		md := &model{cmp: base.DefaultComparer}
		fails := 0
		for seq := uint64(1); fails < 20; seq++ {
			ukey, value := randKey(rng, 8), make([]byte, rng.IntN(200))
			usage, n := m.ApproximateMemoryUsage(), m.Len()
			err := m.Add(seq, base.KindSet, ukey, value)
			switch {
			case errors.Is(err, ErrArenaFull):
				fails++
				if m.ApproximateMemoryUsage() != usage || m.Len() != n {
					t.Fatalf("seed %d: failed Add changed usage %d->%d, len %d->%d", seed, usage, m.ApproximateMemoryUsage(), n, m.Len())
				}
				if need := uint64(EstimateEntrySize(len(ukey), len(value))); usage+need <= uint64(m.ArenaSize()) {
					t.Fatalf("seed %d: ErrArenaFull with %d of %d used, estimate %d", seed, usage, m.ArenaSize(), need)
				}
			case err != nil:
				t.Fatal(err)
			default:
				md.add(seq, base.KindSet, ukey, value)
			}
			if m.ApproximateMemoryUsage() > uint64(m.ArenaSize()) {
				t.Fatalf("seed %d: usage %d > %d", seed, m.ApproximateMemoryUsage(), m.ArenaSize())
			}
		}
		checkAgainstModel(t, m, md)
		checkStructure(t, m)
	}
}

// TestEstimateEntrySizeFits checks the promise the DB relies on: entries
// whose estimates sum to at most the free space all fit.
func TestEstimateEntrySizeFits(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	for round := range 300 {
		type kv struct{ k, v []byte }
		var batch []kv
		total := 0
		for range 1 + rng.IntN(40) {
			e := kv{make([]byte, rng.IntN(30)), make([]byte, rng.IntN(300))}
			batch = append(batch, e)
			total += EstimateEntrySize(len(e.k), len(e.v))
		}
		m := New(base.DefaultComparer, total)
		for i, e := range batch {
			if err := m.Add(uint64(i)+1, base.KindSet, e.k, e.v); err != nil {
				t.Fatalf("round %d: entry %d of %d: %v (usage %d of %d)", round, i, len(batch), err, m.ApproximateMemoryUsage(), m.ArenaSize())
			}
		}
		checkStructure(t, m)
	}
	if got := EstimateEntrySize(-1, -1); got != EstimateEntrySize(0, 0) {
		t.Fatalf("negative sizes: %d", got)
	}
}

func TestLargeAndEmptyEntries(t *testing.T) {
	big := func(n int, c byte) []byte { return bytes.Repeat([]byte{c}, n) }
	const mib = 1 << 20
	cases := []struct {
		name      string
		ukey, val []byte
		seq       uint64
	}{
		{"empty key and value", nil, nil, 1},
		{"empty key", []byte{}, []byte("v"), 2},
		{"empty value", []byte("a"), nil, 3},
		{"1MiB value", []byte("b"), big(mib, 'v'), 4},
		{"1MiB key", big(mib, 'k'), []byte("v"), 5},
		{"1MiB key and value", big(mib, 'z'), big(mib, 'w'), 6},
	}
	m := New(base.DefaultComparer, 5*mib)
	md := &model{cmp: base.DefaultComparer}
	for _, c := range cases {
		if err := m.Add(c.seq, base.KindSet, c.ukey, c.val); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		md.add(c.seq, base.KindSet, c.ukey, c.val)
	}
	for _, c := range cases {
		v, k, ok := m.Get(c.ukey, c.seq) // nil and {} are one user key
		if !ok || k != base.KindSet || !bytes.Equal(v, c.val) {
			t.Fatalf("%s: Get = %d bytes, %v, %v", c.name, len(v), k, ok)
		}
		if _, _, ok := m.Get(c.ukey, c.seq-1); ok && len(c.ukey) > 0 {
			t.Fatalf("%s: visible below its sequence", c.name)
		}
	}
	checkAgainstModel(t, m, md)
	checkStructure(t, m)
	// A 1 MiB entry into an arena smaller than it fails cleanly.
	small := New(base.DefaultComparer, mib)
	if err := small.Add(1, base.KindSet, nil, big(mib, 'x')); !errors.Is(err, ErrArenaFull) {
		t.Fatalf("oversized entry: %v", err)
	}
	if err := small.Add(1, base.KindSet, nil, big(mib-EstimateEntrySize(0, 0), 'x')); err != nil {
		t.Fatalf("entry of exactly the estimate: %v", err)
	}
}

// TestSlicesAreClipped checks that appending to returned slices cannot
// overwrite a neighbouring entry in the arena.
func TestSlicesAreClipped(t *testing.T) {
	m := New(base.DefaultComparer, 4096)
	for i, k := range []string{"a", "b", "c"} {
		if err := m.Add(uint64(i)+1, base.KindSet, []byte(k), []byte("val-"+k)); err != nil {
			t.Fatal(err)
		}
	}
	v, _, _ := m.Get([]byte("a"), 10)
	_ = append(v, "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"...)
	it := m.NewIter()
	it.First()
	_ = append(it.Key(), "YYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYY"...)
	_ = append(it.Value(), "ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ"...)
	var got []string
	for ok := it.First(); ok; ok = it.Next() {
		got = append(got, base.FormatInternalKey(it.Key())+"="+string(it.Value()))
	}
	want := []string{`"a"#1,SET=val-a`, `"b"#2,SET=val-b`, `"c"#3,SET=val-c`}
	if len(got) != len(want) {
		t.Fatalf("got %q", got)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	checkStructure(t, m)
}

func TestIterShortSeekKey(t *testing.T) {
	m := New(base.DefaultComparer, 4096)
	if err := m.Add(1, base.KindSet, []byte("a"), nil); err != nil {
		t.Fatal(err)
	}
	it := m.NewIter()
	if !it.First() {
		t.Fatal("First")
	}
	if it.SeekGE([]byte("short")) || it.Valid() || it.Error() == nil {
		t.Fatal("SeekGE with a short key did not fail")
	}
	if it.SeekLT(nil) || it.Valid() {
		t.Fatal("SeekLT with a short key did not fail")
	}
	if it.Next() || it.Prev() {
		t.Fatal("invalid iterator moved")
	}
	if err := it.Close(); err == nil {
		t.Fatal("Close lost the error")
	}
	it.Init(m)
	if it.Error() != nil || !it.First() {
		t.Fatal("Init did not reset the iterator")
	}
}

// TestNoAllocs pins the zero-allocation hot paths.
func TestNoAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts")
	}
	m := New(base.DefaultComparer, 64<<20)
	key, val := make([]byte, 16), make([]byte, 100)
	seq := uint64(0)
	add := testing.AllocsPerRun(1000, func() {
		seq++
		key[0], key[1] = byte(seq), byte(seq>>8)
		if err := m.Add(seq, base.KindSet, key, val); err != nil {
			t.Fatal(err)
		}
	})
	get := testing.AllocsPerRun(1000, func() {
		if _, _, ok := m.Get(key, base.MaxSeq); !ok {
			t.Fatal("Get missed")
		}
	})
	var it Iter
	search := base.MakeSearchKey(nil, key, 5)
	iter := testing.AllocsPerRun(100, func() {
		it.Init(m)
		for ok := it.First(); ok; ok = it.Next() {
		}
		for ok := it.Last(); ok; ok = it.Prev() {
		}
		it.SeekGE(search)
		it.SeekLT(search)
		_ = it.Close()
	})
	if add != 0 || get != 0 || iter != 0 {
		t.Fatalf("allocs per op: Add %v, Get %v, Iter %v", add, get, iter)
	}
}

// TestRangeDels: range tombstones are kept beside the entries, fragmented
// on demand, counted in Empty and in the memory usage, and a set handed
// out before an insert is replaced after it.
func TestRangeDels(t *testing.T) {
	m := New(base.DefaultComparer, 1<<16)
	if !m.Empty() || m.RangeDels() != nil {
		t.Fatal("new memtable has range tombstones")
	}
	before := m.ApproximateMemoryUsage()
	if err := m.AddRangeDel(5, []byte("b"), []byte("d")); err != nil {
		t.Fatal(err)
	}
	if m.Empty() || m.Len() != 0 || m.RangeDelCount() != 1 || m.ApproximateMemoryUsage() <= before {
		t.Fatalf("after one tombstone: empty %v, len %d, count %d, usage %d", m.Empty(), m.Len(), m.RangeDelCount(), m.ApproximateMemoryUsage())
	}
	s1 := m.RangeDels()
	if seq, _ := s1.Covering([]byte("c"), 10); seq != 5 {
		t.Fatalf("c covered at %d", seq)
	}
	m.AddRangeDel(7, []byte("a"), []byte("c"))
	s2 := m.RangeDels()
	if seq, _ := s2.Covering([]byte("b"), 10); seq != 7 {
		t.Fatalf("b covered at %d after the second tombstone", seq)
	}
	if seq, _ := s2.Covering([]byte("b"), 6); seq != 5 {
		t.Fatalf("b at 6 covered at %d", seq)
	}
	if err := m.AddRangeDel(base.MaxSeq+1, []byte("a"), []byte("b")); err == nil {
		t.Fatal("seq > MaxSeq accepted")
	}
}

// TestAddMerge: AddMerge inserts an operand unless the key's older entries
// begin with limit operands in a row, counted as SuccessiveMerges counts
// them (a value, a deletion or another key ends the run); refused, it
// inserts nothing and takes no arena space.
func TestAddMerge(t *testing.T) {
	m := New(base.DefaultComparer, 1<<16)
	seq := uint64(1)
	add := func(kind base.Kind, key string) {
		t.Helper()
		if err := m.Add(seq, kind, []byte(key), []byte("v")); err != nil {
			t.Fatal(err)
		}
		seq++
	}
	add(base.KindMerge, "a") // another key's operands do not count
	add(base.KindMerge, "c")
	for round := range 3 {
		for i := range 4 {
			if err := m.AddMerge(seq, []byte("b"), []byte("op"), 4); err != nil {
				t.Fatalf("round %d, operand %d: %v", round, i, err)
			}
			seq++
			if n := m.SuccessiveMerges([]byte("b"), 100); n != i+1 {
				t.Fatalf("round %d: %d operands in a row after %d", round, n, i+1)
			}
		}
		used, count := m.ApproximateMemoryUsage(), m.Len()
		if err := m.AddMerge(seq, []byte("b"), []byte("op"), 4); !errors.Is(err, ErrMergeLimit) {
			t.Fatalf("round %d: a fifth operand in a row: %v, want ErrMergeLimit", round, err)
		}
		if m.ApproximateMemoryUsage() != used || m.Len() != count {
			t.Fatalf("a refused operand used arena space or was counted")
		}
		if err := m.AddMerge(seq, []byte("b"), []byte("op"), 5); err != nil { // a higher limit takes it
			t.Fatal(err)
		}
		seq++
		// A value (or a deletion) ends the run.
		add([]base.Kind{base.KindSet, base.KindDelete, base.KindSet}[round], "b")
	}
	// An operand older than every entry of its key counts none.
	if err := m.AddMerge(2, []byte("b"), []byte("old"), 1); err != nil {
		t.Fatalf("an operand below the key's entries: %v", err)
	}
	if err := m.AddMerge(seq, []byte("d"), nil, 1); err != nil { // a key with no entries
		t.Fatal(err)
	}
	checkStructure(t, m)
}

// TestRandomHeightDistribution checks randomHeight against P(h > k) =
// heightP^k over many draws (math/rand/v2's global source: no seed to
// print; the tolerance is many standard deviations wide).
func TestRandomHeightDistribution(t *testing.T) {
	const n = 1 << 20
	var counts [maxHeight + 1]int
	for range n {
		h := randomHeight()
		if h < 1 || h > maxHeight {
			t.Fatalf("randomHeight() = %d, want 1..%d", h, maxHeight)
		}
		counts[h]++
	}
	above := n
	for k := 1; k <= 5; k++ {
		above -= counts[k]
		want := float64(n) * math.Pow(heightP, float64(k))
		if got := float64(above); math.Abs(got-want) > 0.03*want+50 {
			t.Errorf("draws with h > %d: %d, want ~%.0f", k, above, want)
		}
	}
}
