package manifest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/rangedel"
)

func TestVersionRefs(t *testing.T) {
	v := NewVersion(nil)
	if v.Refs() != 0 {
		t.Fatalf("new Version has %d refs", v.Refs())
	}
	v.Ref()
	v.Ref()
	if v.Unref() {
		t.Fatal("Unref reported zero with a reference left")
	}
	if !v.Unref() {
		t.Fatal("last Unref did not report zero")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Unref below zero did not panic")
		}
	}()
	v.Unref()
}

func TestVersionComparer(t *testing.T) {
	if NewVersion(nil).Comparer() != base.DefaultComparer || (&Version{}).Comparer() != base.DefaultComparer {
		t.Fatal("nil comparer is not the default")
	}
	// A reverse comparer orders levels the other way.
	rev := &base.Comparer{Name: "reverse", Compare: func(a, b []byte) int { return base.DefaultComparer.Compare(b, a) },
		Separator: func(dst, a, b []byte) []byte { return append(dst, a...) },
		Successor: func(dst, a []byte) []byte { return append(dst, a...) }}
	e := &VersionEdit{}
	e.AddFile(1, &FileMetadata{Num: 1, Size: 1, Smallest: ikey("b#1,SET"), Largest: ikey("a#1,SET")})
	e.AddFile(1, &FileMetadata{Num: 2, Size: 1, Smallest: ikey("z#1,SET"), Largest: ikey("y#1,SET")})
	b := NewBuilder(rev, nil)
	if err := b.Apply(e); err != nil {
		t.Fatal(err)
	}
	v, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if v.Levels[1][0].Num != 2 || v.Comparer() != rev {
		t.Fatalf("reverse order not used:\n%s", v)
	}
	if got := fileNums(v.Overlaps(1, []byte("z"), []byte("x"))); got != "000002" {
		t.Fatalf("Overlaps with reverse comparer: %s", got)
	}
	if err := NewBuilder(nil, nil).Apply(e); err == nil {
		t.Fatal("bytewise builder accepted reverse-ordered keys")
	}
}

// TestOverlapsRandom compares Overlaps, OverlapInLevel and FindFile with
// LevelDB's straightforward linear algorithms on random levels.
func TestOverlapsRandom(t *testing.T) {
	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, 2))
	key := func(k int) []byte { return fmt.Appendf(nil, "%03d", k) }
	for iter := range 300 {
		v := NewVersion(nil)
		var num uint64
		// Level 0: random overlapping files. Level 1: sorted, disjoint
		// files, sometimes sharing a boundary user key.
		for range rng.IntN(8) {
			num++
			lo := rng.IntN(100)
			v.Levels[0] = append(v.Levels[0], &FileMetadata{Num: num,
				Smallest: base.AppendInternalKey(nil, key(lo), num, base.KindSet),
				Largest:  base.AppendInternalKey(nil, key(lo+rng.IntN(20)), num, base.KindSet)})
		}
		next := rng.IntN(5)
		seq := uint64(1000)
		for next < 100 {
			num++
			hi := next + rng.IntN(6)
			seq--
			f := &FileMetadata{Num: num, Smallest: base.AppendInternalKey(nil, key(next), seq, base.KindSet)}
			seq--
			f.Largest = base.AppendInternalKey(nil, key(hi), seq, base.KindSet)
			v.Levels[1] = append(v.Levels[1], f)
			next = hi + rng.IntN(4) // 0: the next file starts with the same user key
		}
		if err := v.CheckConsistency(); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		for range 20 {
			var lo, hi []byte
			if rng.IntN(5) > 0 {
				lo = key(rng.IntN(110))
			}
			if rng.IntN(5) > 0 {
				hi = key(rng.IntN(110))
			}
			for level := range 2 {
				want := linearOverlaps(v, level, lo, hi)
				got := v.Overlaps(level, lo, hi)
				if !slices.Equal(got, want) {
					t.Fatalf("seed %d iter %d: Overlaps(%d, %s, %s) = %s, want %s\n%s", seed, iter, level, lo, hi, fileNums(got), fileNums(want), v)
				}
				direct := false
				for _, f := range v.Levels[level] {
					if f.Overlaps(bytesCompare, lo, hi) {
						direct = true
					}
				}
				if v.OverlapInLevel(level, lo, hi) != direct {
					t.Fatalf("seed %d: OverlapInLevel(%d, %s, %s) != %v", seed, level, lo, hi, direct)
				}
				var sum uint64
				for _, f := range want {
					sum += f.Size
				}
				if got := v.overlapBytes(level, lo, hi); got != sum {
					t.Fatalf("seed %d: overlapBytes = %d, want %d", seed, got, sum)
				}
			}
			probe := base.AppendInternalKey(nil, key(rng.IntN(110)), uint64(rng.IntN(1100)), base.KindSet)
			want := len(v.Levels[1])
			for i, f := range v.Levels[1] {
				if base.InternalCompare(bytesCompare, f.Largest, probe) >= 0 {
					want = i
					break
				}
			}
			if got := v.FindFile(1, probe); got != want {
				t.Fatalf("seed %d: FindFile(%s) = %d, want %d", seed, base.FormatInternalKey(probe), got, want)
			}
		}
	}
}

