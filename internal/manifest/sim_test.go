package manifest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/strata-db/strata/internal/base"
)

// simEntry is one entry of a simulated table: a user key (as an integer)
// and the sequence number of its newest write in the table.
type simEntry struct {
	key int
	seq uint64
}

const simEntrySize = 100 // bytes a simulated entry counts for

func simUkey(k int) []byte { return fmt.Appendf(nil, "k%08d", k) }

// lsmSim runs flushes, picked and manual compactions concurrently (in a
// random interleaving) against the picker and the Builder, with simulated
// table contents, and checks after every installed edit that the Version is
// consistent and that a point lookup in every visited key finds its newest
// write first. Running compactions are checked pairwise: no shared inputs
// and no overlapping output ranges in the same level.
type lsmSim struct {
	t        *testing.T
	seed     uint64
	rng      *rand.Rand
	opts     PickerOptions
	v        *Version
	pointers [NumLevels][]byte
	contents map[uint64][]simEntry // by file number
	newest   map[int]uint64        // key -> newest sequence written
	running  []*Compaction
	keySpace int // flushes write keys in [0, keySpace+300); 0: 2000
	nextNum  uint64
	nextSeq  uint64
	installs int
	stats    map[string]int
}

// TestLSMSimulation runs the simulation with fixed and with dynamic level
// sizes; after the writes stop, compactions must bring every level within
// its budget.
func TestLSMSimulation(t *testing.T) {
	for _, dynamic := range []bool{false, true} {
		for range 4 {
			seed := rand.Uint64()
			t.Run(fmt.Sprintf("dynamic=%t/%d", dynamic, seed), func(t *testing.T) {
				s := newLSMSim(t, seed, dynamic)
				s.run(2500, true)
				s.run(800, false) // quiet: compactions drain, reads go on
				s.checkReads(true)
				s.drain()
				t.Logf("seed %d: %v, final tree %d files in levels %v", seed, s.stats, s.numFiles(), s.levelCounts())
			})
		}
	}
}

func newLSMSim(t *testing.T, seed uint64, dynamic bool) *lsmSim {
	return &lsmSim{
		t:    t,
		seed: seed,
		rng:  rand.New(rand.NewPCG(seed, 1)),
		opts: PickerOptions{L0CompactionTrigger: 4, LevelMultiplier: 4, DynamicLevelBytes: dynamic,
			BaseLevelBytes: 40 * simEntrySize, TargetFileSize: 10 * simEntrySize},
		v:        NewVersion(nil),
		contents: map[uint64][]simEntry{},
		newest:   map[int]uint64{},
		stats:    map[string]int{},
	}
}

// drain runs picked compactions one at a time until none is due, and fails
// if that does not happen within a bound (a level over its budget that no
// compaction brings down) or leaves a level over its budget.
func (s *lsmSim) drain() {
	for i := 0; ; i++ {
		c := PickCompaction(s.v, s.opts, &s.pointers)
		if c == nil {
			break
		}
		if i == 10000 {
			s.fatalf("compactions never stop: %s", c)
		}
		s.start(c)
		s.running = s.running[:len(s.running)-1]
		s.finish(c)
	}
	sc := s.v.ComputeScores(s.opts)
	for level := 0; level < NumLevels-1; level++ {
		if sc.Level[level] >= 1 {
			s.fatalf("L%d over budget (score %.2f) with no compaction due", level, sc.Level[level])
		}
	}
	s.checkReads(true)
}

