package vfs

import (
	"bytes"
	"testing"
)

// appenderPayload is the i-th write of the appender tests: 2 to 600 bytes.
func appenderPayload(i int) []byte {
	return bytes.Repeat([]byte{byte(i), byte(i >> 8)}, 1+i%300)
}

// TestAppenderWriteCloseRead: what an Appender writes, across chunks and
// syncs, is what the file holds after Close, on the OS file system (the
// mapped appender on Linux, write(2) elsewhere) and in memory; a write after
// Close fails.
func TestAppenderWriteCloseRead(t *testing.T) {
	for _, fs := range []FS{Default, NewMem()} {
		dir := t.TempDir()
		if _, ok := fs.(*MemFS); ok {
			dir = "/app"
			fs.MkdirAll(dir, 0o755)
		}
		path := fs.PathJoin(dir, "log")
		f, err := fs.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		a := NewAppender(f)
		var want []byte
		for i := 0; i < 20000; i++ { // crosses several 1 MiB chunks
			p := appenderPayload(i)
			if n, err := a.Write(p); err != nil || n != len(p) {
				t.Fatalf("write %d: %d, %v", i, n, err)
			}
			want = append(want, p...)
			if i%5000 == 0 {
				if err := a.Sync(); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Write([]byte("x")); err == nil {
			t.Fatal("write after close succeeded")
		}
		g, err := fs.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := g.Stat()
		got := make([]byte, fi.Size())
		if _, err := g.ReadAt(got, 0); err != nil {
			t.Fatal(err)
		}
		g.Close()
		if !bytes.Equal(got, want) {
			t.Fatalf("%T: file holds %d bytes, want %d (equal prefix: %v)", fs, len(got), len(want),
				bytes.HasPrefix(want, got[:min(len(got), len(want))]))
		}
	}
}
