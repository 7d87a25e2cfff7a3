package memtable

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/strata-db/strata/internal/base"
)

// TestConcurrentInsertAndRead runs 8 inserters over a shared, small key
// space (so they race on the same splices) while readers iterate both ways
// and Get entries already acknowledged. At the end the table must equal the
// model and its structure must be exact.
func TestConcurrentInsertAndRead(t *testing.T) {
	for _, cmp := range comparers {
		t.Run(cmp.Name, func(t *testing.T) { runConcurrent(t, cmp, 11) })
	}
}

func runConcurrent(t *testing.T, cmp *base.Comparer, seed uint64) {
	const writers, perWriter, readers = 8, 3000, 4
	defer func() {
		if t.Failed() {
			t.Logf("seed %d", seed)
		}
	}()
	rng := rand.New(rand.NewPCG(seed, 1))
	type op struct {
		ukey, value []byte
		seq         uint64
		kind        base.Kind
	}
	ops := make([][]op, writers)
	md := &model{cmp: cmp}
	for w := range ops {
		ops[w] = make([]op, perWriter)
		for i := range ops[w] {
			o := op{
				ukey:  fmt.Appendf(nil, "k%03d", rng.IntN(500)),
				value: fmt.Appendf(nil, "w%d-%d", w, i),
				seq:   uint64(i*writers+w) + 1, // unique across writers
				kind:  base.Kind(rng.IntN(2)),
			}
			ops[w][i] = o
			md.add(o.seq, o.kind, o.ukey, o.value)
		}
	}

	userKeys := md.userKeys() // before the readers: it sorts the model
	m := New(cmp, 8<<20)
	var progress [writers]atomic.Int64 // ops[w][:progress[w]] are acknowledged
	var writersDone atomic.Bool
	errc := make(chan error, writers+readers)
	var wg, wwg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		wwg.Add(1)
		go func() {
			defer wg.Done()
			defer wwg.Done()
			for i, o := range ops[w] {
				if err := m.Add(o.seq, o.kind, o.ukey, o.value); err != nil {
					errc <- fmt.Errorf("writer %d: Add(%q#%d): %w", w, o.ukey, o.seq, err)
					return
				}
				progress[w].Store(int64(i + 1))
			}
		}()
	}
	icmp := func(a, b []byte) int { return base.InternalCompare(cmp.Compare, a, b) }
	for r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(r)+100))
			it := m.NewIter()
			var prevKey []byte
			for {
				done := writersDone.Load()
				// Acknowledged entries must be visible to Get.
				for range 200 {
					w := rng.IntN(writers)
					n := progress[w].Load()
					if n == 0 {
						continue
					}
					o := ops[w][rng.Int64N(n)]
					v, k, ok := m.Get(o.ukey, o.seq)
					if !ok || k != o.kind || !bytes.Equal(v, o.value) {
						errc <- fmt.Errorf("reader %d: Get(%q, %d) = %q,%v,%v; want %q,%v", r, o.ukey, o.seq, v, k, ok, o.value, o.kind)
						return
					}
				}
				// Scans are strictly ordered in both directions, and a random
				// walk never steps the wrong way. Windows while writers run
				// (bounded work per pass), whole-table scans at the end.
				window := 300
				if done {
					window = math.MaxInt
				}
				prevKey = prevKey[:0]
				ok := it.SeekGE(base.AppendInternalKey(nil, fmt.Appendf(nil, "k%03d", rng.IntN(500)), 0, 0))
				if done {
					ok = it.First()
				}
				for n := 0; ok && n < window; n++ {
					if len(prevKey) > 0 && icmp(prevKey, it.Key()) >= 0 {
						errc <- fmt.Errorf("reader %d: forward %s after %s", r, base.FormatInternalKey(it.Key()), base.FormatInternalKey(prevKey))
						return
					}
					prevKey = append(prevKey[:0], it.Key()...)
					ok = it.Next()
				}
				prevKey = prevKey[:0]
				ok = it.SeekLT(base.AppendInternalKey(nil, fmt.Appendf(nil, "k%03d", rng.IntN(500)), 0, 0))
				if done {
					ok = it.Last()
				}
				for n := 0; ok && n < window; n++ {
					if len(prevKey) > 0 && icmp(prevKey, it.Key()) <= 0 {
						errc <- fmt.Errorf("reader %d: backward %s after %s", r, base.FormatInternalKey(it.Key()), base.FormatInternalKey(prevKey))
						return
					}
					prevKey = append(prevKey[:0], it.Key()...)
					ok = it.Prev()
				}
				// A scan of user keys (NextSkipping past each key's
				// versions, through their version links) visits user keys
				// in strictly increasing order; at the end, every one.
				prevKey = prevKey[:0]
				ok = it.SeekGE(base.AppendInternalKey(nil, fmt.Appendf(nil, "k%03d", rng.IntN(500)), base.MaxSeq, base.KindMax))
				if done {
					ok = it.First()
				}
				var users int
				for n := 0; ok && n < window; n++ {
					uk := base.UserKey(it.Key())
					if len(prevKey) > 0 && cmp.Compare(prevKey, uk) >= 0 {
						errc <- fmt.Errorf("reader %d: NextSkipping from user key %q to %s", r, prevKey, base.FormatInternalKey(it.Key()))
						return
					}
					prevKey = append(prevKey[:0], uk...)
					users++
					ok = it.NextSkipping(base.MakeSearchKey(nil, uk, 0))
				}
				if done {
					if want := userKeys; users != want {
						errc <- fmt.Errorf("reader %d: a scan by user key saw %d user keys, want %d", r, users, want)
						return
					}
				}
				key := base.AppendInternalKey(nil, fmt.Appendf(nil, "k%03d", rng.IntN(500)), rng.Uint64N(writers*perWriter), base.KindSet)
				ok = it.SeekGE(key)
				for step := 0; ok && step < 50; step++ {
					cur := append([]byte(nil), it.Key()...)
					if rng.IntN(2) == 0 {
						if ok = it.Next(); ok && icmp(cur, it.Key()) >= 0 {
							errc <- fmt.Errorf("reader %d: Next went back", r)
							return
						}
					} else if ok = it.Prev(); ok && icmp(cur, it.Key()) <= 0 {
						errc <- fmt.Errorf("reader %d: Prev went forward", r)
						return
					}
				}
				if done {
					return
				}
			}
		}()
	}
	wwg.Wait()
	writersDone.Store(true)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	checkAgainstModel(t, m, md)
	checkStructure(t, m)
}

// TestConcurrentDuplicates has 8 goroutines insert the same (user key, seq)
// pairs, with different kinds: exactly one insert of each pair succeeds, the
// rest get ErrRecordExists.
func TestConcurrentDuplicates(t *testing.T) {
	const goroutines, pairs = 8, 2000
	m := New(base.DefaultComparer, 8<<20)
	var wins [pairs]atomic.Int32
	errc := make(chan error, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range pairs {
				ukey := fmt.Appendf(nil, "k%02d", i%37)
				err := m.Add(uint64(i)+1, base.Kind(g%2), ukey, nil)
				switch {
				case err == nil:
					wins[i].Add(1)
				case !errors.Is(err, ErrRecordExists):
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	for i := range wins {
		if n := wins[i].Load(); n != 1 {
			t.Fatalf("pair %d inserted %d times", i, n)
		}
	}
	if m.Len() != pairs {
		t.Fatalf("Len %d, want %d", m.Len(), pairs)
	}
	checkStructure(t, m)
}
