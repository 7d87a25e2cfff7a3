package iterator

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/strata-db/strata/internal/base"
)

var seedFlag = flag.Uint64("seed", 0, "run randomized tests with only this seed")

// seeds returns the seeds a randomized test runs: n of them (a quarter
// under -race or -short), or just -seed.
func seeds(n int) []uint64 {
	if *seedFlag != 0 {
		return []uint64{*seedFlag}
	}
	if raceEnabled || testing.Short() {
		n = max(n/4, 1)
	}
	s := make([]uint64, n)
	for i := range s {
		s[i] = uint64(i + 1)
	}
	return s
}

// icmp is the internal-key order over bytewise user keys.
func icmp(a, b []byte) int { return base.InternalCompare(bytes.Compare, a, b) }

func ikey(ukey string, seq uint64, kind base.Kind) []byte {
	return base.AppendInternalKey(nil, []byte(ukey), seq, kind)
}

func set(ukey string, seq uint64, value string) KV {
	return KV{Key: ikey(ukey, seq, base.KindSet), Value: []byte(value)}
}

func del(ukey string, seq uint64) KV {
	return KV{Key: ikey(ukey, seq, base.KindDelete)}
}

func sortKVs(kvs []KV) []KV {
	slices.SortFunc(kvs, func(a, b KV) int { return icmp(a.Key, b.Key) })
	return kvs
}

func fmtKV(k, v []byte) string {
	if base.ValidInternalKey(k) {
		return fmt.Sprintf("%s=%q", base.FormatInternalKey(k), v)
	}
	return fmt.Sprintf("%q=%q", k, v)
}

// invalidating wraps an iterator so that the key and value it hands out are
// private copies that get overwritten with garbage on the next positioning
// call: a caller that keeps a key or value too long reads garbage (or, as
// two buffers alternate to keep the test fast, a later entry).
type invalidating struct {
	base.InternalIterator
	key, value []byte
	bufs       [2][]byte
	which      int
}

func newInvalidating(it base.InternalIterator) *invalidating {
	return &invalidating{InternalIterator: it}
}

func (v *invalidating) update(ok bool) bool {
	for i := range v.key {
		v.key[i] = 0xcc
	}
	for i := range v.value {
		v.value[i] = 0xcc
	}
	v.key, v.value = nil, nil
	if v.InternalIterator.Valid() {
		v.which ^= 1
		k, val := v.InternalIterator.Key(), v.InternalIterator.Value()
		b := append(append(v.bufs[v.which][:0], k...), val...)
		v.bufs[v.which] = b
		v.key, v.value = b[:len(k):len(k)], b[len(k):]
	}
	return ok
}

func (v *invalidating) SeekGE(k []byte) bool { return v.update(v.InternalIterator.SeekGE(k)) }
func (v *invalidating) SeekLT(k []byte) bool { return v.update(v.InternalIterator.SeekLT(k)) }
func (v *invalidating) First() bool          { return v.update(v.InternalIterator.First()) }
func (v *invalidating) Last() bool           { return v.update(v.InternalIterator.Last()) }
func (v *invalidating) Next() bool           { return v.update(v.InternalIterator.Next()) }
func (v *invalidating) Prev() bool           { return v.update(v.InternalIterator.Prev()) }
func (v *invalidating) Key() []byte          { return v.key }

// NextSkipping passes a skip on to a child that can (a Merging iterator),
// so that the DB iterator's seek past a key's versions is tested through
// the wrapper.
func (v *invalidating) NextSkipping(target []byte) bool {
	if sk, ok := v.InternalIterator.(skipper); ok {
		return v.update(sk.NextSkipping(target))
	}
	return v.Next()
}

func (v *invalidating) Value() []byte { return v.value }

// op is one step of a randomized operation sequence.
type op struct {
	kind string // first, last, seekge, seeklt, next, prev
	key  []byte
}

func (o op) String() string {
	if o.key == nil {
		return o.kind
	}
	if base.ValidInternalKey(o.key) && len(o.key) > 8 {
		return fmt.Sprintf("%s(%s)", o.kind, base.FormatInternalKey(o.key))
	}
	return fmt.Sprintf("%s(%q)", o.kind, o.key)
}

// randomOp draws an op; next/prev only when valid, since they need a
// position.
func randomOp(rng *rand.Rand, valid bool, seekKey func() []byte) op {
	r := rng.IntN(100)
	switch {
	case valid && r < 35:
		return op{kind: "next"}
	case valid && r < 70:
		return op{kind: "prev"}
	case r < 78:
		return op{kind: "first"}
	case r < 86:
		return op{kind: "last"}
	case r < 93:
		return op{kind: "seekge", key: seekKey()}
	default:
		return op{kind: "seeklt", key: seekKey()}
	}
}

// apply runs o on it.
func apply(it base.InternalIterator, o op) bool {
	switch o.kind {
	case "first":
		return it.First()
	case "last":
		return it.Last()
	case "seekge":
		return it.SeekGE(o.key)
	case "seeklt":
		return it.SeekLT(o.key)
	case "next":
		return it.Next()
	case "prev":
		return it.Prev()
	}
	panic("unknown op " + o.kind)
}

// sliceModel is the expected behaviour of an iterator over a sorted list of
// entries: pos is the index of the current entry, or -1.
type sliceModel struct {
	cmp  func(a, b []byte) int
	keys [][]byte
	vals [][]byte
	pos  int
}

func (m *sliceModel) apply(o op) {
	n := len(m.keys)
	search := func(k []byte) int {
		i, _ := slices.BinarySearchFunc(m.keys, k, m.cmp)
		return i
	}
	switch o.kind {
	case "first":
		m.pos = 0
	case "last":
		m.pos = n - 1
	case "seekge":
		m.pos = search(o.key)
	case "seeklt":
		m.pos = search(o.key) - 1
	case "next":
		m.pos++
	case "prev":
		m.pos--
	}
	if m.pos < 0 || m.pos >= n {
		m.pos = -1
	}
}

// check compares it with the model after an op whose result was ok.
func (m *sliceModel) check(t *testing.T, it base.InternalIterator, ok bool, ctx func() string) {
	t.Helper()
	want := m.pos >= 0
	if ok != want || it.Valid() != want {
		t.Fatalf("%s: returned %v, Valid %v, want %v (model %s)", ctx(), ok, it.Valid(), want, m.cur())
	}
	if err := it.Error(); err != nil {
		t.Fatalf("%s: unexpected error %v", ctx(), err)
	}
	if !want {
		return
	}
	if !bytes.Equal(it.Key(), m.keys[m.pos]) || !bytes.Equal(it.Value(), m.vals[m.pos]) {
		t.Fatalf("%s: at %s, want %s", ctx(), fmtKV(it.Key(), it.Value()), m.cur())
	}
}

func (m *sliceModel) cur() string {
	if m.pos < 0 {
		return "invalid"
	}
	return fmtKV(m.keys[m.pos], m.vals[m.pos])
}

// runModel drives it and m with nops random ops, checking after each.
func runModel(t *testing.T, seed uint64, rng *rand.Rand, it base.InternalIterator, m *sliceModel,
	nops int, seekKey func() []byte) {
	t.Helper()
	var hist []op
	ctx := func() string {
		return fmt.Sprintf("seed %d: ops %v", seed, hist)
	}
	m.pos = -1
	for range nops {
		o := randomOp(rng, m.pos >= 0, seekKey)
		hist = append(hist, o)
		if len(hist) > 12 {
			hist = hist[1:]
		}
		ok := apply(it, o)
		m.apply(o)
		m.check(t, it, ok, ctx)
	}
}