var bytesCompare = base.DefaultComparer.Compare

// linearOverlaps is LevelDB's GetOverlappingInputs, restart and all.
func linearOverlaps(v *Version, level int, lo, hi []byte) []*FileMetadata {
	var out []*FileMetadata
	files := v.Levels[level]
	for i := 0; i < len(files); {
		f := files[i]
		i++
		if lo != nil && bytesCompare(f.LargestUserKey(), lo) < 0 || hi != nil && bytesCompare(f.SmallestUserKey(), hi) > 0 {
			continue
		}
		out = append(out, f)
		if level == 0 {
			if lo != nil && bytesCompare(f.SmallestUserKey(), lo) < 0 {
				lo, out, i = f.SmallestUserKey(), nil, 0
			} else if hi != nil && bytesCompare(f.LargestUserKey(), hi) > 0 {
				hi, out, i = f.LargestUserKey(), nil, 0
			}
		}
	}
	return out
}

// TestUpdateStatsConcurrent charges seeks from many goroutines: exactly one
// call records the candidate.
func TestUpdateStatsConcurrent(t *testing.T) {
	v := mustBuildLSM(`
L1:
  1:1K a#1,SET c#1,SET
  2:1K d#1,SET f#1,SET
`)
	var wg sync.WaitGroup
	var mu sync.Mutex
	trues := 0
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f := v.Levels[1][g%2]
			for range 100 {
				if v.UpdateStats(f, 1) {
					mu.Lock()
					trues++
					mu.Unlock()
				}
				v.RecordReadSample(ikey("b#5,SET"))
			}
		}()
	}
	wg.Wait()
	if trues != 1 {
		t.Fatalf("%d calls recorded a candidate, want 1", trues)
	}
	if f, level := v.FileToCompact(); f == nil || level != 1 {
		t.Fatalf("no candidate recorded")
	}
	if v.UpdateStats(nil, 1) {
		t.Fatal("UpdateStats(nil) returned true")
	}
}

