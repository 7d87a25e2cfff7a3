//go:build !bench_single || bench_pebble

package engines

import (
	"encoding/binary"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestUint64AddMerger: Pebble with the bench's uint64add adds operands onto
// a value or onto nothing, the same in the memtable, after a flush, after
// a compaction, with operands on both sides of it, and reads an operand of
// another length as 0 (as RocksDB's uint64add does).
func TestUint64AddMerger(t *testing.T) {
	d, err := pebble.Open("db", &pebble.Options{FS: vfs.NewMem(), Merger: Uint64AddMerger, Logger: quietLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	u := func(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }
	check := func(when string, key string, want uint64) {
		t.Helper()
		v, closer, err := d.Get([]byte(key))
		if err != nil {
			t.Fatalf("%s: get %s: %v", when, key, err)
		}
		defer closer.Close()
		if len(v) != 8 || binary.LittleEndian.Uint64(v) != want {
			t.Errorf("%s: %s = %x, want %d", when, key, v, want)
		}
	}
	for range 5 {
		d.Merge([]byte("a"), u(1), nil)
	}
	d.Set([]byte("b"), u(100), nil)
	d.Merge([]byte("b"), u(7), nil)
	d.Merge([]byte("b"), []byte("odd"), nil)
	check("memtable", "a", 5)
	check("memtable", "b", 107)
	if err := d.Flush(); err != nil {
		t.Fatal(err)
	}
	d.Merge([]byte("a"), u(1<<63), nil)
	d.Merge([]byte("a"), u(1<<63), nil) // wraps around
	check("flushed", "a", 5)
	if err := d.Compact(t.Context(), []byte("a"), []byte("c"), false); err != nil {
		t.Fatal(err)
	}
	d.Merge([]byte("b"), u(3), nil)
	check("compacted", "a", 5)
	check("compacted", "b", 110)
}
