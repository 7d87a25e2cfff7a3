package record

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
)

// writeLogger records every Write call, and fails the failAt-th one (1-based)
// with err, optionally after accepting part of it.
type writeLogger struct {
	writes  [][]byte
	failAt  int
	partial int
	err     error
}

func (w *writeLogger) Write(p []byte) (int, error) {
	w.writes = append(w.writes, bytes.Clone(p))
	if len(w.writes) == w.failAt {
		return min(w.partial, len(p)), w.err
	}
	return len(p), nil
}

// Each record reaches the underlying writer in exactly one Write call
// holding exactly its bytes (trailer padding included).
func TestWriterOneWritePerRecord(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	recs := randRecords(rng, 100, 100<<10)
	var wl writeLogger
	w := NewWriter(&wl)
	var prevSize int64
	for i, r := range recs {
		if _, err := w.WriteRecord(r); err != nil {
			t.Fatal(err)
		}
		if len(wl.writes) != i+1 {
			t.Fatalf("record %d: %d Write calls so far, want %d", i, len(wl.writes), i+1)
		}
		if got := int64(len(wl.writes[i])); got != w.Size()-prevSize {
			t.Fatalf("record %d: Write of %d bytes, Size grew by %d", i, got, w.Size()-prevSize)
		}
		prevSize = w.Size()
	}
	res := readLog(bytes.Join(wl.writes, nil), false)
	if res.err != io.EOF || len(res.recs) != len(recs) {
		t.Fatalf("read back %d records, %v", len(res.recs), res.err)
	}
}

// After a failed Write the Writer never writes again and keeps returning
// the error; Size does not count the failed record.
func TestWriterBrokenAfterError(t *testing.T) {
	boom := errors.New("disk on fire")
	tests := []struct {
		name    string
		err     error
		partial int
		want    error
	}{
		{"error", boom, 0, boom},
		{"error after a partial write", boom, 5, boom},
		{"short write without error", nil, 3, io.ErrShortWrite},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wl := writeLogger{failAt: 3, partial: tc.partial, err: tc.err}
			w := NewWriter(&wl)
			for range 2 {
				if _, err := w.WriteRecord([]byte("ok")); err != nil {
					t.Fatal(err)
				}
			}
			size := w.Size()
			for range 3 {
				off, err := w.WriteRecord([]byte("doomed"))
				if !errors.Is(err, tc.want) || off != -1 {
					t.Fatalf("WriteRecord = %d, %v; want -1, %v", off, err, tc.want)
				}
			}
			if len(wl.writes) != 3 {
				t.Fatalf("%d Write calls, want 3 (none after the failure)", len(wl.writes))
			}
			if w.Size() != size {
				t.Fatalf("Size %d after the failure, want %d", w.Size(), size)
			}
		})
	}
}

func TestWriterOffsetsAndSize(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriterAt(&buf, BlockSize-3) // 3 bytes left: trailer first
	off, err := w.WriteRecord([]byte("x"))
	if err != nil || off != BlockSize {
		t.Fatalf("offset %d, %v; want %d", off, err, BlockSize)
	}
	if w.Size() != BlockSize+HeaderSize+1 || buf.Len() != 3+HeaderSize+1 {
		t.Fatalf("Size %d, %d bytes written", w.Size(), buf.Len())
	}
	if !bytes.Equal(buf.Bytes()[:3], []byte{0, 0, 0}) {
		t.Fatalf("trailer % x", buf.Bytes()[:3])
	}
	if w := NewWriterAt(io.Discard, -5); w.Size() != 0 {
		t.Fatalf("negative offset: Size %d", w.Size())
	}
}

// Writing and reading allocate nothing per record in steady state.
func TestNoAllocsPerRecord(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	for _, size := range []int{0, 100, 4 << 10, 3 * BlockSize} {
		rec := pattern(size, 1)
		w := NewWriter(io.Discard)
		if a := testing.AllocsPerRun(100, func() { _, _ = w.WriteRecord(rec) }); a != 0 {
			t.Errorf("WriteRecord(%d bytes): %v allocs per record", size, a)
		}

		recs := make([][]byte, 300)
		for i := range recs {
			recs[i] = rec
		}
		data, _ := encodeLog(t, 0, recs)
		br := bytes.NewReader(data)
		r := NewReader(br, "x")
		a := testing.AllocsPerRun(200, func() {
			if _, err := r.Next(); err != nil {
				t.Fatal(err)
			}
		})
		if a != 0 {
			t.Errorf("Next(%d bytes): %v allocs per record", size, a)
		}
	}
}
