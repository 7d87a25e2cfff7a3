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
func TestScanReadsAhead(t *testing.T) {
	var entries []kv
	for i := range 20000 {
		entries = append(entries, kv{base.AppendInternalKey(nil, fmt.Appendf(nil, "k%06d", i), 1, base.KindSet), bytes.Repeat([]byte("v"), 100)})
	}
	data := writeTable(t, entries, WriterOptions{Compression: NoCompression})
	var asked [][2]int
	willNeed := func(b []byte) {
		start := int(uintptr(unsafe.Pointer(unsafe.SliceData(b))) - uintptr(unsafe.Pointer(unsafe.SliceData(data))))
		if start < 0 || start+len(b) > len(data) {
			t.Fatalf("WillNeed outside the mapping: [%d, %d) of %d", start, start+len(b), len(data))
		}
		asked = append(asked, [2]int{start, start + len(b)})
	}
	r, err := NewReader(bytes.NewReader(data), int64(len(data)), ReaderOptions{Mmap: data, WillNeed: willNeed})
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
		if err := it.Close(); err != nil || n != len(entries) {
			t.Fatalf("forward=%v: %d entries, %v", forward, n, err)
		}
		// The first blocks of a scan are read before it counts as one.
		blocks := l.DataBlocks[scanThreshold+1 : len(l.DataBlocks)-scanThreshold-1]
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
