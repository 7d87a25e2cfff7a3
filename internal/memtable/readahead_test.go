package memtable

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/strata-db/strata/internal/base"
)

// TestScanIterAgainstModel checks NewScanIter's readahead against the model
// at sizes around its segment and ring sizes (so that first entries that
// are themselves segment bounds, single short segments, a full ring and
// lanes left waiting all occur), including seeks, Prev and Last in the
// middle of a readahead scan and a second First on the same iterator.
func TestScanIterAgainstModel(t *testing.T) {
	sizes := []int{0, 1, 2, 3, 7, 16, 17, 64, 100, 255, 511, 512, 1000, 3000, 20000}
	nSeeds := uint64(4)
	if testing.Short() || raceEnabled {
		// The same shapes (empty, one entry, around readahead batches, many
		// batches), one seed each and without the largest memtable.
		sizes, nSeeds = sizes[:len(sizes)-1], 1
	}
	for _, cmp := range comparers {
		for _, n := range sizes {
			for seed := range nSeeds {
				t.Run(fmt.Sprintf("%s/%d/%d", cmp.Name, n, seed), func(t *testing.T) {
					rng := rand.New(rand.NewPCG(seed, uint64(n)))
					m := New(cmp, 4<<20)
					md := &model{cmp: cmp}
					for i := range n {
						ukey := randKey(rng, 6)
						value := fmt.Appendf(nil, "v%d", i)
						seq := uint64(i) + 1
						if err := m.Add(seq, base.KindSet, ukey, value); err != nil {
							t.Fatal(err)
						}
						md.add(seq, base.KindSet, ukey, value)
					}
					es := md.sort()
					it := m.NewScanIter()
					for pass := range 2 {
						i := 0
						for ok := it.First(); ok; ok = it.Next() {
							checkIterAt(t, md, it, true, i, fmt.Sprintf("pass %d scan", pass))
							i++
						}
						if i != len(es) {
							t.Fatalf("pass %d: scan saw %d entries, want %d", pass, i, len(es))
						}
						if it.Next() {
							t.Fatal("Next after the end is valid")
						}
					}
					// Mixed: readahead scan part-way, then other moves.
					for range 20 {
						idx, valid := 0, it.First()
						checkIterAt(t, md, it, valid, idx, "First")
						for range rng.IntN(2*len(es) + 1) {
							idx, valid = idx+1, it.Next()
							checkIterAt(t, md, it, valid, idx, "Next")
							if !valid {
								break
							}
						}
						if !valid {
							continue
						}
						switch rng.IntN(3) {
						case 0:
							idx, valid = idx-1, it.Prev()
							checkIterAt(t, md, it, valid, idx, "Prev")
						case 1:
							key := randSearchKey(rng, uint64(n))
							idx, valid = md.seekGE(key), it.SeekGE(key)
							checkIterAt(t, md, it, valid, idx, "SeekGE")
						case 2:
							idx, valid = len(es)-1, it.Last()
							checkIterAt(t, md, it, valid, idx, "Last")
						}
						for step := 0; step < 40 && valid; step++ {
							idx, valid = idx+1, it.Next()
							checkIterAt(t, md, it, valid, idx, "Next after a move")
						}
					}
					// Init keeps the readahead and starts over.
					it.Init(m)
					if it.ra == nil {
						t.Fatal("Init dropped the readahead")
					}
					i := 0
					for ok := it.First(); ok; ok = it.Next() {
						checkIterAt(t, md, it, true, i, "scan after Init")
						i++
					}
				})
			}
		}
	}
}

// TestScanIterConcurrentAdds scans with readahead while writers insert:
// every scan is strictly ordered and sees every entry acknowledged before
// its First.
func TestScanIterConcurrentAdds(t *testing.T) {
	const writers, perWriter = 4, 5000
	m := New(base.DefaultComparer, 16<<20)
	keyOf := func(w, i int) []byte { return fmt.Appendf(nil, "k%05d-%d", (i*7919+w*104729)%50000, w) }
	var progress [writers]atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, writers+1)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				if err := m.Add(uint64(i*writers+w)+1, base.KindSet, keyOf(w, i), nil); err != nil {
					errc <- err
					return
				}
				progress[w].Store(int64(i + 1))
			}
		}()
	}
	var done atomic.Bool
	var sg sync.WaitGroup
	sg.Add(1)
	go func() {
		defer sg.Done()
		it := m.NewScanIter()
		icmp := func(a, b []byte) int { return base.InternalCompare(base.DefaultComparer.Compare, a, b) }
		for last := false; !last; {
			last = done.Load()
			var acked [writers]int64
			for w := range acked {
				acked[w] = progress[w].Load()
			}
			seen := map[string]bool{}
			var prev []byte
			for ok := it.First(); ok; ok = it.Next() {
				if prev != nil && icmp(prev, it.Key()) >= 0 {
					errc <- fmt.Errorf("scan: %s after %s", base.FormatInternalKey(it.Key()), base.FormatInternalKey(prev))
					return
				}
				prev = append(prev[:0], it.Key()...)
				seen[string(base.UserKey(it.Key()))] = true
			}
			for w := range acked {
				for i := range acked[w] {
					if !seen[string(keyOf(w, int(i)))] {
						errc <- fmt.Errorf("scan missed %q, acknowledged before it started", keyOf(w, int(i)))
						return
					}
				}
			}
		}
	}()
	wg.Wait()
	done.Store(true)
	sg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
}
