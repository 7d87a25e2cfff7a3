package strata

import (
	"errors"
	"testing"
)

// TestCheckTable: the bounds of a table's entries and range tombstones,
// an empty table, and corruption refused.
func TestCheckTable(t *testing.T) {
	fs := NewMemFS()
	opts := &Options{FS: fs}
	write := func(path string, fn func(w *TableWriter) error) {
		t.Helper()
		w, err := NewTableWriter(path, opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := errors.Join(fn(w), w.Close()); err != nil {
			t.Fatal(err)
		}
	}
	write("/a.sst", func(w *TableWriter) error {
		return errors.Join(w.Add([]byte("b"), []byte("1")), w.Add([]byte("c"), []byte("2")), w.DeleteRange([]byte("a"), []byte("c")))
	})
	write("/b.sst", func(w *TableWriter) error {
		return errors.Join(w.Add([]byte("b"), []byte("1")), w.DeleteRange([]byte("b"), []byte("x")))
	})
	write("/c.sst", func(w *TableWriter) error { return w.Add([]byte("k"), []byte("v")) })
	cases := []struct {
		path         string
		small, large string
		exclusive    bool
	}{
		{"/a.sst", "a", "c", false}, // the entry c, not the tombstone's end
		{"/b.sst", "b", "x", true},
		{"/c.sst", "k", "k", false},
	}
	for _, tc := range cases {
		b, err := CheckTable(tc.path, opts)
		if err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		if string(b.Smallest) != tc.small || string(b.Largest) != tc.large || b.LargestExclusive != tc.exclusive || b.Empty {
			t.Fatalf("%s: %+v, want [%s, %s] exclusive %v", tc.path, b, tc.small, tc.large, tc.exclusive)
		}
	}
	f, err := fs.Open("/c.sst")
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 4096)
	n, _ := f.Read(data)
	f.Close()
	data = data[:n]
	data[2] ^= 0xff
	g, err := fs.Create("/bad.sst")
	if err != nil {
		t.Fatal(err)
	}
	g.Write(data)
	g.Close()
	if _, err := CheckTable("/bad.sst", opts); !errors.Is(err, ErrCorruption) {
		t.Fatalf("corrupt table: %v, want ErrCorruption", err)
	}
	if _, err := CheckTable("/missing.sst", opts); err == nil {
		t.Fatal("missing table: no error")
	}
}
