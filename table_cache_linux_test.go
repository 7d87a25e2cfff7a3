//go:build linux

package strata

import (
	"fmt"
	"strings"
	"testing"

	"github.com/strata-db/strata/internal/vfs"
)

// TestMappedTablesAdvisedRandomWhenOutgrown: while the tables fit in half
// the memory, their mappings keep the kernel's read-around (no random-access
// advice); once the tables outgrow it, setTableBytes advises the tables
// still mapped for random access, so their faults stop reading windows.
func TestMappedTablesAdvisedRandomWhenOutgrown(t *testing.T) {
	defer func(f func() int64) { memoryLimit = f }(memoryLimit)
	memoryLimit = func() int64 { return 1 << 40 }
	dir := t.TempDir()
	db := mustOpen(t, dir, &Options{WriteBufferSize: 64 << 10})
	defer db.Close()
	for i := range 3000 {
		if err := db.Put([]byte(fmt.Sprintf("key%06d", i)), []byte(strings.Repeat("v", 100)), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3000; i += 7 {
		if _, err := db.Get([]byte(fmt.Sprintf("key%06d", i))); err != nil {
			t.Fatal(err)
		}
	}
	mappings := func() [][]byte {
		tc := db.tables
		tc.mu.Lock()
		defer tc.mu.Unlock()
		var out [][]byte
		for _, e := range tc.m {
			if p := e.mapped.Load(); p != nil && len(*p) > 0 {
				out = append(out, *p)
			}
		}
		return out
	}
	m := mappings()
	if len(m) == 0 {
		t.Skip("no table mapped here")
	}
	for _, b := range m {
		if f := vmFlagsOf(t, b); strings.Contains(f, " rr") {
			t.Fatalf("a table of a database that fits in memory is advised random: %q", f)
		}
	}
	db.tables.setTableBytes(1 << 50) // the tables outgrew the memory
	for _, b := range mappings() {
		if f := vmFlagsOf(t, b); !strings.Contains(f, " rr") {
			t.Fatalf("a mapped table is not advised random once the tables outgrew the memory: %q", f)
		}
	}
	checkTableReads(t, db, func() map[string]string {
		want := map[string]string{}
		for i := range 3000 {
			want[fmt.Sprintf("key%06d", i)] = strings.Repeat("v", 100)
		}
		return want
	}())
}

// vmFlagsOf returns the VmFlags line of the mapping that starts at b.
func vmFlagsOf(t *testing.T, b []byte) string {
	t.Helper()
	f, err := vfs.MappingVmFlags(b)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
