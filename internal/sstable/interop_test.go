package sstable

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-db/strata/internal/base"
)

// TestWriteInteropTables writes tables for testdata/cpp_read_table.cc, which
// reads them with C++ LevelDB's Table class, together with the dump it must
// print. It runs only when STRATA_SSTABLE_INTEROP_DIR names an output
// directory (see the instructions in cpp_read_table.cc).
func TestWriteInteropTables(t *testing.T) {
	dir := os.Getenv("STRATA_SSTABLE_INTEROP_DIR")
	if dir == "" {
		t.Skip("STRATA_SSTABLE_INTEROP_DIR not set")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	var entries []kv
	for i := range 5000 {
		ukey := fmt.Appendf(nil, "user%08d", i*3)
		kind := base.KindSet
		if i%17 == 0 {
			kind = base.KindDelete
		}
		v := make([]byte, rng.IntN(200))
		for j := range v {
			v[j] = "abcdefgh"[rng.IntN(8)]
		}
		if i%100 == 0 {
			v = make([]byte, 20000) // larger than a block
		}
		entries = append(entries, kv{base.AppendInternalKey(nil, ukey, uint64(10000+i), kind), v})
	}
	for _, o := range []WriterOptions{
		{Compression: SnappyCompression, BloomBitsPerKey: 10},
		{Compression: NoCompression, BloomBitsPerKey: 10, BlockSize: 1024, BlockRestartInterval: 4},
		{Compression: SnappyCompression, BlockSize: 64 << 10, BlockRestartInterval: 32},
		{Compression: SnappyCompression, BlockSize: 100, BlockRestartInterval: 1, BloomBitsPerKey: 3},
	} {
		name := fmt.Sprintf("strata_%s_b%d_r%d_bloom%d", o.Compression, o.BlockSize, o.BlockRestartInterval, o.BloomBitsPerKey)
		data := writeTable(t, entries, o)
		var want strings.Builder
		for _, e := range entries {
			fmt.Fprintf(&want, "%x %x\n", e.k, e.v)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".ldb"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".want"), []byte(want.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