// TestDynamicLevelsGrowth fills a simulated tree with fresh keys, flushes and
// compactions in turn, with dynamic level sizes: the base level starts at
// the last level and only moves up as the tree grows, the levels above it
// stay empty, and once compactions settle the last level holds most of the
// data.
func TestDynamicLevelsGrowth(t *testing.T) {
	seed := rand.Uint64()
	s := newLSMSim(t, seed, true)
	s.keySpace = 1 << 20 // keys rarely repeat: the tree only grows
	prevBase := NumLevels - 1
	var bases []int
	steps := 800
	if testing.Short() {
		steps = 400
	}
	for range steps {
		if len(s.v.Levels[0]) < 12 {
			s.flush()
		}
		for range 2 {
			if c := PickCompaction(s.v, s.opts, &s.pointers); c != nil {
				s.start(c)
				s.running = s.running[:len(s.running)-1]
				s.finish(c)
			}
		}
		tg := s.v.LevelTargets(s.opts)
		if tg.BaseLevel > prevBase {
			s.fatalf("base level moved down from L%d to L%d as the tree grew", prevBase, tg.BaseLevel)
		}
		if tg.BaseLevel < prevBase {
			bases = append(bases, tg.BaseLevel)
		}
		prevBase = tg.BaseLevel
		for level := 1; level < tg.BaseLevel; level++ {
			if len(s.v.Levels[level]) > 0 {
				s.fatalf("L%d holds files above the base level L%d", level, tg.BaseLevel)
			}
		}
	}
	s.drain()
	tg := s.v.LevelTargets(s.opts)
	var total uint64
	for _, b := range tg.Bytes {
		total += b
	}
	last := float64(tg.Bytes[NumLevels-1]) / float64(total)
	t.Logf("seed %d: base level moved up to %v; %d bytes, %.0f%% in the last level; levels %v", seed, bases, total, 100*last, tg.Bytes)
	if tg.BaseLevel > 4 {
		s.fatalf("base level L%d after the tree grew to %d bytes", tg.BaseLevel, total)
	}
	// With a multiplier of 4 the last level should hold about 3/4.
	if last < 0.6 {
		s.fatalf("the last level holds %.0f%% of the data", 100*last)
	}
}

func (s *lsmSim) fatalf(format string, args ...any) {
	s.t.Helper()
	s.t.Fatalf("seed %d, after %d installs: %s\n%s", s.seed, s.installs, fmt.Sprintf(format, args...), s.v)
}

func (s *lsmSim) numFiles() int {
	n := 0
	for l := range s.v.Levels {
		n += len(s.v.Levels[l])
	}
	return n
}

func (s *lsmSim) levelCounts() [NumLevels]int {
	var n [NumLevels]int
	for l := range n {
		n[l] = len(s.v.Levels[l])
	}
	return n
}

// run performs random steps; without writes there are no flushes and no
// manual compactions, so seek compactions get their turn.
func (s *lsmSim) run(steps int, writes bool) {
	for range steps {
		r := s.rng.IntN(100)
		if !writes && (r < 30 || r >= 60 && r < 67) {
			r = 67 + s.rng.IntN(3) // a read sample instead
		}
		switch {
		case r < 30:
			// LevelDB stops writes at 12 level-0 files.
			if len(s.v.Levels[0]) < 12 {
				s.flush()
			}
		case r < 60:
			if c := PickCompaction(s.v, s.opts, &s.pointers); c != nil {
				s.start(c)
				s.stats["pick-"+c.Reason.String()]++
			}
		case r < 67:
			level := s.rng.IntN(NumLevels - 1)
			lo := s.rng.IntN(2000)
			begin := base.MakeSearchKey(nil, simUkey(lo), base.MaxSeq)
			end := base.AppendInternalKey(nil, simUkey(lo+s.rng.IntN(1000)), 0, base.KindDelete)
			if c, busy := PickManual(s.v, s.opts, level, begin, end); c != nil {
				s.start(c)
				s.stats["pick-manual"]++
			} else if busy {
				s.stats["manual-busy"]++
			}
		case r < 70:
			// Reads charge seeks; make them count quickly.
			k := s.rng.IntN(2300)
			s.v.RecordReadSample(base.MakeSearchKey(nil, simUkey(k), base.MaxSeq))
		default:
			if len(s.running) > 0 {
				i := s.rng.IntN(len(s.running))
				c := s.running[i]
				s.running = slices.Delete(s.running, i, i+1)
				s.finish(c)
			}
		}
	}
	for len(s.running) > 0 {
		c := s.running[0]
		s.running = s.running[1:]
		s.finish(c)
	}
}

