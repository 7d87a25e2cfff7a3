package dataeng

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/strata-db/strata"
)

// TestScratchKeys pins the scratch key layout (package keys' tuple of the
// group and the emission number), checks that decodeGroupKey reads the group
// back and refuses damaged keys, and that random keys sort by group, then
// emission number, with every key of a group starting with the group's
// encoding.
func TestScratchKeys(t *testing.T) {
	for _, tc := range []struct {
		group string
		seq   uint64
		enc   string // hex
	}{
		{"", 0, "01000114"},
		{"a", 1, "0161000115" + "01"},
		{"\x00", 255, "0100ff000115ff"},
		{"a\x00b", 5, "016100ff6200011505"},
		{"\xff\x01", 256, "01ff010001160100"},
	} {
		enc := appendScratchKey([]byte("prefix"), []byte(tc.group), tc.seq)[len("prefix"):]
		if got := fmt.Sprintf("%x", enc); got != tc.enc {
			t.Errorf("key(%q, %d) = %s, want %s", tc.group, tc.seq, got, tc.enc)
		}
		g, n, err := decodeGroupKey(enc)
		if err != nil || string(g) != tc.group || !isEmissionNumber(enc[n:]) {
			t.Errorf("decode(key(%q)) = %q, %d, %v", tc.group, g, n, err)
		}
	}
	for _, bad := range []string{"", "61", "0161", "016100", "01610002", "14", "0100fe0001"} {
		raw, _ := hex.DecodeString(bad)
		if _, _, err := decodeGroupKey(raw); !errors.Is(err, strata.ErrCorruption) {
			t.Errorf("decode(%s): %v, want a corruption error", bad, err)
		}
	}
	for _, bad := range []string{"", "13fe", "0100", "1505ff", "1600ff"} {
		raw, _ := hex.DecodeString(bad)
		if isEmissionNumber(raw) {
			t.Errorf("isEmissionNumber(%s) = true", bad)
		}
	}
	// Random groups over a small alphabet with 0x00, 0x01 and 0xFF (so
	// prefixes and ties are common) and random emission numbers.
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		a, b := deKey(rng), deKey(rng)
		sa, sb := rng.Uint64N(1<<uint(rng.IntN(64))), rng.Uint64N(1<<uint(rng.IntN(64)))
		ka, kb := appendScratchKey(nil, a, sa), appendScratchKey(nil, b, sb)
		want := bytes.Compare(a, b)
		if want == 0 {
			want = cmp.Compare(sa, sb)
		}
		if got := bytes.Compare(ka, kb); got != want {
			t.Fatalf("(%x, %d) vs (%x, %d): keys compare %d, want %d", a, sa, b, sb, got, want)
		}
		_, n, _ := decodeGroupKey(ka)
		if bytes.HasPrefix(kb, ka[:n]) != bytes.Equal(a, b) {
			t.Fatalf("key %x of group %x starts with group %x's encoding", kb, b, a)
		}
	}
}

// groupModel is the in-memory group-by: each group's values in emission
// order.
type groupModel map[string][]string

// reduceSummary is the reduce of the tests: the number of values and
// their concatenation (length-prefixed), which pins the order.
func reduceSummary(group []byte, values *ValueIter) ([]byte, error) {
	out := []byte{}
	n := 0
	for v := range values.All() {
		n++
		out = binary.AppendUvarint(out, uint64(len(v)))
		out = append(out, v...)
	}
	return fmt.Appendf(nil, "%d:%x", n, out), nil
}

func (m groupModel) summary(group string) string {
	var out []byte
	for _, v := range m[group] {
		out = binary.AppendUvarint(out, uint64(len(v)))
		out = append(out, v...)
	}
	return fmt.Sprintf("%d:%x", len(m[group]), out)
}

// TestGroupByModel: on random records (groups with 0x00 bytes and the
// empty group, big and small groups), the output equals the in-memory
// group-by, with any number of workers, and the scratch database is gone.
func TestGroupByModel(t *testing.T) {
	forSeeds(t, 4, 2, func(t *testing.T, seed uint64, rng *rand.Rand) {
		scratch := t.TempDir()
		out := memDB(t)
		n := 2000 + rng.IntN(20000)
		workers := 1 + rng.IntN(4)
		model := groupModel{}
		stats, err := GroupBy(context.Background(), GroupByOptions{ScratchDir: scratch, Out: out, Workers: workers},
			func(emit func(group, value []byte) error) error {
				for i := range n {
					g := deKey(rng)
					if i%3 == 0 {
						g = []byte("big\x00group") // one group spans many blocks
					}
					v := fmt.Appendf(nil, "%d\x00%x", i, rng.Uint32())
					if err := emit(g, v); err != nil {
						return err
					}
					model[string(g)] = append(model[string(g)], string(v))
				}
				return nil
			}, reduceSummary)
		if err != nil {
			t.Fatal(err)
		}
		if stats.Records != int64(n) || stats.Groups != int64(len(model)) {
			t.Fatalf("stats %+v, want %d records, %d groups", stats, n, len(model))
		}
		got := 0
		it := out.NewIterator(nil)
		for k, v := range it.All() {
			if want := model.summary(string(k)); string(v) != want {
				t.Fatalf("group %q: %.60s..., want %.60s...", k, v, want)
			}
			got++
		}
		if err := it.Close(); err != nil {
			t.Fatal(err)
		}
		if got != len(model) {
			t.Fatalf("%d groups written, want %d", got, len(model))
		}
		if ents, _ := os.ReadDir(scratch); len(ents) != 0 {
			t.Fatalf("scratch left behind: %v", ents)
		}
	})
}

