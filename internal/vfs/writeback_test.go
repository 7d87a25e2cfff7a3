package vfs

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestWritebackWriterRanges writes random-sized pieces and checks that the
// writeback requests cover the file from its start in contiguous ranges,
// each at least bytesPerSync long, and leave less than bytesPerSync
// unrequested at the end; with bytesPerSync <= 0 there are none. The bytes
// reach the file unchanged either way.
func TestWritebackWriterRanges(t *testing.T) {
	for _, every := range []int{-1, 0, 1, 100, 4096, 512 << 10} {
		rng := rand.New(rand.NewPCG(uint64(every+2), 7))
		fs := NewMem()
		f, err := fs.Create("t")
		if err != nil {
			t.Fatal(err)
		}
		type span struct{ off, n int64 }
		var spans []span
		w := NewWritebackWriter(f, every)
		w.start = func(got File, off, n int64) error {
			if got != f {
				t.Fatalf("every=%d: writeback asked for another file", every)
			}
			spans = append(spans, span{off, n})
			return nil
		}
		var want []byte
		for i := 0; i < 200; i++ {
			p := make([]byte, rng.IntN(20000))
			for j := range p {
				p[j] = byte(rng.Uint32())
			}
			if n, err := w.Write(p); n != len(p) || err != nil {
				t.Fatalf("every=%d: Write = %d, %v", every, n, err)
			}
			want = append(want, p...)
		}
		var next int64
		for _, s := range spans {
			if s.off != next || s.n < int64(every) {
				t.Fatalf("every=%d: writeback of [%d, %d) after %d bytes requested", every, s.off, s.off+s.n, next)
			}
			next += s.n
		}
		total := int64(len(want))
		switch {
		case every <= 0 && len(spans) != 0:
			t.Fatalf("every=%d: %d writeback requests, want none", every, len(spans))
		case every > 0 && (next > total || total-next >= int64(every)):
			t.Fatalf("every=%d: writeback requested up to %d of %d bytes", every, next, total)
		}
		got := make([]byte, total)
		if n, err := f.ReadAt(got, 0); int64(n) != total && err != nil {
			t.Fatalf("every=%d: read back: %d, %v", every, n, err)
		}
		if string(got) != string(want) {
			t.Fatalf("every=%d: the file does not hold the bytes written", every)
		}
	}
}

// TestWritebackWriterErrors: a failed writeback request is returned by the
// Write that made it, and the next Write asks again from the same offset; a
// failed write is returned as is.
func TestWritebackWriterErrors(t *testing.T) {
	fs := NewMem()
	f, _ := fs.Create("t")
	boom := errors.New("boom")
	var offs []int64
	fail := true
	w := NewWritebackWriter(f, 10)
	w.start = func(_ File, off, n int64) error {
		offs = append(offs, off)
		if fail {
			return boom
		}
		return nil
	}
	if _, err := w.Write(make([]byte, 15)); !errors.Is(err, boom) {
		t.Fatalf("Write with a failing writeback = %v, want boom", err)
	}
	fail = false
	if _, err := w.Write(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	if len(offs) != 2 || offs[0] != 0 || offs[1] != 0 {
		t.Fatalf("writeback offsets %v, want [0 0]", offs)
	}
	f.Close()
	if _, err := w.Write([]byte("x")); err == nil {
		t.Fatal("Write to a closed file succeeded")
	}
}

// TestStartWriteback runs the real request: on an operating-system file it
// succeeds (and on Linux fails, naming the file, once the file is closed);
// on a MemFS file it does nothing.
func TestStartWriteback(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t")
	f, err := Default.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := NewWritebackWriter(f, 4096)
	if _, err := w.Write(make([]byte, 3*4096+100)); err != nil {
		t.Fatalf("Write through writeback on an OS file: %v", err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	err = startWriteback(f, 0, 4096)
	if runtime.GOOS == "linux" && (err == nil || !strings.Contains(err.Error(), path)) {
		t.Fatalf("writeback on a closed file = %v, want an error naming %s", err, path)
	}
	mf, _ := NewMem().Create("m")
	if err := startWriteback(mf, 0, 10); err != nil {
		t.Fatalf("writeback on a MemFS file = %v", err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() != 3*4096+100 {
		t.Fatalf("file after writeback: %v, %v", fi, err)
	}
}
