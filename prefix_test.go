package strata

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPrefixUpperBound(t *testing.T) {
	cases := []struct{ in, want []byte }{
		{nil, nil},
		{[]byte{}, nil},
		{[]byte{0xff}, nil},
		{[]byte{0xff, 0xff}, nil},
		{[]byte("a"), []byte("b")},
		{[]byte{0x00}, []byte{0x01}},
		{[]byte{'a', 0xff}, []byte("b")},
		{[]byte{'a', 0xfe, 0xff, 0xff}, []byte{'a', 0xff}},
	}
	for _, c := range cases {
		in := bytes.Clone(c.in)
		got := PrefixUpperBound(in)
		if !bytes.Equal(got, c.want) || (got == nil) != (c.want == nil) {
			t.Errorf("PrefixUpperBound(% x) = % x (nil %v), want % x (nil %v)", c.in, got, got == nil, c.want, c.want == nil)
		}
		if !bytes.Equal(in, c.in) {
			t.Errorf("PrefixUpperBound(% x) modified its input", c.in)
		}
	}
	// The defining property: k has prefix p exactly when p <= k < bound.
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 0))
	for range 20000 {
		p, k := prefixTestKey(rng), prefixTestKey(rng)
		ub := PrefixUpperBound(p)
		in := bytes.Compare(p, k) <= 0 && (ub == nil || bytes.Compare(k, ub) < 0)
		if in != bytes.HasPrefix(k, p) {
			t.Fatalf("seed %d: prefix % x, key % x, bound % x: in range %v, has prefix %v", seed, p, k, ub, in, !in)
		}
	}
}

