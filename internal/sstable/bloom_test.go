package sstable

import (
	"encoding/binary"
	"fmt"
	"testing"
)

// TestHashVectors are LevelDB's util/hash_test.cc values, including the
// bytes >= 0x80 whose sign extension differed between releases.
func TestHashVectors(t *testing.T) {
	data5 := []byte{
		0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
		0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	}
	tests := []struct {
		data []byte
		seed uint32
		want uint32
	}{
		{nil, 0xbc9f1d34, 0xbc9f1d34},
		{[]byte{0x62}, 0xbc9f1d34, 0xef1345c4},
		{[]byte{0xc3, 0x97}, 0xbc9f1d34, 0x5b663814},
		{[]byte{0xe2, 0x99, 0xa5}, 0xbc9f1d34, 0x323c078f},
		{[]byte{0xe1, 0x80, 0xb9, 0x32}, 0xbc9f1d34, 0xed21633a},
		{data5, 0x12345678, 0xf333dabb},
	}
	for _, tc := range tests {
		if got := leveldbHash(tc.data, tc.seed); got != tc.want {
			t.Errorf("Hash(%x, %#x) = %#x, want %#x", tc.data, tc.seed, got, tc.want)
		}
	}
}

func TestBloomK(t *testing.T) {
	for bpk, want := range map[int]int{1: 1, 2: 1, 3: 2, 10: 6, 20: 13, 43: 29, 44: 30, 100: 30} {
		if got := bloomK(bpk); got != want {
			t.Errorf("bloomK(%d) = %d, want %d", bpk, got, want)
		}
	}
}

// TestBloomFalsePositives follows LevelDB's bloom_test VaryingLengths: no
// false negatives, and a false-positive rate around 1% at 10 bits per key.
func TestBloomFalsePositives(t *testing.T) {
	key := func(i int) []byte { return binary.LittleEndian.AppendUint32(nil, uint32(i)) }
	mediocre, good := 0, 0
	for n := 1; n <= 10000; n = nextLength(n) {
		var hashes []uint32
		for i := range n {
			hashes = append(hashes, bloomHash(key(i)))
		}
		f := appendBloomFilter(nil, hashes, 10)
		if len(f) > n*10/8+40 {
			t.Fatalf("n=%d: filter of %d bytes is too large", n, len(f))
		}
		for i := range n {
			if !bloomMayContain(f, bloomHash(key(i))) {
				t.Fatalf("n=%d: false negative for key %d", n, i)
			}
		}
		fp := 0
		for i := range 10000 {
			if bloomMayContain(f, bloomHash(key(i+1000000000))) {
				fp++
			}
		}
		rate := float64(fp) / 10000
		if rate > 0.02 {
			t.Fatalf("n=%d: false positive rate %.2f%%", n, rate*100)
		}
		if rate > 0.0125 {
			mediocre++
		} else {
			good++
		}
	}
	if mediocre > good/5 {
		t.Fatalf("%d mediocre filters, %d good", mediocre, good)
	}
}

func nextLength(n int) int {
	switch {
	case n < 10:
		return n + 1
	case n < 100:
		return n + 10
	case n < 1000:
		return n + 100
	}
	return n + 1000
}

func TestBloomEdgeCases(t *testing.T) {
	if bloomMayContain(nil, 1) || bloomMayContain([]byte{6}, 1) {
		t.Fatal("a filter shorter than 2 bytes must match nothing")
	}
	if !bloomMayContain([]byte{0, 0, 0, 31}, 1) {
		t.Fatal("k > 30 is reserved and must match everything")
	}
	// Zero keys still give a 64-bit filter plus k.
	if f := appendBloomFilter(nil, nil, 10); len(f) != 9 || f[8] != 6 {
		t.Fatalf("empty filter = %x", f)
	}
}

// TestFilterBlockLayout follows LevelDB's filter_block_test: filters are cut
// per 2 KiB of block offsets, with empty filters for ranges without blocks.
func TestFilterBlockLayout(t *testing.T) {
	fw := &filterWriter{bitsPerKey: 10}
	if got := fmt.Sprintf("%x", fw.finish()); got != "000000000b" {
		t.Fatalf("empty filter block = %s", got)
	}

	fw = &filterWriter{bitsPerKey: 10}
	fw.startBlock(0)
	fw.addKey([]byte("foo"))
	fw.startBlock(2000) // same filter as block 0
	fw.addKey([]byte("bar"))
	fw.startBlock(3100) // filter 1
	fw.addKey([]byte("box"))
	fw.startBlock(9000) // filters 2 and 3 empty, filter 4
	fw.addKey([]byte("box"))
	fw.addKey([]byte("hello"))
	block := append([]byte(nil), fw.finish()...)
	fr, err := initFilterReader(block, "t", 0)
	if err != nil {
		t.Fatal(err)
	}
	if fr.num != 5 || fr.baseLg != 11 {
		t.Fatalf("num=%d baseLg=%d", fr.num, fr.baseLg)
	}
	type probe struct {
		off  uint64
		key  string
		want bool
	}
	for _, p := range []probe{
		{0, "foo", true}, {2000, "bar", true}, {0, "box", false}, {0, "hello", false},
		{3100, "box", true}, {3100, "foo", false}, {3100, "hello", false},
		{4100, "foo", false}, {4100, "box", false}, // empty filter 2
		{6100, "box", false}, // empty filter 3
		{9000, "box", true}, {9000, "hello", true}, {9000, "foo", false}, {9000, "bar", false},
		{1 << 20, "anything", true}, // past the filters: may match
	} {
		if got := fr.mayContain(p.off, bloomHash([]byte(p.key))); got != p.want {
			t.Errorf("mayContain(%d, %q) = %v, want %v", p.off, p.key, got, p.want)
		}
	}
	for _, bad := range [][]byte{{}, {0, 0, 0, 0}, {0, 0, 0, 9, 11}, {0, 0, 0, 0, 64}} {
		if _, err := initFilterReader(bad, "t", 0); err == nil {
			t.Errorf("initFilterReader(%x) accepted a bad block", bad)
		}
	}
}
