//go:build linux

package vfs

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"
)

// TestMmapAdvice: table mappings are advised for random access (a fault
// reads its page, not the kernel's read-around window: out of memory that
// window cost each point read 1-1.5 MB of disk reads), and WillNeed accepts
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
	data, unmap, err := MmapFile(f)
	if err != nil {
		t.Fatal(err)
	}
	defer unmap()
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Skipf("no /proc/self/smaps: %v", err)
	}
	start := fmt.Sprintf("%x-", uintptr(unsafe.Pointer(&data[0])))
	var flags string
	found := false
	for _, line := range strings.Split(string(smaps), "\n") {
		if strings.HasPrefix(line, start) {
			found = true
		}
		if found && strings.HasPrefix(line, "VmFlags:") {
			flags = line
			break
		}
	}
	if !strings.Contains(flags, " rr") {
		t.Fatalf("the mapping is not advised for random access: %q", flags)
	}
	for _, r := range [][2]int{{0, 10}, {1, 5000}, {4097, 8192}, {len(data) - 3, len(data)}} {
		if err := willNeed(data[r[0]:r[1]]); err != nil {
			t.Fatalf("willNeed(data[%d:%d]): %v", r[0], r[1], err)
		}
	}
}