// flush writes a new table of fresh entries and places it where
// PickLevelForMemTableOutput says.
func (s *lsmSim) flush() {
	space := s.keySpace
	if space == 0 {
		space = 2000
	}
	lo := s.rng.IntN(space)
	n := 1 + s.rng.IntN(20)
	width := 1 + s.rng.IntN(300)
	if s.rng.IntN(2) == 0 {
		width = 1 + s.rng.IntN(10) // narrow: may fit between files
	}
	keys := map[int]bool{}
	for range n {
		keys[lo+s.rng.IntN(width)] = true
	}
	var entries []simEntry
	for k := range keys {
		entries = append(entries, simEntry{key: k})
	}
	slices.SortFunc(entries, func(a, b simEntry) int { return a.key - b.key })
	for i := range entries {
		s.nextSeq++
		entries[i].seq = s.nextSeq
		s.newest[entries[i].key] = s.nextSeq
	}
	m := s.newFile(entries)
	first, last := entries[0].key, entries[len(entries)-1].key
	level := s.v.PickLevelForMemTableOutput(simUkey(first), simUkey(last), 2, s.opts)
	if s.opts.DynamicLevelBytes && level > 0 && level != s.v.LevelTargets(s.opts).BaseLevel {
		s.fatalf("flush %s placed in L%d, not the base level", m, level)
	}
	if level > 0 {
		for _, c := range s.running {
			if c.OutputLevel() == level && rangesMeet(c.Smallest, c.Largest, m.Smallest, m.Largest) {
				s.fatalf("flush %s placed in L%d inside running compaction\n%s", m, level, c)
			}
		}
	}
	e := &VersionEdit{}
	e.AddFile(level, m)
	s.install(e)
	s.stats[fmt.Sprintf("flush-L%d", level)]++
}

func (s *lsmSim) newFile(entries []simEntry) *FileMetadata {
	s.nextNum++
	first, last := entries[0], entries[len(entries)-1]
	m := &FileMetadata{
		Num:      s.nextNum,
		Size:     uint64(len(entries) * simEntrySize),
		Smallest: base.AppendInternalKey(nil, simUkey(first.key), first.seq, base.KindSet),
		Largest:  base.AppendInternalKey(nil, simUkey(last.key), last.seq, base.KindSet),
	}
	s.contents[m.Num] = entries
	return m
}

// rangesMeet reports whether two internal-key ranges share a user key.
func rangesMeet(s1, l1, s2, l2 []byte) bool {
	return string(base.UserKey(s1)) <= string(base.UserKey(l2)) && string(base.UserKey(s2)) <= string(base.UserKey(l1))
}

// start checks a picked compaction against the running ones and marks it.
func (s *lsmSim) start(c *Compaction) {
	if len(c.Inputs[0]) == 0 {
		s.fatalf("compaction without level inputs\n%s", c)
	}
	for _, files := range c.Inputs {
		for _, f := range files {
			if f.Compacting.Load() {
				s.fatalf("compaction takes a file that is being compacted: %s\n%s", f, c)
			}
		}
	}
	// Every key of the output range lies in some input file: the property
	// that keeps concurrent compactions and flushes apart.
	var all []*FileMetadata
	all = append(append(all, c.Inputs[0]...), c.Inputs[1]...)
	slices.SortFunc(all, func(a, b *FileMetadata) int {
		return base.InternalCompare(base.DefaultComparer.Compare, a.Smallest, b.Smallest)
	})
	reach := all[0].LargestUserKey()
	for _, f := range all[1:] {
		if string(f.SmallestUserKey()) > string(reach) {
			s.fatalf("compaction range has a gap before %s:\n%s", f, c)
		}
		if l := f.LargestUserKey(); string(l) > string(reach) {
			reach = l
		}
	}
	// The levels a compaction skips hold nothing it could pass over.
	for level := c.Level + 1; level < c.OutputLevel(); level++ {
		if s.v.OverlapInLevel(level, base.UserKey(c.Smallest), base.UserKey(c.Largest)) {
			s.fatalf("compaction skips L%d, which holds files in its range:\n%s", level, c)
		}
	}
	if want := c.Level + 1; c.Level == 0 {
		want = s.v.LevelTargets(s.opts).BaseLevel
		if c.OutputLevel() != want {
			s.fatalf("level-0 compaction into L%d, base level L%d:\n%s", c.OutputLevel(), want, c)
		}
	} else if c.OutputLevel() != want {
		s.fatalf("compaction of L%d into L%d:\n%s", c.Level, c.OutputLevel(), c)
	}
	for _, o := range s.running {
		if o.OutputLevel() == c.OutputLevel() && rangesMeet(o.Smallest, o.Largest, c.Smallest, c.Largest) {
			s.fatalf("two running compactions write overlapping ranges of L%d:\n%s%s", c.OutputLevel(), o, c)
		}
	}
	c.MarkCompacting(true)
	s.running = append(s.running, c)
}

