package iterator

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/rangedel"
)

// frag is one fragment of a fakeTombs: [start, end)#seq.
type frag struct {
	start, end string
	seq        uint64
}

// fakeTombs is a Tombstones over sorted, disjoint fragments of one sequence
// each, which does not tell the stretch after a fragment (the engine's
// sets do: see SetView, which the randomized test uses too).
type fakeTombs struct{ frags []frag }

// setView returns f's fragments as a SetView over a rangedel.Set.
func (f *fakeTombs) setView() *SetView {
	var ts []rangedel.Tombstone
	for _, fr := range f.frags {
		ts = append(ts, rangedel.Tombstone{Start: []byte(fr.start), End: []byte(fr.end), Seq: fr.seq})
	}
	return (*SetView)(rangedel.NewSet(bytes.Compare, ts))
}

func (f *fakeTombs) Span(ukey []byte, readSeq uint64) (uint64, []byte, []byte, error) {
	k := string(ukey)
	var lo []byte
	for _, fr := range f.frags {
		if k < fr.start {
			return 0, lo, []byte(fr.start), nil
		}
		if k < fr.end {
			if fr.seq <= readSeq {
				return fr.seq, []byte(fr.start), []byte(fr.end), nil
			}
			return 0, []byte(fr.start), []byte(fr.end), nil
		}
		lo = []byte(fr.end)
	}
	return 0, lo, nil, nil
}

// SpanGap is Span, without telling the stretch after the range (gap false):
// the Merging iterator then asks again at the range's end.
func (f *fakeTombs) SpanGap(ukey []byte, readSeq uint64) (uint64, []byte, []byte, []byte, bool, error) {
	q, lo, hi, err := f.Span(ukey, readSeq)
	return q, lo, hi, nil, false, err
}

// covers returns the sequence of the fragment holding ukey visible at
// readSeq (0: none).
func (f *fakeTombs) covers(ukey []byte, readSeq uint64) uint64 {
	q, _, _, _ := f.Span(ukey, readSeq)
	return q
}

// hintedIter is a SliceIter with hints (Hinted) that records how it is
// positioned.
type hintedIter struct {
	*SliceIter
	first, last []byte // the hints (nil: unknown)
	calls       []string
}

func (h *hintedIter) FirstHint() []byte { return h.first }
func (h *hintedIter) LastHint() []byte  { return h.last }
func (h *hintedIter) First() bool {
	h.calls = append(h.calls, "First")
	return h.SliceIter.First()
}
func (h *hintedIter) Last() bool {
	h.calls = append(h.calls, "Last")
	return h.SliceIter.Last()
}
func (h *hintedIter) SeekGE(k []byte) bool {
	h.calls = append(h.calls, "SeekGE("+string(base.UserKey(k))+")")
	return h.SliceIter.SeekGE(k)
}
func (h *hintedIter) SeekLT(k []byte) bool {
	h.calls = append(h.calls, "SeekLT("+string(base.UserKey(k))+")")
	return h.SliceIter.SeekLT(k)
}

