//go:build linux

package vfs

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMmapAdvice: a mapping advised with AdviseRandomMapping is
// advised for random access (a fault reads its page, not the kernel's
// read-around window: out of memory that window cost each point read
// 1-1.5 MB of disk reads), a new one is not, and WillNeed accepts
// any part of a mapping, however aligned (madvise itself refuses an
// unaligned start: every scan's read-ahead failed that way at first).
func TestMmapAdvice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t")
	if err := os.WriteFile(path, bytes.Repeat([]byte("x"), 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Default.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	vmFlags := func(data []byte) string {
		t.Helper()
		f, err := MappingVmFlags(data)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	// No advice: the kernel's read-around, until advised otherwise.
	plain, unmapPlain, err := MmapFile(f)
	if err != nil {
		t.Fatal(err)
	}
	defer unmapPlain()
	if flags := vmFlags(plain); strings.Contains(flags, " rr") {
		t.Fatalf("a new mapping is advised for random access: %q", flags)
	}
	if err := AdviseRandomMapping(plain); err != nil {
		t.Fatal(err)
	}
	if flags := vmFlags(plain); !strings.Contains(flags, " rr") {
		t.Fatalf("AdviseRandomMapping left %q", flags)
	}
	for _, r := range [][2]int{{0, 10}, {1, 5000}, {4097, 8192}, {len(plain) - 3, len(plain)}} {
		if err := willNeed(plain[r[0]:r[1]]); err != nil {
			t.Fatalf("willNeed(data[%d:%d]): %v", r[0], r[1], err)
		}
	}
}
