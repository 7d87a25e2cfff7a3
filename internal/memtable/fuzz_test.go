package memtable

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/strata-db/strata/internal/base"
)

// FuzzOps decodes the input as a program of Add/Get/SeekGE/SeekLT/step
// operations over a small key space (so sequences collide and duplicates
// and a full arena occur) and checks every result against the model.
//
// Program: byte 0 picks the comparer (bit 0) and the arena size (bits 1..7,
// in 64-byte units); then each op is an opcode byte followed by operands.
func FuzzOps(f *testing.F) {
	f.Add([]byte{0x00})
	f.Add([]byte{0xfe, 0, 2, 'a', 'b', 5, 1, 0, 2, 'a', 'b', 5, 0, 1, 2, 'a', 'b', 9})
	f.Add([]byte{0x21, 0, 1, 'x', 3, 1, 0, 0, 7, 0, 0, 2, 1, 'x', 9, 4, 5, 3, 0, 255, 4, 4})
	f.Add(bytes.Repeat([]byte{0, 3, 'a', 'b', 'c', 1, 0}, 40))
	f.Fuzz(fuzzBody)
}

// fuzzBody runs one FuzzOps program.
func fuzzBody(t *testing.T, prog []byte) {
	if len(prog) == 0 {
		return
	}
	cmp := comparers[prog[0]&1]
	m := New(cmp, int(prog[0]>>1)*64)
	md := &model{cmp: cmp}
	seen := map[string]bool{} // "ukey#seq" present
	it := m.NewIter()
	idx := -1 // the model index of the iterator's position
	pos := 1
	next := func() byte {
		if pos >= len(prog) {
			return 0
		}
		pos++
		return prog[pos-1]
	}
	key := func() []byte {
		n := int(next() % 4)
		k := make([]byte, n)
		for i := range k {
			k[i] = 'a' + next()%3
		}
		return k
	}
	for pos < len(prog) {
		op := next() % 5
		switch op {
		case 0: // Add key seq kind value-len
			ukey, seq, kind := key(), uint64(next()), base.Kind(next()%2)
			value := bytes.Repeat([]byte{'v'}, int(next()%64))
			err := m.Add(seq, kind, ukey, value)
			id := fmt.Sprintf("%q#%d", ukey, seq)
			switch {
			case seen[id]:
				if !errors.Is(err, ErrRecordExists) && !errors.Is(err, ErrArenaFull) {
					t.Fatalf("duplicate %s: err %v", id, err)
				}
			case errors.Is(err, ErrArenaFull):
				if uint64(EstimateEntrySize(len(ukey), len(value)))+m.ApproximateMemoryUsage() <= uint64(m.ArenaSize()) {
					t.Fatalf("%s: ErrArenaFull with room", id)
				}
			case err != nil:
				t.Fatalf("%s: %v", id, err)
			default:
				seen[id] = true
				md.add(seq, kind, ukey, value)
				it.Init(m) // the model index of a position may shift
				idx = -1
			}
		case 1: // Get key seq
			ukey, seq := key(), uint64(next())
			v, k, ok := m.Get(ukey, seq)
			wv, wk, wok := md.get(ukey, seq)
			if ok != wok || (ok && (k != wk || !bytes.Equal(v, wv))) {
				t.Fatalf("Get(%q, %d) = %q,%v,%v; want %q,%v,%v", ukey, seq, v, k, ok, wv, wk, wok)
			}
		case 2, 3: // SeekGE/SeekLT key seq kind
			sk := base.AppendInternalKey(nil, key(), uint64(next()), base.Kind(next()%3))
			var valid bool
			if op == 2 {
				idx, valid = md.seekGE(sk), it.SeekGE(sk)
			} else {
				idx, valid = md.seekGE(sk)-1, it.SeekLT(sk)
			}
			checkIterAt(t, md, it, valid, idx, "seek "+base.FormatInternalKey(sk))
		case 4: // Next or Prev, or First/Last when unpositioned
			dir := next()
			var valid bool
			switch {
			case !it.Valid() && dir%2 == 0:
				idx, valid = 0, it.First()
			case !it.Valid():
				idx, valid = len(md.sort())-1, it.Last()
			case dir%2 == 0:
				idx, valid = idx+1, it.Next()
			default:
				idx, valid = idx-1, it.Prev()
			}
			checkIterAt(t, md, it, valid, idx, "step")
		}
	}
	checkAgainstModel(t, m, md)
	checkStructure(t, m)
}