// TestMergingSkipsCoveredStart: a child whose start (end) a newer child's
// tombstone covers is positioned past the fragment with one seek, by First
// and Last through its hints and by SeekGE and SeekLT through the cascade;
// a reader at a snapshot older than the tombstone positions it as usual and
// sees its keys.
func TestMergingSkipsCoveredStart(t *testing.T) {
	older := []KV{set("b", 110, "b"), set("c", 120, "c"), set("k", 130, "k"), set("m", 140, "m"), set("n", 150, "n")}
	tests := []struct {
		name  string
		tombs []frag // the newer child's
		seq   uint64
		op    op
		calls string // the older child's positioning
		scan  string // the user keys from there on, in the op's direction
	}{
		{"first covered", []frag{{"b", "m", 250}}, 1000, op{kind: "first"}, "[SeekGE(m)]", "a m n"},
		{"first covered, snapshot older than the tombstone", []frag{{"b", "m", 250}}, 220, op{kind: "first"}, "[First]", "a b c k m n"},
		{"first covered, hint before the tombstone", []frag{{"b", "m", 250}}, 1000, op{kind: "first"}, "[First]", "a m n"},
		{"first not covered", []frag{{"c", "m", 250}}, 1000, op{kind: "first"}, "[First]", "a b m n"},
		{"first covered by adjacent fragments", []frag{{"a", "c", 250}, {"c", "m", 240}}, 1000, op{kind: "first"}, "[SeekGE(m)]", "m n"},
		{"first covered to the end", []frag{{"b", "z", 250}}, 1000, op{kind: "first"}, "[SeekGE(z)]", "a"},
		{"last covered", []frag{{"k", "z", 250}}, 1000, op{kind: "last"}, "[SeekLT(k)]", "c b a"},
		{"last covered, snapshot older than the tombstone", []frag{{"k", "z", 250}}, 220, op{kind: "last"}, "[Last]", "n m k c b a"},
		{"last not covered", []frag{{"k", "n", 250}}, 1000, op{kind: "last"}, "[Last SeekLT(k)]", "n c b a"},
		{"last covered from its own key", []frag{{"n", "z", 250}}, 1000, op{kind: "last"}, "[Last SeekLT(n)]", "m k c b a"},
		{"seekge cascades", []frag{{"b", "m", 250}}, 1000, op{kind: "seekge", key: []byte("c")}, "[SeekGE(m)]", "m n"},
		{"seekge cascades, snapshot older", []frag{{"b", "m", 250}}, 220, op{kind: "seekge", key: []byte("c")}, "[SeekGE(c)]", "c k m n"},
		{"seekge outside", []frag{{"b", "m", 250}}, 1000, op{kind: "seekge", key: []byte("m")}, "[SeekGE(m)]", "m n"},
		{"seeklt cascades", []frag{{"b", "m", 250}}, 1000, op{kind: "seeklt", key: []byte("l")}, "[SeekLT(b)]", "a"},
		{"seeklt cascades, snapshot older", []frag{{"b", "m", 250}}, 220, op{kind: "seeklt", key: []byte("l")}, "[SeekLT(l)]", "k c b a"},
		{"seeklt at the fragment's start", []frag{{"b", "m", 250}}, 1000, op{kind: "seeklt", key: []byte("b")}, "[SeekLT(b)]", "a"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			newer := NewSliceIter(icmp, []KV{set("a", 210, "a")})
			h := &hintedIter{SliceIter: NewSliceIter(icmp, older), first: []byte("b"), last: []byte("n")}
			if tc.name == "first covered, hint before the tombstone" {
				h.first = []byte("a")
			}
			m := NewMerging(icmp, newer, h)
			m.SetTombstones(bytes.Compare, tc.seq, []Tombstones{&fakeTombs{tc.tombs}, nil})
			d := NewDBIter(base.DefaultComparer, m, tc.seq, nil, nil)
			ok := apply(d, tc.op)
			if got := fmt.Sprint(h.calls); got != tc.calls {
				t.Errorf("older child positioned by %s, want %s", got, tc.calls)
			}
			var keys []string
			for ; ok; ok = apply(d, op{kind: map[bool]string{true: "prev", false: "next"}[tc.op.kind == "last" || tc.op.kind == "seeklt"]}) {
				keys = append(keys, string(d.Key()))
			}
			if got := fmt.Sprint(keys); got != "["+tc.scan+"]" {
				t.Errorf("scan %s, want [%s]", got, tc.scan)
			}
			if err := d.Error(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestMergingTombstonesRandomized: children newest first, each with entries
// and tombstones of its own range of sequence numbers (as the engine's
// layout has them; as a fakeTombs or a SetView), some with hints (exact,
// loose or none), against a model, at random snapshots and bounds. One
// Merging iterator serves several rounds (re-Init, as the engine's pool
// reuses them), so that what it remembers from one round (startMemo)
// meets the next round's snapshot and bounds. Failures print the seed.
func TestMergingTombstonesRandomized(t *testing.T) {
	for _, seed := range seeds(300) {
		rng := rand.New(rand.NewPCG(seed, 23))
		letters, entries := "abcdefghijklmnop", 12
		if rng.IntN(3) == 0 {
			letters, entries = "abc", 60 // many versions of each key (maxSequentialSkips)
		}
		ukey := func() string { return string(letters[rng.IntN(len(letters))]) }
		n := 1 + rng.IntN(5)
		var all []KV
		children := make([]base.InternalIterator, n)
		tombs := make([]Tombstones, n)
		var fakes []*fakeTombs
		for i := range n {
			lo := uint64(100 * (n - i)) // child i's sequences: [lo, lo+100)
			var kvs []KV
			seen := map[string]bool{}
			for range rng.IntN(entries) {
				k, seq := ukey(), lo+uint64(rng.IntN(100))
				if seen[fmt.Sprint(k, seq)] {
					continue
				}
				seen[fmt.Sprint(k, seq)] = true
				if rng.IntN(4) == 0 {
					kvs = append(kvs, del(k, seq))
				} else {
					kvs = append(kvs, set(k, seq, fmt.Sprint(k, seq)))
				}
			}
			sortKVs(kvs)
			all = append(all, kvs...)
			var fs []frag
			for at := 0; at < len(letters); {
				at += rng.IntN(6)
				end := at + 1 + rng.IntN(5)
				if at >= len(letters) || rng.IntN(2) == 0 {
					at = end
					continue
				}
				endKey := "p~" // past every key
				if end < len(letters) {
					endKey = string(letters[end])
				}
				fs = append(fs, frag{string(letters[at]), endKey, lo + uint64(rng.IntN(100))})
				at = end
			}
			ft := &fakeTombs{fs}
			fakes = append(fakes, ft)
			switch {
			case len(fs) == 0:
			case rng.IntN(2) == 0:
				tombs[i] = ft.setView()
			default:
				tombs[i] = ft
			}
			s := NewSliceIter(icmp, kvs)
			switch {
			case len(kvs) == 0 || rng.IntN(3) == 0:
				children[i] = s
			case rng.IntN(2) == 0:
				children[i] = &hintedIter{SliceIter: s, first: base.UserKey(kvs[0].Key), last: base.UserKey(kvs[len(kvs)-1].Key)}
			default:
				children[i] = &hintedIter{SliceIter: s, first: []byte(""), last: []byte("zz")}
			}
		}
		m := NewMerging(icmp, children...)
		for round := range 3 {
			snap := uint64(rng.IntN(100*(n+1)) + 50)
			if rng.IntN(4) == 0 {
				snap = base.MaxSeq
			}
			var lower, upper []byte
			if rng.IntN(3) == 0 {
				lower = []byte(ukey())
			}
			if rng.IntN(3) == 0 {
				upper = []byte(ukey())
			}
			// The model: entries a visible tombstone of any child deletes
			// (sequence below the tombstone's) are gone.
			var live []KV
			for _, kv := range all {
				uk, seq, _, _ := base.ParseInternalKey(kv.Key)
				deleted := false
				for _, f := range fakes {
					if q := f.covers(uk, snap); q > seq {
						deleted = true
					}
				}
				if !deleted {
					live = append(live, kv)
				}
			}
			sortKVs(live)
			m.Init(icmp, children...)
			m.SetTombstones(bytes.Compare, snap, tombs)
			d := NewDBIter(base.DefaultComparer, m, snap, lower, upper)
			seekKey := func() []byte { return []byte(ukey() + "~"[:rng.IntN(2)]) }
			t.Logf("round %d", round)
			runModel(t, seed, rng, d, visibleModel(live, snap, lower, upper), 60, seekKey)
		}
	}
}

// TestMergingPastAllKeepsOwnTombstones: a child that First positioned past
// a newer child's open-ended tombstones (mergeChild.pastAll) skips only the
// newer children's questions: its own tombstones still delete its older
// entries on Next, and after a turn to Prev every child is checked again.
func TestMergingPastAllKeepsOwnTombstones(t *testing.T) {
	older := []KV{set("c", 110, "c"), set("d", 120, "d"), set("e", 130, "e"), set("g", 140, "g")}
	newer := NewSliceIter(icmp, nil)
	h := &hintedIter{SliceIter: NewSliceIter(icmp, older), first: []byte("c"), last: []byte("g")}
	m := NewMerging(icmp, newer, h)
	m.SetTombstones(bytes.Compare, 1000, []Tombstones{
		&fakeTombs{[]frag{{"b", "d", 250}}}, // the newer child's: c is gone
		&fakeTombs{[]frag{{"e", "f", 135}}}, // the older child's own: e#130 is gone
	})
	if !m.First() || string(base.UserKey(m.Key())) != "d" {
		t.Fatalf("First at %q, want d", m.Key())
	}
	if !m.children[1].pastAll {
		t.Errorf("the older child is not marked past the newer child's tombstones")
	}
	var keys []string
	for ok := true; ok; ok = m.Next() {
		keys = append(keys, string(base.UserKey(m.Key())))
	}
	if got := fmt.Sprint(keys); got != "[d g]" {
		t.Errorf("forward %s, want [d g]", got)
	}
	if !m.SeekGE(base.MakeSearchKey(nil, []byte("g"), base.MaxSeq)) || !m.Prev() || string(base.UserKey(m.Key())) != "d" {
		t.Errorf("Prev from g at %q, want d", m.Key())
	}
	if m.children[1].pastAll {
		t.Errorf("the mark survived a seek and a turn")
	}
	if err := m.Error(); err != nil {
		t.Fatal(err)
	}
}