// finish runs a compaction: merges its inputs (newest entry per key), cuts
// outputs at MaxOutputFileSize and where ShouldStopBefore says, and
// installs the edit on the current Version.
func (s *lsmSim) finish(c *Compaction) {
	e := &VersionEdit{}
	if c.IsTrivialMove() {
		f := c.Inputs[0][0]
		e.DeleteFile(c.Level, f.Num)
		e.AddFile(c.OutputLevel(), f)
		s.stats["trivial-move"]++
	} else {
		byKey := map[int]uint64{}
		for _, files := range c.Inputs {
			for _, f := range files {
				for _, en := range s.contents[f.Num] {
					if en.seq > byKey[en.key] {
						byKey[en.key] = en.seq
					}
				}
			}
		}
		merged := make([]simEntry, 0, len(byKey))
		for k, seq := range byKey {
			merged = append(merged, simEntry{k, seq})
		}
		slices.SortFunc(merged, func(a, b simEntry) int { return a.key - b.key })
		var out []simEntry
		for _, en := range merged {
			ik := base.AppendInternalKey(nil, simUkey(en.key), en.seq, base.KindSet)
			if len(out) > 0 && c.ShouldStopBefore(ik) {
				e.AddFile(c.OutputLevel(), s.newFile(out))
				out = nil
				s.stats["grandparent-cut"]++
			}
			out = append(out, en)
			if uint64(len(out)*simEntrySize) >= c.MaxOutputFileSize {
				e.AddFile(c.OutputLevel(), s.newFile(out))
				out = nil
			}
		}
		if len(out) > 0 {
			e.AddFile(c.OutputLevel(), s.newFile(out))
		}
		c.AddInputDeletions(e)
	}
	e.CompactPointers = append(e.CompactPointers, c.CompactPointer())
	s.install(e)
	c.MarkCompacting(false)
}

func (s *lsmSim) install(e *VersionEdit) {
	// Through the codec, as the MANIFEST would carry it.
	var d VersionEdit
	if err := d.Decode(e.Encode(nil)); err != nil {
		s.fatalf("decode: %v", err)
	}
	// Decoding made new FileMetadata; keep the originals (they carry the
	// Compacting flags of moved files), matched by number.
	orig := map[uint64]*FileMetadata{}
	for _, nf := range e.NewFiles {
		orig[nf.Meta.Num] = nf.Meta
	}
	for i := range d.NewFiles {
		d.NewFiles[i].Meta = orig[d.NewFiles[i].Meta.Num]
	}
	b := NewBuilder(nil, s.v)
	if err := b.Apply(&d); err != nil {
		s.fatalf("apply: %v", err)
	}
	nv, err := b.Finish()
	if err != nil {
		s.fatalf("finish: %v\nedit: %s", err, e)
	}
	if err := nv.CheckConsistency(); err != nil {
		s.fatalf("%v", err)
	}
	for _, cp := range e.CompactPointers {
		s.pointers[cp.Level] = cp.Key
	}
	// Few allowed seeks, so that seek compactions happen.
	for _, nf := range e.NewFiles {
		nf.Meta.AllowedSeeks.Store(int64(2 + s.rng.IntN(4)))
	}
	s.v = nv
	s.installs++
	s.checkReads(false)
}

// checkReads verifies that a lookup of each key (all keys, or a sample)
// finds the key's newest write in the first file that contains it.
func (s *lsmSim) checkReads(all bool) {
	keys := make([]int, 0, 64)
	if all {
		for k := range s.newest {
			keys = append(keys, k)
		}
	} else {
		for range 64 {
			keys = append(keys, s.rng.IntN(2300))
		}
	}
	for _, k := range keys {
		want, written := s.newest[k]
		var got uint64
		found := false
		s.v.ForEachOverlapping(base.MakeSearchKey(nil, simUkey(k), base.MaxSeq), func(level int, f *FileMetadata) bool {
			entries := s.contents[f.Num]
			i, ok := slices.BinarySearchFunc(entries, k, func(e simEntry, k int) int { return e.key - k })
			if ok {
				got, found = entries[i].seq, true
				return false
			}
			return true
		})
		if found != written || got != want {
			s.fatalf("lookup of key %d found %v seq %d, want %v seq %d", k, found, got, written, want)
		}
	}
}