// TestGroupByConcurrentEmit: map may emit from many goroutines; every
// record arrives once.
func TestGroupByConcurrentEmit(t *testing.T) {
	out := memDB(t)
	const goroutines = 4
	each := 20000
	if testing.Short() {
		each = 2000
	}
	var mu sync.Mutex
	reduced := map[string]int{}
	stats, err := GroupBy(context.Background(), GroupByOptions{ScratchDir: t.TempDir(), Out: out, Workers: 3},
		func(emit func(group, value []byte) error) error {
			var wg sync.WaitGroup
			errs := make([]error, goroutines)
			for g := range goroutines {
				wg.Go(func() {
					for i := range each {
						if err := emit(fmt.Appendf(nil, "g%03d", i%500), fmt.Appendf(nil, "%d/%d", g, i)); err != nil {
							errs[g] = err
							return
						}
					}
				})
			}
			wg.Wait()
			return errors.Join(errs...)
		},
		func(group []byte, values *ValueIter) ([]byte, error) {
			seen := map[string]bool{}
			for v := range values.All() {
				if seen[string(v)] {
					return nil, fmt.Errorf("value %s twice", v)
				}
				seen[string(v)] = true
			}
			mu.Lock()
			reduced[string(group)] += len(seen)
			mu.Unlock()
			return nil, nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if stats.Records != int64(goroutines*each) || stats.Groups != 500 || len(reduced) != 500 {
		t.Fatalf("stats %+v, %d groups reduced", stats, len(reduced))
	}
	for g, n := range reduced {
		if n != goroutines*each/500 {
			t.Fatalf("group %s: %d values", g, n)
		}
	}
}

// TestGroupByPartialReduceAndProgress: reduce may stop reading a group
// early; progress still counts every record, and the phases come in order.
func TestGroupByPartialReduceAndProgress(t *testing.T) {
	out := memDB(t)
	var phases []string
	var lastReduce int64
	stats, err := GroupBy(context.Background(), GroupByOptions{ScratchDir: t.TempDir(), Out: out, Workers: 2,
		Progress: func(phase string, done, total int64) {
			if len(phases) == 0 || phases[len(phases)-1] != phase {
				phases = append(phases, phase)
			}
			if phase == "reduce" {
				lastReduce = done
			}
		}},
		func(emit func(group, value []byte) error) error {
			n := 100000
			if testing.Short() {
				n = 10000
			}
			for i := range n {
				emit(fmt.Appendf(nil, "%d", i%7), fmt.Appendf(nil, "%06d", i))
			}
			return nil
		},
		func(group []byte, values *ValueIter) ([]byte, error) {
			values.Next()
			return bytes.Clone(values.Value()), nil // the first value only
		})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(phases, ","); got != "map,compact,reduce" {
		t.Fatalf("phases %s", got)
	}
	if lastReduce != stats.Records {
		t.Fatalf("reduce progress ended at %d of %d", lastReduce, stats.Records)
	}
	for i := range 7 {
		if v, err := out.Get(fmt.Appendf(nil, "%d", i)); err != nil || string(v) != fmt.Sprintf("%06d", i) {
			t.Fatalf("group %d: %q %v", i, v, err)
		}
	}
}

func TestGroupByErrors(t *testing.T) {
	ctx := context.Background()
	out := memDB(t)
	scratch := t.TempDir()
	o := GroupByOptions{ScratchDir: scratch, Out: out}
	noReduce := func([]byte, *ValueIter) ([]byte, error) { return nil, nil }
	emitN := func(n int) func(func(group, value []byte) error) error {
		return func(emit func(group, value []byte) error) error {
			for i := range n {
				if err := emit(fmt.Appendf(nil, "g%d", i%10), nil); err != nil {
					return err
				}
			}
			return nil
		}
	}
	if _, err := GroupBy(ctx, GroupByOptions{}, emitN(1), noReduce); err == nil {
		t.Fatal("nil Out accepted")
	}
	boom := errors.New("boom")
	if _, err := GroupBy(ctx, o, func(func(group, value []byte) error) error { return boom }, noReduce); !errors.Is(err, boom) {
		t.Fatalf("map error: %v", err)
	}
	_, err := GroupBy(ctx, o, emitN(1000), func(g []byte, _ *ValueIter) ([]byte, error) {
		if string(g) == "g7" {
			return nil, boom
		}
		return nil, nil
	})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), `"g7"`) {
		t.Fatalf("reduce error: %v", err)
	}
	var saved func(group, value []byte) error
	GroupBy(ctx, o, func(emit func(group, value []byte) error) error { saved = emit; return nil }, noReduce)
	if err := saved([]byte("g"), nil); err == nil {
		t.Fatal("emit after map returned accepted")
	}
	cctx, cancel := context.WithCancel(ctx)
	_, err = GroupBy(cctx, o, func(emit func(group, value []byte) error) error {
		cancel()
		for i := 0; ; i++ {
			if err := emit([]byte("g"), nil); err != nil {
				return err
			}
		}
	}, noReduce)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled map: %v", err)
	}
	stats, err := GroupBy(ctx, o, emitN(0), noReduce)
	if err != nil || stats != (GroupByStats{}) {
		t.Fatalf("empty map: %+v %v", stats, err)
	}
	if ents, _ := os.ReadDir(scratch); len(ents) != 0 {
		t.Fatalf("scratch left behind after errors: %v", ents)
	}
}
