package manifest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/strata-db/strata/internal/base"
)

// modelFile is the model's view of a live file.
type modelFile struct {
	level  int
	meta   *FileMetadata
	lo, hi int // user-key range, as integers
}

func modelKey(k int, seq uint64) []byte {
	return base.AppendInternalKey(nil, fmt.Appendf(nil, "k%05d", k), seq, base.KindSet)
}

// TestBuilderRandomModel applies random batches of edits to a chain of
// Versions and checks each result against a plain model (a map from file
// number to level and metadata), including batches that must be rejected.
// Every edit also goes through Encode/Decode into a second Builder, which
// must reach the same Version.
func TestBuilderRandomModel(t *testing.T) {
	for range 3 {
		seed := rand.Uint64()
		t.Run(fmt.Sprint(seed), func(t *testing.T) { testBuilderRandomModel(t, seed) })
	}
}

func testBuilderRandomModel(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0))
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("seed %d: %s", seed, fmt.Sprintf(format, args...))
	}
	model := map[uint64]modelFile{}
	v := NewVersion(nil)
	var nextNum uint64
	var seq uint64 = 1

	overlapsAt := func(m map[uint64]modelFile, level, lo, hi int, except uint64) bool {
		for num, f := range m {
			if num != except && f.level == level && f.lo <= hi && lo <= f.hi {
				return true
			}
		}
		return false
	}
	newMeta := func(lo, hi int) *FileMetadata {
		nextNum++
		seq++
		return &FileMetadata{Num: nextNum, Size: uint64(rng.IntN(1 << 20)),
			Smallest: modelKey(lo, seq), Largest: modelKey(hi, seq)}
	}
	liveNums := func(m map[uint64]modelFile) []uint64 {
		nums := make([]uint64, 0, len(m))
		for n := range m {
			nums = append(nums, n)
		}
		slices.Sort(nums)
		return nums
	}

	for round := range 300 {
		pending := make(map[uint64]modelFile, len(model))
		for k, f := range model {
			pending[k] = f
		}
		touched := [NumLevels]bool{}
		var edits []*VersionEdit
		expectErr := ""
		nEdits := 1 + rng.IntN(3)
		for e := range nEdits {
			edit := &VersionEdit{}
			type del struct {
				level int
				num   uint64
			}
			var dels []del
			var adds []modelFile
			nums := liveNums(pending)
			// Deletions of live files, and of files that are not there.
			for range rng.IntN(4) {
				if len(nums) > 0 && rng.IntN(4) > 0 {
					n := nums[rng.IntN(len(nums))]
					dels = append(dels, del{pending[n].level, n})
				} else {
					dels = append(dels, del{rng.IntN(NumLevels), 1 << 40})
				}
			}
			for _, d := range dels {
				edit.DeleteFile(d.level, d.num)
				if f, ok := pending[d.num]; ok && f.level == d.level {
					delete(pending, d.num)
					touched[d.level] = true
				}
			}
			// Trivial moves: delete at L, add the same file at L+1.
			if len(nums) > 0 && rng.IntN(3) == 0 {
				n := nums[rng.IntN(len(nums))]
				if f, ok := pending[n]; ok && f.level < NumLevels-1 && !overlapsAt(pending, f.level+1, f.lo, f.hi, n) {
					edit.DeleteFile(f.level, n)
					delete(pending, n)
					touched[f.level] = true
					f.level++
					adds = append(adds, f)
					pending[n] = f
				}
			}
			// Re-listing a live file at its level (goleveldb does): replaced.
			if len(nums) > 0 && rng.IntN(4) == 0 {
				n := nums[rng.IntN(len(nums))]
				if f, ok := pending[n]; ok {
					adds = append(adds, f)
				}
			}
			// New files.
			for range rng.IntN(4) {
				level := rng.IntN(NumLevels)
				lo := rng.IntN(10000)
				hi := lo + rng.IntN(40)
				if level > 0 && overlapsAt(pending, level, lo, hi, 0) {
					continue
				}
				f := modelFile{level: level, meta: newMeta(lo, hi), lo: lo, hi: hi}
				adds = append(adds, f)
				pending[f.meta.Num] = f
			}
			// The last edit of some batches breaks an invariant.
			if e == nEdits-1 && rng.IntN(12) == 0 {
				nums := liveNums(pending)
				if len(nums) > 0 && rng.IntN(2) == 0 {
					f := pending[nums[rng.IntN(len(nums))]]
					f.level = (f.level + 1 + rng.IntN(NumLevels-1)) % NumLevels
					adds = append(adds, f)
					expectErr = "added while live"
				} else {
					var victim *modelFile
					for _, n := range nums {
						if f := pending[n]; f.level > 0 {
							victim = &f
							break
						}
					}
					if victim != nil {
						f := modelFile{level: victim.level, meta: newMeta(victim.lo, victim.hi+1), lo: victim.lo, hi: victim.hi + 1}
						adds = append(adds, f)
						expectErr = "overlap"
					}
				}
			}
			for _, f := range adds {
				edit.AddFile(f.level, f.meta)
				touched[f.level] = true
			}
			edits = append(edits, edit)
		}

		b := NewBuilder(base.DefaultComparer, v)
		b2 := NewBuilder(base.DefaultComparer, v)
		for _, e := range edits {
			if err := b.Apply(e); err != nil {
				fail("round %d: Apply: %v", round, err)
			}
			var d VersionEdit
			if err := d.Decode(e.Encode(nil)); err != nil {
				fail("round %d: decode: %v", round, err)
			}
			if err := b2.Apply(&d); err != nil {
				fail("round %d: Apply decoded: %v", round, err)
			}
		}
		nv, err := b.Finish()
		nv2, err2 := b2.Finish()
		if expectErr != "" {
			if err == nil || err2 == nil {
				fail("round %d: Finish accepted a batch with a %s:\n%v", round, expectErr, edits)
			}
			// A file listed in a second level may also overlap there.
			if !strings.Contains(err.Error(), expectErr) && !strings.Contains(err.Error(), "overlap") {
				fail("round %d: error %q, want %q", round, err, expectErr)
			}
			continue
		}
		if err != nil || err2 != nil {
			fail("round %d: Finish: %v / %v", round, err, err2)
		}
		if err := nv.CheckConsistency(); err != nil {
			fail("round %d: %v", round, err)
		}
		if nv.String() != nv2.String() {
			fail("round %d: decoded edits give\n%s\nwant\n%s", round, nv2, nv)
		}
		// Compare with the model, level by level, in level order.
		for level := range NumLevels {
			var want []modelFile
			for _, f := range pending {
				if f.level == level {
					want = append(want, f)
				}
			}
			slices.SortFunc(want, func(a, b modelFile) int {
				if level == 0 {
					return int(a.meta.Num) - int(b.meta.Num)
				}
				return a.lo - b.lo
			})
			got := nv.Levels[level]
			if len(got) != len(want) {
				fail("round %d: level %d has %d files, model %d\n%s", round, level, len(got), len(want), nv)
			}
			for i := range got {
				if got[i] != want[i].meta {
					fail("round %d: level %d file %d is %v, model %v", round, level, i, got[i], want[i].meta)
				}
			}
			if !touched[level] && len(got) > 0 && &got[0] != &v.Levels[level][0] {
				fail("round %d: untouched level %d was copied", round, level)
			}
		}
		v, model = nv, pending
	}
}

