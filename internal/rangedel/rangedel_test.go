package rangedel

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

var seedFlag = flag.Uint64("rangedel.seed", 0, "seed of TestSetAgainstModel (0: from the clock)")

func ts(specs ...string) []Tombstone {
	var out []Tombstone
	for _, s := range specs {
		var start, end string
		var seq uint64
		fmt.Sscanf(strings.NewReplacer("-", " ", "#", " ").Replace(s), "%s %s %d", &start, &end, &seq)
		out = append(out, Tombstone{Start: []byte(start), End: []byte(end), Seq: seq})
	}
	return out
}

func show(frags []Fragment) string {
	var parts []string
	for _, f := range frags {
		parts = append(parts, fmt.Sprintf("[%s,%s)%v", f.Start, f.End, f.Seqs))
	}
	return strings.Join(parts, " ")
}

func TestFragmentize(t *testing.T) {
	for _, tc := range []struct {
		in   []Tombstone
		want string
	}{
		{nil, ""},
		{ts("b-a#1"), ""}, // empty
		{ts("a-c#1"), "[a,c)[1]"},
		{ts("a-c#1", "b-d#2"), "[a,b)[1] [b,c)[2 1] [c,d)[2]"},
		{ts("a-z#1", "c-d#5", "c-d#3"), "[a,c)[1] [c,d)[5 3 1] [d,z)[1]"},
		{ts("a-c#4", "a-c#4"), "[a,c)[4]"},
		{ts("a-b#1", "c-d#2"), "[a,b)[1] [c,d)[2]"},
		{ts("a-b#1", "b-c#2"), "[a,b)[1] [b,c)[2]"},
	} {
		if got := show(Fragmentize(bytes.Compare, tc.in)); got != tc.want {
			t.Errorf("Fragmentize(%v) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// TestSetAgainstModel: on random tombstones over a small alphabet,
// Covering agrees with the plain rule (the largest sequence at or below the
// reader's of the tombstones containing the key), fragments are sorted and
// disjoint, Tombstones round-trips, Union is the set of all, and Truncate
// covers exactly the keys of the set inside its bounds.
func TestSetAgainstModel(t *testing.T) {
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay: go test ./internal/rangedel -run TestSetAgainstModel -rangedel.seed=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	key := func() []byte { return []byte{byte('a' + rng.IntN(12))} }
	model := func(tombs []Tombstone, k []byte, readSeq uint64) uint64 {
		var best uint64
		for _, t := range tombs {
			if bytes.Compare(t.Start, k) <= 0 && bytes.Compare(k, t.End) < 0 && t.Seq <= readSeq && t.Seq > best {
				best = t.Seq
			}
		}
		return best
	}
	for range 2000 {
		var tombs []Tombstone
		for range rng.IntN(8) {
			tombs = append(tombs, Tombstone{Start: key(), End: key(), Seq: uint64(1 + rng.IntN(20))})
		}
		s := NewSet(bytes.Compare, tombs)
		frags := s.Fragments()
		for i := range frags {
			if bytes.Compare(frags[i].Start, frags[i].End) >= 0 || len(frags[i].Seqs) == 0 ||
				!slices.IsSortedFunc(frags[i].Seqs, func(a, b uint64) int { return int(b) - int(a) }) {
				t.Fatalf("bad fragment %s of %v", show(frags[i:i+1]), tombs)
			}
			if i > 0 && bytes.Compare(frags[i-1].End, frags[i].Start) > 0 {
				t.Fatalf("fragments overlap: %s", show(frags))
			}
		}
		again := NewSet(bytes.Compare, s.Tombstones())
		if show(again.Fragments()) != show(frags) {
			t.Fatalf("Tombstones does not round-trip: %s vs %s", show(frags), show(again.Fragments()))
		}
		half := len(tombs) / 2
		u := Union(bytes.Compare, NewSet(bytes.Compare, tombs[:half]), nil, NewSet(bytes.Compare, tombs[half:]))
		if show(u.Fragments()) != show(frags) {
			t.Fatalf("Union %s, want %s", show(u.Fragments()), show(frags))
		}
		lo, hi := key(), key()
		if rng.IntN(4) == 0 {
			lo = nil
		}
		tr := NewSet(bytes.Compare, s.Truncate(lo, hi))
		for c := byte('a'); c <= 'm'; c++ {
			k := []byte{c}
			for _, readSeq := range []uint64{0, 5, 10, 20} {
				want := model(tombs, k, readSeq)
				if got, f := s.Covering(k, readSeq); got != want || (f == nil) != (want == 0) {
					t.Fatalf("Covering(%s, %d) = %d in %v, want %d; tombstones %v", k, readSeq, got, f, want, tombs)
				}
				sq, slo, shi := s.Span(k, readSeq)
				if sq != want || slo != nil && bytes.Compare(slo, k) > 0 || shi != nil && bytes.Compare(k, shi) >= 0 {
					t.Fatalf("Span(%s, %d) = %d [%q, %q), want %d around the key; tombstones %v", k, readSeq, sq, slo, shi, want, tombs)
				}
				gq, glo, ghi, gapEnd, gap := s.SpanGap(k, readSeq)
				if gq != sq || !bytes.Equal(glo, slo) || !bytes.Equal(ghi, shi) || gap && shi == nil {
					t.Fatalf("SpanGap(%s, %d) = %d [%q, %q) gap %v, Span %d [%q, %q); tombstones %v", k, readSeq, gq, glo, ghi, gap, sq, slo, shi, tombs)
				}
				for c2 := byte('a' - 1); c2 <= 'm'+1; c2++ {
					k2 := []byte{c2}
					if (slo == nil || bytes.Compare(slo, k2) <= 0) && (shi == nil || bytes.Compare(k2, shi) < 0) &&
						model(tombs, k2, readSeq) != want {
						t.Fatalf("Span(%s, %d) = %d [%q, %q), but %s reads %d; tombstones %v", k, readSeq, sq, slo, shi, k2, model(tombs, k2, readSeq), tombs)
					}
					if gap && bytes.Compare(shi, k2) <= 0 && (gapEnd == nil || bytes.Compare(k2, gapEnd) < 0) && model(tombs, k2, 20) != 0 {
						t.Fatalf("SpanGap(%s, %d): [%q, %q) uncovered, but %s reads %d; tombstones %v", k, readSeq, shi, gapEnd, k2, model(tombs, k2, 20), tombs)
					}
				}
				in := (lo == nil || bytes.Compare(lo, k) <= 0) && bytes.Compare(k, hi) < 0
				wantTr := uint64(0)
				if in {
					wantTr = want
				}
				if got, _ := tr.Covering(k, readSeq); got != wantTr {
					t.Fatalf("Truncate(%s, %s).Covering(%s, %d) = %d, want %d", lo, hi, k, readSeq, got, wantTr)
				}
			}
		}
	}
}
