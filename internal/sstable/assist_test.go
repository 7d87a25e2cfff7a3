package sstable

import (
	"bytes"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"strata/internal/base"
)

// TestAssistSameTable runs TestWriterReset's random tables through an
// Assist while helper goroutines call Help continuously: every finished
// table must be byte for byte the table a Writer without an Assist writes,
// including after tables abandoned half-way, and the helpers must have
// compressed blocks. The writing goroutine and the helpers yield the
// processor now and then, so that they interleave even with GOMAXPROCS=1.
func TestAssistSameTable(t *testing.T) {
	a := NewAssist()
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			for !stop.Load() {
				a.Help(1 + rand.IntN(3))
				runtime.Gosched()
			}
		})
	}
	tables := 40
	if testing.Short() || raceEnabled {
		tables = 15
	}
	adds := 0
	testReusedWriter(t, a, tables, func() {
		if adds++; adds%64 == 0 {
			runtime.Gosched()
		}
	})
	stop.Store(true)
	wg.Wait()
	if a.Helped() == 0 {
		t.Fatal("the helpers compressed no block")
	}
}

// TestAssistWriter writes one table through an Assist with no helper (the
// Writer compresses every block itself) and with the writing goroutine
// calling Help between Adds, as a database's writers do: both must write
// the table a Writer without an Assist writes, and Help on an idle Assist
// must do nothing.
func TestAssistWriter(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	entries := randomEntries(rng, 3000, base.DefaultComparer, 300)
	for _, tc := range []struct {
		name string
		o    WriterOptions
		help bool
	}{
		{"alone", WriterOptions{Compression: SnappyCompression, BloomBitsPerKey: 10, BlockSize: 512}, false},
		{"helped", WriterOptions{Compression: ZstdCompression, BloomBitsPerKey: 10, BlockSize: 256}, true},
	} {
		want := writeTable(t, entries, tc.o)
		a := NewAssist()
		var got bytes.Buffer
		w := NewWriter(&got, tc.o)
		w.SetAssist(a)
		for _, e := range entries {
			if err := w.Add(e.k, e.v); err != nil {
				t.Fatal(err)
			}
			if tc.help {
				a.Help(1)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want) {
			t.Fatalf("%s: table differs at byte %d", tc.name, firstDiff(got.Bytes(), want))
		}
		if helped := a.Helped(); (helped > 0) != tc.help {
			t.Fatalf("%s: Help compressed %d blocks", tc.name, helped)
		}
		if n := a.Help(5); n != 0 {
			t.Fatalf("%s: Help on an idle Assist compressed %d blocks", tc.name, n)
		}
	}
}
