package sstable

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/strata-db/strata/internal/base"
)

// TestBlockLayout pins the byte layout of a block: prefix compression,
// restart points and the restart array, as LevelDB's BlockBuilder writes it.
func TestBlockLayout(t *testing.T) {
	w := blockWriter{restartInterval: 2}
	w.reset()
	w.add([]byte("apple"), []byte("1"))
	w.add([]byte("apricot"), []byte("22"))
	w.add([]byte("banana"), nil)
	if got, want := w.estimatedSize(), 28+3*4; got != want {
		t.Fatalf("estimatedSize = %d, want %d", got, want)
	}
	got := w.finish()
	want := strings.Join([]string{
		"00" + "05" + "01" + hex.EncodeToString([]byte("apple")) + "31",   // offset 0: restart
		"02" + "05" + "02" + hex.EncodeToString([]byte("ricot")) + "3232", // offset 9: shares "ap"
		"00" + "06" + "00" + hex.EncodeToString([]byte("banana")),         // offset 19: restart
		"00000000" + "13000000", // restarts 0, 19
		"02000000",              // two restarts
	}, "")
	if hex.EncodeToString(got) != want {
		t.Fatalf("block bytes\n got %x\nwant %s", got, want)
	}

	var it blockIter
	if err := it.init(nil, got, "t", 0); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for ok := it.First(); ok; ok = it.Next() {
		keys = append(keys, string(it.key)+"="+string(it.val))
	}
	if strings.Join(keys, ",") != "apple=1,apricot=22,banana=" {
		t.Fatalf("iterated %v", keys)
	}
	keys = keys[:0]
	for ok := it.Last(); ok; ok = it.Prev() {
		keys = append(keys, string(it.key))
	}
	if strings.Join(keys, ",") != "banana,apricot,apple" {
		t.Fatalf("reverse iterated %v", keys)
	}

	// An empty block is a single restart pointing at the restart array.
	w.reset()
	if got := w.finish(); hex.EncodeToString(got) != "0000000001000000" {
		t.Fatalf("empty block = %x", got)
	}
	if err := it.init(nil, w.buf, "t", 0); err != nil || it.First() || it.Last() || it.err != nil {
		t.Fatalf("empty block iterates: %v", err)
	}
}

func TestBlockSeek(t *testing.T) {
	for _, interval := range []int{1, 2, 3, 16} {
		w := blockWriter{restartInterval: interval}
		w.reset()
		var keys [][]byte
		for i := 0; i < 40; i += 2 { // user keys k00, k02, ... k38
			k := base.AppendInternalKey(nil, []byte{'k', byte('0' + i/10), byte('0' + i%10)}, 5, base.KindSet)
			keys = append(keys, k)
			w.add(k, []byte{byte(i)})
		}
		var it blockIter
		if err := it.init(base.DefaultComparer, w.finish(), "t", 0); err != nil {
			t.Fatal(err)
		}
		for i := 0; i <= 40; i++ {
			target := base.AppendInternalKey(nil, []byte{'k', byte('0' + i/10), byte('0' + i%10)}, 5, base.KindSet)
			wantGE := (i + 1) / 2 // index of the first key >= target
			ok := it.SeekGE(target)
			if ok != (wantGE < len(keys)) || (ok && !bytes.Equal(it.key, keys[wantGE])) {
				t.Fatalf("interval %d: SeekGE(k%02d) = %v %q", interval, i, ok, it.key)
			}
			wantLT := wantGE - 1
			ok = it.SeekLT(target)
			if ok != (wantLT >= 0) || (ok && !bytes.Equal(it.key, keys[wantLT])) {
				t.Fatalf("interval %d: SeekLT(k%02d) = %v %q", interval, i, ok, it.key)
			}
		}
	}
}

