package memtable

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/strata-db/strata/internal/base"
)

// reverseComparer orders user keys by descending bytes, to check that the
// memtable orders by the comparer and never by raw bytes.
var reverseComparer = &base.Comparer{
	Name:      "strata.test.ReverseBytewise",
	Compare:   func(a, b []byte) int { return bytes.Compare(b, a) },
	Separator: func(dst, a, _ []byte) []byte { return append(dst, a...) },
	Successor: func(dst, a []byte) []byte { return append(dst, a...) },
}

var comparers = []*base.Comparer{base.DefaultComparer, reverseComparer}

// entry is one memtable entry in the model.
type entry struct {
	ikey  []byte
	value []byte
}

// model is a plain sorted slice of entries: the specification the skiplist
// is checked against.
type model struct {
	cmp     *base.Comparer
	entries []entry
	sorted  bool
}

func (md *model) add(seq uint64, kind base.Kind, ukey, value []byte) {
	md.entries = append(md.entries, entry{
		ikey:  base.AppendInternalKey(nil, ukey, seq, kind),
		value: slices.Clone(value),
	})
	md.sorted = false
}

func (md *model) icmp(a, b []byte) int { return base.InternalCompare(md.cmp.Compare, a, b) }

func (md *model) sort() []entry {
	if !md.sorted {
		slices.SortFunc(md.entries, func(a, b entry) int { return md.icmp(a.ikey, b.ikey) })
		md.sorted = true
	}
	return md.entries
}

// userKeys returns how many distinct user keys the entries hold.
func (md *model) userKeys() int {
	n := 0
	var last []byte
	for i, e := range md.sort() {
		if uk := base.UserKey(e.ikey); i == 0 || md.cmp.Compare(uk, last) != 0 {
			n++
			last = uk
		}
	}
	return n
}

// get is Get's specification: the newest entry for ukey with seq <= seq.
func (md *model) get(ukey []byte, seq uint64) (value []byte, kind base.Kind, ok bool) {
	var best uint64
	for _, e := range md.entries {
		u, s, k, _ := base.ParseInternalKey(e.ikey)
		if md.cmp.Compare(u, ukey) == 0 && s <= seq && (!ok || s > best) {
			value, kind, ok, best = e.value, k, true, s
		}
	}
	return value, kind, ok
}

// seekGE returns the index of the first entry >= key (len if none).
func (md *model) seekGE(key []byte) int {
	es := md.sort()
	i, _ := slices.BinarySearchFunc(es, key, func(e entry, k []byte) int { return md.icmp(e.ikey, k) })
	return i
}

// checkIterAt checks that it is positioned at model index i (invalid when i
// is out of range).
func checkIterAt(t *testing.T, md *model, it *Iter, valid bool, i int, what string) {
	t.Helper()
	es := md.sort()
	want := i >= 0 && i < len(es)
	if valid != want || it.Valid() != want {
		t.Fatalf("%s: valid=%v/%v, want %v (index %d of %d)", what, valid, it.Valid(), want, i, len(es))
	}
	if !want {
		return
	}
	if !bytes.Equal(it.Key(), es[i].ikey) || !bytes.Equal(it.Value(), es[i].value) {
		t.Fatalf("%s: at %s=%q, want %s=%q (index %d)", what,
			base.FormatInternalKey(it.Key()), it.Value(), base.FormatInternalKey(es[i].ikey), es[i].value, i)
	}
}

