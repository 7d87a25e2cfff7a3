package iterator

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/strata-db/strata/internal/base"
)

// decodeFuzzEntries reads entries as (len byte, key, len byte, value)
// records. Keys are raw internal keys and may be malformed, as if read from
// a damaged table.
func decodeFuzzEntries(data []byte) []KV {
	var kvs []KV
	for len(data) > 0 {
		n := int(data[0]) % 24
		data = data[1:]
		if n > len(data) {
			n = len(data)
		}
		k := data[:n]
		data = data[n:]
		var v []byte
		if len(data) > 0 {
			m := min(int(data[0])%8, len(data)-1)
			v = data[1 : 1+m]
			data = data[1+m:]
		}
		kvs = append(kvs, KV{Key: k, Value: v})
	}
	sortKVs(kvs)
	// Equal internal keys cannot occur in one sorted source.
	return slices.CompactFunc(kvs, func(a, b KV) bool { return bytes.Equal(a.Key, b.Key) })
}

// FuzzDB feeds arbitrary (possibly malformed) internal keys through a
// merging and a DB iterator. It must never panic; with well-formed keys it
// must match the model, and with malformed ones any error must be a
// corruption.
func FuzzDB(f *testing.F) {
	entry := func(uk string, seq uint64, kind base.Kind, v string) []byte {
		k := base.AppendInternalKey(nil, []byte(uk), seq, kind)
		return append(append(append([]byte{byte(len(k))}, k...), byte(len(v))), v...)
	}
	var good []byte
	for i, uk := range []string{"a", "b", "b", "c", "d"} {
		good = append(good, entry(uk, uint64(i+1), base.Kind(i%2), "v")...)
	}
	withMerges := slices.Clone(good)
	for i, uk := range []string{"b", "c", "c", "e", "e"} {
		withMerges = append(withMerges, entry(uk, uint64(i+10), base.KindMerge, "m")...)
	}
	f.Add(withMerges, uint64(12), uint64(5))
	f.Add(withMerges, base.MaxSeq, uint64(6))
	f.Add(good, uint64(3), uint64(1))
	f.Add(append(slices.Clone(good), 3, 'x', 'y', 'z', 0), base.MaxSeq, uint64(2))
	f.Add(append(slices.Clone(good), entry("c", 9, base.Kind(9), "bad")...), base.MaxSeq, uint64(3))
	f.Add([]byte{}, uint64(0), uint64(4))
	f.Fuzz(fuzzDB)
}

func fuzzDB(t *testing.T, data []byte, snap, opSeed uint64) {
	kvs := decodeFuzzEntries(data)
	allValid := true
	for _, kv := range kvs {
		// A range tombstone's kind in a stream of point entries is
		// corruption (tombstones travel apart: see SetTombstones).
		allValid = allValid && base.ValidInternalKey(kv.Key) && base.Kind(base.Trailer(kv.Key)&0xff) != base.KindRangeDelete
	}
	rng := rand.New(rand.NewPCG(opSeed, 0))
	var lower, upper []byte
	if opSeed&1 != 0 {
		lower = []byte{byte(opSeed >> 8)}
	}
	if opSeed&2 != 0 {
		upper = []byte{byte(opSeed >> 16)}
	}
	// Two children so the merging iterator is exercised too.
	var a, b []KV
	for _, kv := range kvs {
		if rng.IntN(2) == 0 {
			a = append(a, kv)
		} else {
			b = append(b, kv)
		}
	}
	d := NewDBIter(base.DefaultComparer, NewMerging(icmp, NewSliceIter(icmp, a), NewSliceIter(icmp, b)), snap, lower, upper)
	d.Merge = testMerge
	seekKey := func() []byte {
		if len(kvs) > 0 && rng.IntN(2) == 0 {
			return base.UserKey(kvs[rng.IntN(len(kvs))].Key)
		}
		return []byte{byte(rng.IntN(256))}
	}
	if allValid {
		runModel(t, opSeed, rng, d, visibleModel(kvs, min(snap, base.MaxSeq), lower, upper), 50, seekKey)
		return
	}
	for range 50 {
		apply(d, randomOp(rng, d.Valid(), seekKey))
		if err := d.Error(); err != nil {
			if !errors.Is(err, base.ErrCorruption) || d.Valid() {
				t.Fatalf("error %v (valid %v), want corruption", err, d.Valid())
			}
		}
	}
}