// TestBlockCorrupt feeds malformed blocks to the iterator: each must report
// a corruption error (or iterate nothing), never panic.
func TestBlockCorrupt(t *testing.T) {
	valid := func() []byte {
		w := blockWriter{restartInterval: 2}
		w.reset()
		w.add([]byte("apple"), []byte("1"))
		w.add([]byte("apricot"), []byte("22"))
		w.add([]byte("banana"), nil)
		return append([]byte(nil), w.finish()...)
	}
	tests := []struct {
		name  string
		block func() []byte
	}{
		{"too short", func() []byte { return []byte{1, 0} }},
		{"restart count too large", func() []byte { b := valid(); b[len(b)-4] = 200; return b }},
		{"restart beyond entries", func() []byte { b := valid(); b[len(b)-8] = 100; return b }},
		{"shared at restart", func() []byte { b := valid(); b[0] = 1; return b }},
		{"shared longer than key", func() []byte { b := valid(); b[9] = 30; return b }},
		{"non_shared past end", func() []byte { b := valid(); b[10] = 120; return b }},
		{"value_len past end", func() []byte { b := valid(); b[2] = 100; return b }},
		{"varint overflow", func() []byte {
			b := valid()
			copy(b[19:], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
			return b
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var it blockIter
			err := it.init(base.DefaultComparer, tc.block(), "f.ldb", 1000)
			if err == nil {
				n := 0
				for ok := it.First(); ok; ok = it.Next() {
					n++
				}
				err = it.err
				if err == nil {
					for ok := it.Last(); ok; ok = it.Prev() {
					}
					err = it.err
				}
			}
			var ce *base.CorruptionError
			if !errors.As(err, &ce) || ce.File != "f.ldb" || ce.Offset < 1000 {
				t.Fatalf("got %v, want a corruption error in f.ldb at offset >= 1000", err)
			}
		})
	}
}

// TestBlockSeekBytewiseScan checks SeekGE with the bytewise comparer
// against a sorted model, on random blocks (random restart intervals) whose
// user keys are prefixes of one another, end in zero bytes, repeat with
// several versions, or are db_bench's decimal keys, mostly seeking from
// where an earlier seek left the iterator, and checks Next and Prev from
// where it stops.
func TestBlockSeekBytewiseScan(t *testing.T) {
	gens := map[string]func(rng *rand.Rand) []byte{
		"alphabet": func(rng *rand.Rand) []byte { return alphabetKey(rng, "ab\x00\xff", 10) },
		"decimal":  func(rng *rand.Rand) []byte { return fmt.Appendf(nil, "%016d", rng.IntN(100000)) },
		"long": func(rng *rand.Rand) []byte {
			return fmt.Appendf(nil, "prefix/%06d/%s", rng.IntN(300), strings.Repeat("z", rng.IntN(3)))
		},
	}
	for name, gen := range gens {
		rng := rand.New(rand.NewPCG(uint64(len(name)), 3))
		for round := 0; round < 30; round++ {
			seen := map[string]bool{}
			var keys [][]byte
			for len(keys) < 1+rng.IntN(200) {
				k := base.AppendInternalKey(nil, gen(rng), rng.Uint64N(1000), base.KindSet)
				if !seen[string(k)] {
					seen[string(k)] = true
					keys = append(keys, k)
				}
			}
			slices.SortFunc(keys, base.InternalCompareBytewise)
			w := blockWriter{restartInterval: 1 + rng.IntN(20)}
			w.reset()
			for i, k := range keys {
				w.add(k, []byte{byte(i)})
			}
			var it blockIter
			if err := it.init(base.DefaultComparer, w.finish(), "t", 0); err != nil {
				t.Fatal(err)
			}
			for q := 0; q < 300; q++ {
				var u []byte
				if rng.IntN(2) == 0 {
					u = bytes.Clone(keys[rng.IntN(len(keys))])
					u = u[:len(u)-base.TrailerLen]
					switch rng.IntN(3) {
					case 0:
						if len(u) > 0 {
							u = u[:rng.IntN(len(u))]
						}
					case 1:
						u = append(u, "\x00a\xff"[rng.IntN(3)])
					}
				} else {
					u = gen(rng)
				}
				target := base.AppendInternalKey(nil, u, rng.Uint64N(1000), base.KindSet)
				want, _ := slices.BinarySearchFunc(keys, target, base.InternalCompareBytewise)
				if rng.IntN(3) > 0 { // mostly seek from where an earlier seek left it
					it.SeekGE(base.AppendInternalKey(nil, gen(rng), rng.Uint64N(1000), base.KindSet))
				}
				ok := it.SeekGE(target)
				if ok != (want < len(keys)) || (ok && !bytes.Equal(it.key, keys[want])) {
					t.Fatalf("%s: SeekGE(%q) = %v %q, want index %d of %d", name, target, ok, it.key, want, len(keys))
				}
				if !ok {
					continue
				}
				if it.val[0] != byte(want) {
					t.Fatalf("%s: SeekGE(%q): value of entry %d, want %d", name, target, it.val[0], want)
				}
				if rng.IntN(2) == 0 {
					if it.Next() != (want+1 < len(keys)) || (want+1 < len(keys) && !bytes.Equal(it.key, keys[want+1])) {
						t.Fatalf("%s: Next after SeekGE(%q) = %q, want index %d", name, target, it.key, want+1)
					}
				} else if it.Prev() != (want > 0) || (want > 0 && !bytes.Equal(it.key, keys[want-1])) {
					t.Fatalf("%s: Prev after SeekGE(%q) = %q, want index %d", name, target, it.key, want-1)
				}
			}
		}
	}
}
