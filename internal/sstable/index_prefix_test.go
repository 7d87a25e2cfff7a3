package sstable

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/strata-db/strata/internal/base"
)

// TestIndexPrefixSearch checks the index search through the dense prefix
// array against a plain binary search over the index keys, for tables whose
// keys share long prefixes (past the 8 bytes the array holds), differ only
// by trailing zero bytes, repeat with many versions, or are db_bench's
// decimal keys, and for targets before, inside and after each table.
func TestIndexPrefixSearch(t *testing.T) {
	gens := map[string]func(rng *rand.Rand) []byte{
		"small-alphabet": func(rng *rand.Rand) []byte { return alphabetKey(rng, "ab\x00\xff", 12) },
		"long-shared": func(rng *rand.Rand) []byte {
			return fmt.Appendf(nil, "tenant/0042/table/0007/row/%020d%s", rng.IntN(50), bytes.Repeat([]byte{0}, rng.IntN(3)))
		},
		"decimal": func(rng *rand.Rand) []byte { return fmt.Appendf(nil, "%016d", rng.IntN(1000000)) },
		"one-key": func(rng *rand.Rand) []byte { return []byte("same") },
	}
	for name, gen := range gens {
		t.Run(name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(len(name)), 9))
			seen := map[string]bool{}
			var entries []kv
			for len(entries) < 3000 {
				k := base.AppendInternalKey(nil, gen(rng), rng.Uint64N(1<<40), base.KindSet)
				if !seen[string(k)] {
					seen[string(k)] = true
					entries = append(entries, kv{k, []byte("v")})
				}
			}
			slices.SortFunc(entries, func(a, b kv) int { return base.InternalCompare(bytes.Compare, a.k, b.k) })
			for _, bs := range []int{32, 256} {
				data := writeTable(t, entries, WriterOptions{BlockSize: bs, BlockRestartInterval: 4})
				r, err := NewReader(bytes.NewReader(data), int64(len(data)), ReaderOptions{FileName: "p.ldb"})
				if err != nil {
					t.Fatal(err)
				}
				if r.idxPrefix == nil || r.idxLen() < 10 {
					t.Fatalf("block size %d: prefix array %v over %d index entries", bs, r.idxPrefix != nil, r.idxLen())
				}
				if (name == "decimal" || name == "long-shared") && len(r.idxCommon) < 10 {
					t.Fatalf("block size %d: common prefix %q: the array would not be exercised", bs, r.idxCommon)
				}
				ref := func(ikey []byte) int {
					lo, hi := 0, r.idxLen()
					for lo < hi {
						m := (lo + hi) / 2
						if base.InternalCompare(bytes.Compare, r.idxKey(m), ikey) < 0 {
							lo = m + 1
						} else {
							hi = m
						}
					}
					return lo
				}
				for i := 0; i < 5000; i++ {
					var u []byte
					switch rng.IntN(5) {
					case 0:
						u = gen(rng)
					case 1: // an index key's user key, cut or extended
						k := r.idxKey(rng.IntN(r.idxLen()))
						u = bytes.Clone(k[:len(k)-base.TrailerLen])
						if rng.IntN(2) == 0 && len(u) > 0 {
							u = u[:rng.IntN(len(u))]
						} else {
							u = append(u, "\x00a\xff"[rng.IntN(3)])
						}
					case 2: // around the common prefix
						u = append(bytes.Clone(r.idxCommon), gen(rng)...)
						if len(r.idxCommon) > 0 && rng.IntN(2) == 0 {
							u = bytes.Clone(r.idxCommon[:rng.IntN(len(r.idxCommon))])
							u = append(u, byte(rng.IntN(256)))
						}
					case 3:
						u = bytes.Clone(entries[rng.IntN(len(entries))].k)
						u = u[:len(u)-base.TrailerLen]
					default:
						u = make([]byte, rng.IntN(30))
						for j := range u {
							u[j] = byte(rng.IntN(256))
						}
					}
					ikey := base.AppendInternalKey(nil, u, rng.Uint64N(1<<40), base.KindSet)
					if got, want := r.searchIndex(ikey), ref(ikey); got != want {
						t.Fatalf("block size %d: search for %q = %d, want %d (common prefix %q)", bs, ikey, got, want, r.idxCommon)
					}
				}
				r.Close()
			}
		})
	}
}
