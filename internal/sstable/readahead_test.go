package sstable

import (
	"bytes"
	"fmt"
	"math/bits"
	"testing"
	"unsafe"

	"github.com/strata-db/strata/internal/base"
)

// TestScanReadsAhead: a scan of a mapped table asks for the part it is about
// to read to be read ahead (ReaderOptions.WillNeed), forward and backward:
// every data block a scan reads past the scan threshold lies in a range
// asked for before it was read, and every range lies inside the mapping.
// A scan of an unmapped table asks the same of the file
// (ReaderOptions.FileWillNeed).
func TestScanReadsAhead(t *testing.T) {
	var entries []kv
	for i := range 20000 {
		entries = append(entries, kv{base.AppendInternalKey(nil, fmt.Appendf(nil, "k%06d", i), 1, base.KindSet), bytes.Repeat([]byte("v"), 100)})
	}
	data := writeTable(t, entries, WriterOptions{Compression: NoCompression})
	for _, mapped := range []bool{true, false} {
		t.Run(fmt.Sprintf("mapped=%v", mapped), func(t *testing.T) {
			testScanReadsAhead(t, data, len(entries), mapped)
		})
	}
}

func testScanReadsAhead(t *testing.T, data []byte, entries int, mapped bool) {
	var asked [][2]int
	ask := func(start, n int) {
		if start < 0 || start+n > len(data) {
			t.Fatalf("read-ahead outside the table: [%d, %d) of %d", start, start+n, len(data))
		}
		asked = append(asked, [2]int{start, start + n})
	}
	o := ReaderOptions{FileWillNeed: func(off, n int64) { ask(int(off), int(n)) }}
	if mapped {
		o = ReaderOptions{Mmap: data, WillNeed: func(b []byte) {
			ask(int(uintptr(unsafe.Pointer(unsafe.SliceData(b)))-uintptr(unsafe.Pointer(unsafe.SliceData(data)))), len(b))
		}}
	}
	r, err := NewReader(bytes.NewReader(data), int64(len(data)), o)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	l, err := r.Layout()
	if err != nil {
		t.Fatal(err)
	}
	covered := func(h BlockHandle) bool {
		for _, a := range asked {
			if int(h.Offset) >= a[0] && int(h.Offset+h.Size) <= a[1] {
				return true
			}
		}
		return false
	}
	for _, forward := range []bool{true, false} {
		asked = nil
		it := r.NewIter()
		n := 0
		if forward {
			for ok := it.First(); ok; ok = it.Next() {
				n++
			}
		} else {
			for ok := it.Last(); ok; ok = it.Prev() {
				n++
			}
		}
		if err := it.Close(); err != nil || n != entries {
			t.Fatalf("forward=%v: %d entries, %v", forward, n, err)
		}
		// The first blocks of a scan are read before it counts as one.
		blocks := l.DataBlocks[readAheadAfter+1 : len(l.DataBlocks)-readAheadAfter-1]
		for _, b := range blocks {
			if !covered(b.Handle) {
				t.Fatalf("forward=%v: block at %d was read without being asked for ahead (asked: %v)", forward, b.Handle.Offset, asked)
			}
		}
		// The requests grow from scanAheadMin to scanAheadBytes.
		growing := bits.Len(scanAheadBytes/scanAheadMin) - 1
		if len(asked) == 0 || len(asked) > len(data)/scanAheadBytes+2+growing {
			t.Fatalf("forward=%v: %d read-ahead requests for a %d-byte table", forward, len(asked), len(data))
		}
		if first := asked[0][1] - asked[0][0]; first > scanAheadMin+4096 {
			t.Fatalf("forward=%v: the first read-ahead request is %d bytes, want at most about %d", forward, first, scanAheadMin)
		}
	}
}