func TestBuilderAppliesInOrder(t *testing.T) {
	f := func(num uint64) *FileMetadata {
		return &FileMetadata{Num: num, Size: 1, Smallest: ikey("a#1,SET"), Largest: ikey("b#1,SET")}
	}
	add := func(level int, m *FileMetadata) *VersionEdit { e := &VersionEdit{}; e.AddFile(level, m); return e }
	del := func(level int, num uint64) *VersionEdit { e := &VersionEdit{}; e.DeleteFile(level, num); return e }
	both := func(level int, m *FileMetadata) *VersionEdit {
		e := add(level, m)
		e.DeleteFile(level, m.Num)
		return e
	}

	f1, f1b := f(1), f(1)
	tests := []struct {
		name  string
		edits []*VersionEdit
		want  *FileMetadata // in L0, or nil
	}{
		{"add", []*VersionEdit{add(0, f1)}, f1},
		{"add then delete", []*VersionEdit{add(0, f1), del(0, 1)}, nil},
		{"delete then add", []*VersionEdit{add(0, f1), del(0, 1), add(0, f1b)}, f1b},
		{"add and delete in one edit: deletion first", []*VersionEdit{both(0, f1)}, f1},
		{"listed twice: the later entry wins", []*VersionEdit{add(0, f1), add(0, f1b)}, f1b},
		{"delete at another level does nothing", []*VersionEdit{add(0, f1), del(3, 1)}, f1},
		{"delete of an unknown file", []*VersionEdit{del(0, 77)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBuilder(nil, nil)
			for _, e := range tt.edits {
				if err := b.Apply(e); err != nil {
					t.Fatal(err)
				}
			}
			v, err := b.Finish()
			if err != nil {
				t.Fatal(err)
			}
			var got *FileMetadata
			if len(v.Levels[0]) == 1 {
				got = v.Levels[0][0]
			} else if len(v.Levels[0]) > 1 {
				t.Fatalf("L0 has %d files", len(v.Levels[0]))
			}
			if got != tt.want {
				t.Fatalf("L0 holds %p, want %p", got, tt.want)
			}
		})
	}
}

