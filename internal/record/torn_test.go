package record

import (
	"bytes"
	"io"
	"testing"
)

// TestTornByChecksum: a log cut short anywhere (what a crash leaves) is
// never reported as a checksum-damaged tail, while a flipped byte in the
// payload of the last record is (what bit rot leaves): the distinction
// ParanoidChecks relies on to refuse damage but accept crashes.
func TestTornByChecksum(t *testing.T) {
	l := propertyLog(t)
	rd := NewReader(nil, "")
	for _, cut := range l.positions() {
		if cut%7 != 0 && cut < int64(len(l.data))-BlockSize {
			continue // every cut in the last block, a sample before it
		}
		r := rd
		r.Reset(bytes.NewReader(l.data[:cut]), "cut")
		for {
			if _, err := r.Next(); err != nil {
				break
			}
		}
		if r.TornByChecksum() {
			off, n, _ := r.TornTail()
			t.Fatalf("cut at %d: torn tail (%d, %d) reported as checksum damage", cut, off, n)
		}
	}

	last := len(l.recs) - 1
	if len(l.recs[last]) < 2 || l.end[last] != int64(len(l.data)) {
		t.Fatal("the property log must end with a non-empty record")
	}
	data := bytes.Clone(l.data)
	data[len(data)-1] ^= 0x10
	r := NewReader(bytes.NewReader(data), "flipped")
	n := 0
	var err error
	for ; ; n++ {
		if _, err = r.Next(); err != nil {
			break
		}
	}
	off, _, torn := r.TornTail()
	if err != io.EOF || !torn || off != l.start[last] && off != l.end[last-1] || !r.TornByChecksum() {
		t.Fatalf("flip in the last record: %d records, %v, torn %v at %d, by checksum %v",
			n, err, torn, off, r.TornByChecksum())
	}
}
