package manifest

import (
	"fmt"
	"testing"

	"github.com/strata-db/strata/internal/base"
)

// BenchmarkPickCompaction picks from a Version of 6×1000 files whose levels
// are all over budget, rotating through level 1 with the compact pointer.
func BenchmarkPickCompaction(b *testing.B) {
	v := benchVersion(1000)
	o := PickerOptions{BaseLevelBytes: 1 << 20}
	var pointers [NumLevels][]byte
	b.ReportAllocs()
	for b.Loop() {
		if PickCompaction(v, o, &pointers) == nil {
			b.Fatal("nothing picked")
		}
	}
}

// BenchmarkCompactionKeyLoop is the per-key work of a compaction's merge
// loop: ShouldStopBefore and IsBaseLevelForKey over 100k ordered keys with
// grandparents and deeper levels of 1000 files each.
func BenchmarkCompactionKeyLoop(b *testing.B) {
	v := benchVersion(1000)
	c, _ := PickManual(v, PickerOptions{TargetFileSize: 1 << 40}, 1, nil, nil)
	if c == nil || len(c.Grandparents) == 0 {
		b.Fatal("no compaction")
	}
	keys := make([][]byte, 100_000)
	for i := range keys {
		keys[i] = base.AppendInternalKey(nil, fmt.Appendf(nil, "k%08d", i*10), 1, base.KindSet)
	}
	b.ReportAllocs()
	for b.Loop() {
		c.levelPtrs, c.grandparentIndex, c.seenKey, c.overlappedBytes = [NumLevels]int{}, 0, false, 0
		for _, k := range keys {
			c.ShouldStopBefore(k)
			c.IsBaseLevelForKey(base.UserKey(k))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(keys)), "ns/key")
}