// checkAgainstModel compares m's whole contents, both directions, and Len.
func checkAgainstModel(t *testing.T, m *MemTable, md *model) {
	t.Helper()
	es := md.sort()
	if m.Len() != len(es) || m.Empty() != (len(es) == 0) {
		t.Fatalf("Len=%d Empty=%v, want %d", m.Len(), m.Empty(), len(es))
	}
	it := m.NewIter()
	i := 0
	for ok := it.First(); ok; ok = it.Next() {
		checkIterAt(t, md, it, true, i, "forward scan")
		i++
	}
	if i != len(es) {
		t.Fatalf("forward scan saw %d entries, want %d", i, len(es))
	}
	i = len(es) - 1
	for ok := it.Last(); ok; ok = it.Prev() {
		checkIterAt(t, md, it, true, i, "backward scan")
		i--
	}
	if i != -1 {
		t.Fatalf("backward scan stopped at index %d", i)
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
}

// checkStructure verifies the skiplist invariants of a quiescent table:
// every level sorted and a subsequence of the one below, towers tall enough,
// prev hints exact.
func checkStructure(t *testing.T, m *MemTable) {
	t.Helper()
	icmp := func(a, b []byte) int { return base.InternalCompare(m.cmp.Compare, a, b) }
	onLevel := map[uint32]bool{}
	for nd := m.next(headOff, 0); nd != 0; nd = m.next(nd, 0) {
		onLevel[nd] = true
	}
	onLevel0 := onLevel
	if len(onLevel) != m.Len() {
		t.Fatalf("level 0 has %d nodes, Len %d", len(onLevel), m.Len())
	}
	for l := 0; l < maxHeight; l++ {
		below := onLevel
		onLevel = map[uint32]bool{}
		prev := uint32(headOff)
		for nd := m.next(headOff, l); nd != 0; nd = m.next(nd, l) {
			if int(m.words[nd/4+wHeight]) <= l {
				t.Fatalf("level %d links node %d of height %d", l, nd, m.words[nd/4+wHeight])
			}
			if !below[nd] {
				t.Fatalf("level %d links node %d missing from level %d", l, nd, l-1)
			}
			if prev != headOff && icmp(m.key(prev), m.key(nd)) >= 0 {
				t.Fatalf("level %d out of order: %s then %s", l,
					base.FormatInternalKey(m.key(prev)), base.FormatInternalKey(m.key(nd)))
			}
			if s := m.skip(nd); l == 0 && s != 0 {
				// The version link names a later node of the same user key.
				if !onLevel0[s] || icmp(m.key(nd), m.key(s)) >= 0 ||
					m.cmp.Compare(base.UserKey(m.key(nd)), base.UserKey(m.key(s))) != 0 {
					t.Fatalf("node %s: version link to %d, not a later entry of its user key", base.FormatInternalKey(m.key(nd)), s)
				}
			}
			if l == 0 && m.prev(nd) != prev {
				t.Fatalf("node %s: prev hint %d, want %d", base.FormatInternalKey(m.key(nd)), m.prev(nd), prev)
			}
			onLevel[nd] = true
			prev = nd
		}
		if l >= int(m.height.Load()) && len(onLevel) > 0 {
			t.Fatalf("level %d used above list height %d", l, m.height.Load())
		}
	}
	if m.ApproximateMemoryUsage() > uint64(m.ArenaSize()) {
		t.Fatalf("usage %d > arena size %d", m.ApproximateMemoryUsage(), m.ArenaSize())
	}
}

// randKey draws a short user key from a small alphabet so keys repeat.
func randKey(rng *rand.Rand, maxLen int) []byte {
	k := make([]byte, rng.IntN(maxLen+1))
	for i := range k {
		k[i] = 'a' + byte(rng.IntN(3))
	}
	return k
}

// randSearchKey draws a seek key: a random user key with a random trailer
// (kinds beyond KindMax included: seeks order by the raw trailer).
func randSearchKey(rng *rand.Rand, maxSeq uint64) []byte {
	k := randKey(rng, 4)
	var trailer uint64
	switch rng.IntN(4) {
	case 0:
		trailer = base.MakeTrailer(base.MaxSeq, base.KindMax)
	case 1:
		trailer = 0
	default:
		trailer = rng.Uint64N(maxSeq+2)<<8 | uint64(rng.IntN(3))
	}
	return binary.LittleEndian.AppendUint64(k, trailer)
}

// runModel inserts random entries (many sequences per user key) and checks
// Get at random sequences, seeks, and random Next/Prev walks against the
// model as the table grows.
func runModel(t *testing.T, cmp *base.Comparer, seed uint64, n int) {
	defer func() {
		if t.Failed() {
			t.Logf("seed %d comparer %s", seed, cmp.Name)
		}
	}()
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	m := New(cmp, 1<<20)
	md := &model{cmp: cmp}
	seqs := rng.Perm(4 * n) // distinct sequences, arbitrary insertion order
	maxSeq := uint64(4 * n)
	it := m.NewIter()
	for i := 0; i < n; i++ {
		ukey := randKey(rng, 4)
		value := make([]byte, rng.IntN(20))
		for j := range value {
			value[j] = byte(rng.Uint32())
		}
		seq := uint64(seqs[i]) + 1
		kind := base.Kind(rng.IntN(2))
		if err := m.Add(seq, kind, ukey, value); err != nil {
			t.Fatalf("Add(%q#%d): %v", ukey, seq, err)
		}
		md.add(seq, kind, ukey, value)

		if i%50 != 49 && i != n-1 {
			continue
		}
		for range 50 {
			ukey := randKey(rng, 4)
			seq := rng.Uint64N(maxSeq + 2)
			v, k, ok := m.Get(ukey, seq)
			wv, wk, wok := md.get(ukey, seq)
			if ok != wok || (ok && (k != wk || !bytes.Equal(v, wv))) {
				t.Fatalf("Get(%q, %d) = %q,%v,%v; want %q,%v,%v", ukey, seq, v, k, ok, wv, wk, wok)
			}
		}
		for range 20 {
			key := randSearchKey(rng, maxSeq)
			var idx int
			var valid bool
			if rng.IntN(2) == 0 {
				idx, valid = md.seekGE(key), it.SeekGE(key)
				checkIterAt(t, md, it, valid, idx, fmt.Sprintf("SeekGE(%s)", base.FormatInternalKey(key)))
			} else {
				idx, valid = md.seekGE(key)-1, it.SeekLT(key)
				checkIterAt(t, md, it, valid, idx, fmt.Sprintf("SeekLT(%s)", base.FormatInternalKey(key)))
			}
			for step := 0; step < 10 && it.Valid(); step++ {
				if r := rng.IntN(5); r < 2 {
					idx, valid = idx+1, it.Next()
					checkIterAt(t, md, it, valid, idx, "Next")
				} else if r == 2 {
					// NextSkipping lands on the successor or, when that
					// is below target, on the first entry >= target.
					target := randSearchKey(rng, maxSeq)
					if rng.IntN(2) == 0 {
						target = base.MakeSearchKey(nil, base.UserKey(it.Key()), 0)
					}
					idx, valid = max(idx+1, md.seekGE(target)), it.NextSkipping(target)
					checkIterAt(t, md, it, valid, idx, fmt.Sprintf("NextSkipping(%s)", base.FormatInternalKey(target)))
				} else {
					idx, valid = idx-1, it.Prev()
					checkIterAt(t, md, it, valid, idx, "Prev")
				}
			}
		}
	}
	checkAgainstModel(t, m, md)
	checkStructure(t, m)
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestRandomAgainstModel(t *testing.T) {
	for _, cmp := range comparers {
		t.Run(cmp.Name, func(t *testing.T) {
			for seed := range uint64(20) {
				runModel(t, cmp, seed, 600)
			}
		})
	}
}

func TestManySeqsOneKey(t *testing.T) {
	for _, cmp := range comparers {
		m := New(cmp, 1<<20)
		md := &model{cmp: cmp}
		for seq := uint64(1); seq <= 500; seq += 2 {
			kind := base.Kind(seq / 2 % 2)
			val := fmt.Appendf(nil, "v%d", seq)
			if err := m.Add(seq, kind, []byte("k"), val); err != nil {
				t.Fatal(err)
			}
			md.add(seq, kind, []byte("k"), val)
		}
		for seq := uint64(0); seq <= 502; seq++ {
			v, k, ok := m.Get([]byte("k"), seq)
			wv, wk, wok := md.get([]byte("k"), seq)
			if ok != wok || k != wk || !bytes.Equal(v, wv) {
				t.Fatalf("%s: Get(k, %d) = %q,%v,%v; want %q,%v,%v", cmp.Name, seq, v, k, ok, wv, wk, wok)
			}
		}
		checkAgainstModel(t, m, md)
		checkStructure(t, m)
		// Inserted oldest first, every entry of k but the oldest links to
		// the oldest, and NextSkipping past k from any of them is one jump.
		it := m.NewIter()
		it.Last()
		oldest := it.nd
		for ok := it.First(); ok && it.nd != oldest; ok = it.Next() {
			if s := m.skip(it.nd); s != oldest {
				t.Fatalf("%s: %s links to %d, want the oldest entry %d", cmp.Name, base.FormatInternalKey(it.Key()), s, oldest)
			}
		}
		if m.skip(oldest) != 0 {
			t.Fatalf("%s: the oldest entry links to %d", cmp.Name, m.skip(oldest))
		}
		it.First()
		if it.NextSkipping(base.MakeSearchKey(nil, []byte("k"), 0)) {
			t.Fatalf("%s: NextSkipping past k found %s", cmp.Name, base.FormatInternalKey(it.Key()))
		}
	}
}

// TestOrderPicture pins the order on a small hand-written example: user keys
// by the comparer, then newest sequence first.
func TestOrderPicture(t *testing.T) {
	adds := []struct {
		ukey string
		seq  uint64
		kind base.Kind
	}{
		{"b", 5, base.KindSet}, {"a", 1, base.KindSet}, {"b", 9, base.KindDelete},
		{"", 3, base.KindSet}, {"c", 2, base.KindSet}, {"b", 7, base.KindSet},
	}
	want := map[string][]string{
		base.DefaultComparer.Name: {`""#3,SET`, `"a"#1,SET`, `"b"#9,DEL`, `"b"#7,SET`, `"b"#5,SET`, `"c"#2,SET`},
		reverseComparer.Name:      {`"c"#2,SET`, `"b"#9,DEL`, `"b"#7,SET`, `"b"#5,SET`, `"a"#1,SET`, `""#3,SET`},
	}
	for _, cmp := range comparers {
		m := New(cmp, 4096)
		for _, a := range adds {
			if err := m.Add(a.seq, a.kind, []byte(a.ukey), nil); err != nil {
				t.Fatal(err)
			}
		}
		var got []string
		it := m.NewIter()
		for ok := it.First(); ok; ok = it.Next() {
			got = append(got, base.FormatInternalKey(it.Key()))
		}
		if !slices.Equal(got, want[cmp.Name]) {
			t.Errorf("%s:\n got %q\nwant %q", cmp.Name, got, want[cmp.Name])
		}
		var back []string
		for ok := it.Last(); ok; ok = it.Prev() {
			back = append(back, base.FormatInternalKey(it.Key()))
		}
		slices.Reverse(back)
		if !slices.Equal(back, want[cmp.Name]) {
			t.Errorf("%s backward:\n got %q\nwant %q", cmp.Name, back, want[cmp.Name])
		}
	}
}