// prefixTestKey is a short key over bytes that make the edge cases likely:
// 0x00, 0xFE and 0xFF around a letter.
func prefixTestKey(rng *rand.Rand) []byte {
	alphabet := []byte{0x00, 0x01, 'a', 0xfe, 0xff}
	k := make([]byte, rng.IntN(5))
	for i := range k {
		k[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return k
}

// TestIteratorPrefix checks IterOptions.Prefix, alone and with bounds,
// against a model: every positioning call (First, Last, Seek, SeekLT, All,
// Backward) shows exactly the model's keys that have the prefix and lie
// within the bounds, from memtables and tables alike.
func TestIteratorPrefix(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	db := mustOpen(t, "db", &Options{FS: NewMemFS()})
	defer db.Close()
	state := map[string]string{}
	for i := range 600 {
		k := prefixTestKey(rng)
		if rng.IntN(5) == 0 {
			if err := db.Delete(k, nil); err != nil {
				t.Fatal(err)
			}
			delete(state, string(k))
		} else {
			v := fmt.Sprint(i)
			if err := db.Put(k, []byte(v), nil); err != nil {
				t.Fatal(err)
			}
			state[string(k)] = v
		}
		if i == 300 { // half the history in a table, half in the memtable
			if err := db.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	for trial := range 400 {
		o := &IterOptions{Prefix: prefixTestKey(rng)}
		if rng.IntN(3) == 0 {
			o.LowerBound = prefixTestKey(rng)
		}
		if rng.IntN(3) == 0 {
			o.UpperBound = prefixTestKey(rng)
		}
		var want []string
		for _, k := range sortedKeys(bytes.Compare, state, o.LowerBound, o.UpperBound) {
			if strings.HasPrefix(k, string(o.Prefix)) {
				want = append(want, k)
			}
		}
		where := fmt.Sprintf("seed %d, trial %d, prefix % x, bounds [% x, % x)", seed, trial, o.Prefix, o.LowerBound, o.UpperBound)
		it := db.NewIterator(o)
		var got, back []string
		for k, v := range it.All() {
			if v1 := state[string(k)]; string(v) != v1 {
				t.Fatalf("%s: %q = %q, want %q", where, k, v, v1)
			}
			got = append(got, string(k))
		}
		for k := range it.Backward() {
			back = append(back, string(k))
		}
		slices.Reverse(back)
		if !slices.Equal(got, want) || !slices.Equal(back, want) {
			t.Fatalf("%s: forward %q, backward (reversed) %q, want %q", where, got, back, want)
		}
		// Seeks from anywhere stay within the prefix.
		for range 10 {
			target := prefixTestKey(rng)
			i, _ := slices.BinarySearch(want, string(target))
			if ok := it.Seek(target); ok != (i < len(want)) || ok && string(it.Key()) != want[i] {
				t.Fatalf("%s: Seek(% x) = %v at % x, want %q", where, target, ok, it.Key(), want[i:])
			}
			if ok := it.SeekLT(target); ok != (i > 0) || ok && string(it.Key()) != want[i-1] {
				t.Fatalf("%s: SeekLT(% x) = %v at % x, want %q", where, target, ok, it.Key(), want[:i])
			}
		}
		if err := it.Close(); err != nil {
			t.Fatalf("%s: %v", where, err)
		}
	}
}

// TestIteratorPrefixBounds checks Bounds: the intersection of the bounds
// with the prefix's range.
func TestIteratorPrefixBounds(t *testing.T) {
	db := mustOpen(t, "db", &Options{FS: NewMemFS()})
	defer db.Close()
	cases := []struct {
		o            IterOptions
		lower, upper string // "<nil>": open
	}{
		{IterOptions{Prefix: []byte("ab")}, "ab", "ac"},
		{IterOptions{Prefix: []byte("ab"), LowerBound: []byte("a"), UpperBound: []byte("b")}, "ab", "ac"},
		{IterOptions{Prefix: []byte("ab"), LowerBound: []byte("abc"), UpperBound: []byte("abd")}, "abc", "abd"},
		{IterOptions{Prefix: []byte{'a', 0xff}}, "a\xff", "b"},
		{IterOptions{Prefix: []byte{0xff}}, "\xff", "<nil>"},
		{IterOptions{Prefix: []byte{0xff}, UpperBound: []byte{0xff, 1}}, "\xff", "\xff\x01"},
		{IterOptions{Prefix: []byte{}, UpperBound: []byte("x")}, "<nil>", "x"},
	}
	str := func(b []byte) string {
		if b == nil {
			return "<nil>"
		}
		return string(b)
	}
	for _, c := range cases {
		it := db.NewIterator(&c.o)
		lower, upper := it.Bounds()
		if str(lower) != c.lower || str(upper) != c.upper {
			t.Errorf("prefix %q, bounds [%q, %q): Bounds() = [%q, %q), want [%q, %q)",
				c.o.Prefix, c.o.LowerBound, c.o.UpperBound, str(lower), str(upper), c.lower, c.upper)
		}
		it.Close()
	}
}

// TestIteratorPrefixComparer: a prefix is a key range only in the bytewise
// order, so with another comparator the iterator fails instead of showing
// the wrong keys.
func TestIteratorPrefixComparer(t *testing.T) {
	reverse := &Comparer{
		Name:    "test.Reverse",
		Compare: func(a, b []byte) int { return bytes.Compare(b, a) },
	}
	db := mustOpen(t, "db", &Options{FS: NewMemFS(), Comparator: reverse})
	defer db.Close()
	if err := db.Put([]byte("ab"), nil, nil); err != nil {
		t.Fatal(err)
	}
	it := db.NewIterator(&IterOptions{Prefix: []byte("a")})
	if it.First() || it.Err() == nil {
		t.Fatalf("Prefix with a reverse comparator: valid %v, err %v; want an error", it.Valid(), it.Err())
	}
	if err := it.Close(); err == nil || !strings.Contains(err.Error(), "bytewise") {
		t.Fatalf("Close: %v, want the Prefix error", err)
	}
	if err := db.Close(); err != nil { // the failed iterator holds nothing
		t.Fatal(err)
	}
}

// TestIteratorBackward: Backward walks from Last to the start within the
// bounds, stops when the loop breaks, and leaves Err to the caller.
func TestIteratorBackward(t *testing.T) {
	db := mustOpen(t, "db", &Options{FS: NewMemFS()})
	defer db.Close()
	for _, k := range []string{"a", "b", "c", "d"} {
		if err := db.Put([]byte(k), []byte(strings.ToUpper(k)), nil); err != nil {
			t.Fatal(err)
		}
	}
	it := db.NewIterator(&IterOptions{LowerBound: []byte("b")})
	defer it.Close()
	var got []string
	for k, v := range it.Backward() {
		got = append(got, string(k)+"="+string(v))
	}
	if want := []string{"d=D", "c=C", "b=B"}; !slices.Equal(got, want) {
		t.Fatalf("Backward = %q, want %q", got, want)
	}
	got = got[:0]
	for k := range it.Backward() {
		got = append(got, string(k))
		if len(got) == 2 {
			break
		}
	}
	if want := []string{"d", "c"}; !slices.Equal(got, want) || string(it.Key()) != "c" {
		t.Fatalf("Backward with a break = %q, iterator at %q; want %q, at c", got, it.Key(), want)
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
}