func TestBuilderApplyRejects(t *testing.T) {
	good := func() *FileMetadata {
		return &FileMetadata{Num: 1, Size: 1, Smallest: ikey("a#1,SET"), Largest: ikey("b#1,SET")}
	}
	tests := []struct {
		name string
		edit func() *VersionEdit
		want string
	}{
		{"level too high", func() *VersionEdit { e := &VersionEdit{}; e.AddFile(NumLevels, good()); return e }, "level 7 out of range"},
		{"negative level", func() *VersionEdit { e := &VersionEdit{}; e.AddFile(-1, good()); return e }, "out of range"},
		{"deleted level", func() *VersionEdit { e := &VersionEdit{}; e.DeleteFile(9, 1); return e }, "deleted file 000001: level 9"},
		{"nil meta", func() *VersionEdit { return &VersionEdit{NewFiles: []NewFileEntry{{Level: 1}}} }, "without metadata"},
		{"short key", func() *VersionEdit {
			m := good()
			m.Largest = []byte("b")
			e := &VersionEdit{}
			e.AddFile(1, m)
			return e
		}, "bad internal key"},
		{"inverted", func() *VersionEdit {
			m := good()
			m.Smallest, m.Largest = m.Largest, m.Smallest
			e := &VersionEdit{}
			e.AddFile(1, m)
			return e
		}, "smallest key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBuilder(nil, nil)
			err := b.Apply(tt.edit())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Apply: %v, want %q", err, tt.want)
			}
			v, err := b.Finish()
			if err != nil || v.NumFiles(1) != 0 {
				t.Fatalf("a rejected edit changed the builder: %v %v", v, err)
			}
		})
	}
}

func TestBuilderInitAllowedSeeks(t *testing.T) {
	m := &FileMetadata{Num: 1, Size: 100 << 20, Smallest: ikey("a#1,SET"), Largest: ikey("b#1,SET")}
	e := &VersionEdit{}
	e.AddFile(1, m)
	b := NewBuilder(nil, nil)
	if err := b.Apply(e); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Finish(); err != nil {
		t.Fatal(err)
	}
	if got := m.AllowedSeeks.Load(); got != 6400 {
		t.Fatalf("AllowedSeeks %d, want 6400 (100 MiB / 16 KiB)", got)
	}
}

// benchVersion builds a Version with n files in each of levels 1-6 and a
// few in level 0, keys k00000000.. spaced evenly.
func benchVersion(n int) *Version {
	e := &VersionEdit{}
	var num uint64
	for level := 1; level < NumLevels; level++ {
		for i := range n {
			num++
			lo := i * 1000
			e.AddFile(level, &FileMetadata{Num: num, Size: 2 << 20,
				Smallest: base.AppendInternalKey(nil, fmt.Appendf(nil, "k%08d", lo), num, base.KindSet),
				Largest:  base.AppendInternalKey(nil, fmt.Appendf(nil, "k%08d", lo+999), num, base.KindSet)})
		}
	}
	for i := range 4 {
		num++
		e.AddFile(0, &FileMetadata{Num: num, Size: 2 << 20,
			Smallest: base.AppendInternalKey(nil, fmt.Appendf(nil, "k%08d", i*7), num, base.KindSet),
			Largest:  base.AppendInternalKey(nil, fmt.Appendf(nil, "k%08d", n*1000-i), num, base.KindSet)})
	}
	b := NewBuilder(nil, nil)
	if err := b.Apply(e); err != nil {
		panic(err)
	}
	v, err := b.Finish()
	if err != nil {
		panic(err)
	}
	return v
}

// BenchmarkBuilderCompactionEdit applies a typical compaction edit (4 files
// out, 4 in, one level) to a Version of 6×1000 files.
func BenchmarkBuilderCompactionEdit(b *testing.B) {
	v := benchVersion(1000)
	e := &VersionEdit{}
	for i := 500; i < 504; i++ {
		f := v.Levels[3][i]
		e.DeleteFile(3, f.Num)
		e.AddFile(3, &FileMetadata{Num: 1_000_000 + uint64(i), Size: f.Size, Smallest: f.Smallest, Largest: f.Largest})
	}
	b.ReportAllocs()
	for b.Loop() {
		bld := NewBuilder(nil, v)
		if err := bld.Apply(e); err != nil {
			b.Fatal(err)
		}
		if _, err := bld.Finish(); err != nil {
			b.Fatal(err)
		}
	}
}