func TestCheckConsistency(t *testing.T) {
	f := func(num uint64, s, l string) *FileMetadata {
		return &FileMetadata{Num: num, Smallest: ikey(s), Largest: ikey(l)}
	}
	tests := []struct {
		name  string
		setup func(v *Version)
		want  string
	}{
		{"ok", func(v *Version) {
			v.Levels[0] = []*FileMetadata{f(1, "a#1,SET", "z#1,SET"), f(2, "a#2,SET", "b#2,SET")}
			v.Levels[1] = []*FileMetadata{f(3, "a#1,SET", "k#5,SET"), f(4, "k#4,SET", "m#1,SET")}
		}, ""},
		{"L0 order", func(v *Version) {
			v.Levels[0] = []*FileMetadata{f(2, "a#1,SET", "z#1,SET"), f(1, "a#2,SET", "b#2,SET")}
		}, "out of file-number order"},
		{"L1 overlap", func(v *Version) {
			v.Levels[1] = []*FileMetadata{f(3, "a#1,SET", "k#4,SET"), f(4, "k#4,SET", "m#1,SET")}
		}, "overlap or are out of order"},
		{"L1 order", func(v *Version) {
			v.Levels[2] = []*FileMetadata{f(3, "x#1,SET", "y#4,SET"), f(4, "a#4,SET", "b#1,SET")}
		}, "level 2: files 000003 and 000004 overlap or are out of order"},
		{"inverted", func(v *Version) { v.Levels[3] = []*FileMetadata{f(3, "b#1,SET", "a#1,SET")} }, "smallest key"},
		{"bad key", func(v *Version) {
			v.Levels[3] = []*FileMetadata{{Num: 3, Smallest: []byte("a"), Largest: ikey("b#1,SET")}}
		}, "bad internal key"},
		{"nil", func(v *Version) { v.Levels[4] = []*FileMetadata{nil} }, "nil file"},
		{"duplicate", func(v *Version) {
			v.Levels[1] = []*FileMetadata{f(3, "a#1,SET", "b#1,SET")}
			v.Levels[2] = []*FileMetadata{f(3, "a#1,SET", "b#1,SET")}
		}, "file 000003 also in level 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := NewVersion(nil)
			tt.setup(v)
			err := v.CheckConsistency()
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
}

func TestPickerOptionsDefaults(t *testing.T) {
	o := DefaultPickerOptions()
	want := PickerOptions{L0CompactionTrigger: 4, LevelMultiplier: 10, BaseLevelBytes: 10 << 20,
		TargetFileSize: 2 << 20, MaxGrandparentOverlapBytes: 20 << 20, ExpandedCompactionByteSizeLimit: 50 << 20}
	if o != want {
		t.Fatalf("defaults %+v, want %+v", o, want)
	}
	if got := (PickerOptions{TargetFileSize: 1 << 20}).WithDefaults().MaxGrandparentOverlapBytes; got != 10<<20 {
		t.Fatalf("grandparent limit does not follow the target: %d", got)
	}
	for level, want := range []float64{10 << 20, 10 << 20, 100 << 20, 1000 << 20, 10000 << 20} {
		if got := o.MaxBytesForLevel(level); got != want {
			t.Fatalf("MaxBytesForLevel(%d) = %v, want %v", level, got, want)
		}
	}
}

func BenchmarkOverlapsL1(b *testing.B) {
	v := benchVersion(1000)
	lo, hi := []byte("k00500000"), []byte("k00502500")
	var dst []*FileMetadata
	b.ReportAllocs()
	for b.Loop() {
		dst = v.appendOverlaps(dst[:0], 3, lo, hi)
	}
	if len(dst) != 3 {
		b.Fatalf("%d files", len(dst))
	}
}

func BenchmarkOverlapInLevel(b *testing.B) {
	v := benchVersion(1000)
	lo, hi := []byte("k00500000"), []byte("k00502500")
	b.ReportAllocs()
	for b.Loop() {
		if !v.OverlapInLevel(3, lo, hi) {
			b.Fatal("no overlap")
		}
	}
}

func BenchmarkFindFile(b *testing.B) {
	v := benchVersion(1000)
	k := base.MakeSearchKey(nil, []byte("k00500500"), base.MaxSeq)
	b.ReportAllocs()
	for b.Loop() {
		if v.FindFile(3, k) != 500 {
			b.Fatal("wrong file")
		}
	}
}

// BenchmarkForEachOverlapping is the file-selection part of a point lookup
// that misses everywhere (4 L0 files and 6 levels of 1000 files).
func BenchmarkForEachOverlapping(b *testing.B) {
	v := benchVersion(1000)
	k := base.MakeSearchKey(nil, []byte("k00500500"), base.MaxSeq)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		v.ForEachOverlapping(k, func(level int, f *FileMetadata) bool { n++; return true })
	}
	if n == 0 {
		b.Fatal("no files")
	}
}

func BenchmarkUpdateStats(b *testing.B) {
	v := benchVersion(10)
	f := v.Levels[1][0]
	f.AllowedSeeks.Store(1 << 62)
	b.ReportAllocs()
	for b.Loop() {
		v.UpdateStats(f, 1)
	}
}

func BenchmarkRecordReadSample(b *testing.B) {
	v := benchVersion(1000)
	k := base.MakeSearchKey(nil, []byte("k00500500"), base.MaxSeq)
	for _, files := range v.Levels {
		for _, f := range files {
			f.AllowedSeeks.Store(1 << 62)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		v.RecordReadSample(k)
	}
}

// TestLevelMayHaveRangeDels: a level may hold range tombstones until every
// table's facts are known and none has any; a table with some says so for
// good.
func TestLevelMayHaveRangeDels(t *testing.T) {
	v := NewVersion(nil)
	files := []*FileMetadata{{Num: 1}, {Num: 2}, {Num: 3}}
	v.Levels[1] = files
	if v.LevelMayHaveRangeDels(2) {
		t.Fatal("an empty level may have range tombstones")
	}
	steps := []struct {
		set  int // file whose facts are recorded before asking
		tomb bool
		want bool
	}{
		{-1, false, true}, // nothing known
		{0, false, true},  // file 2 and 3 unknown
		{2, false, true},  // file 2 unknown
		{1, false, false}, // all known, none with tombstones
	}
	for i, s := range steps {
		if s.set >= 0 {
			files[s.set].SetFacts(&TableFacts{})
		}
		if got := v.LevelMayHaveRangeDels(1); got != s.want {
			t.Fatalf("step %d: LevelMayHaveRangeDels = %v, want %v", i, got, s.want)
		}
	}
	w := NewVersion(nil)
	other := []*FileMetadata{{Num: 4}, {Num: 5}}
	other[0].SetFacts(&TableFacts{})
	other[1].SetFacts(&TableFacts{RangeDels: rangedel.NewSet(base.DefaultComparer.Compare,
		[]rangedel.Tombstone{{Start: []byte("a"), End: []byte("b"), Seq: 1}})})
	w.Levels[3] = other
	for range 2 {
		if !w.LevelMayHaveRangeDels(3) {
			t.Fatal("a level with a table holding a tombstone may have none")
		}
	}
}
