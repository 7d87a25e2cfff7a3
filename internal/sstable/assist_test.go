package sstable

import (
	"bytes"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/base"
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

// TestAssistHelpWhile runs HelpWhile in a goroutine while a table is
// written through the Assist, as a database's writer stalled for a flush
// does: the table must be the one a Writer without an Assist writes, the
// sleeper must have compressed blocks (it is woken for batches of them),
// and it must return once its condition is false and Wake is called,
// also when it was asleep then.
func TestAssistHelpWhile(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	entries := randomEntries(rng, 20000, base.DefaultComparer, 300)
	o := WriterOptions{Compression: SnappyCompression, BloomBitsPerKey: 10}
	want := writeTable(t, entries, o)
	a := NewAssist()
	for round := range 3 {
		var writing atomic.Bool
		writing.Store(true)
		helped := a.Helped()
		done := make(chan struct{})
		go func() {
			a.HelpWhile(writing.Load)
			close(done)
		}()
		var got bytes.Buffer
		w := NewWriter(&got, o)
		w.SetAssist(a)
		for i, e := range entries {
			if err := w.Add(e.k, e.v); err != nil {
				t.Fatal(err)
			}
			if i%64 == 0 {
				runtime.Gosched() // let the helper run with GOMAXPROCS=1 too
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if round == 2 {
			time.Sleep(10 * time.Millisecond) // the helper is asleep by now
		}
		writing.Store(false)
		a.Wake()
		<-done
		if !bytes.Equal(got.Bytes(), want) {
			t.Fatalf("round %d: the table differs from a Writer's without an Assist at byte %d", round, firstDiff(got.Bytes(), want))
		}
		if a.Helped() == helped {
			t.Fatalf("round %d: HelpWhile compressed no block", round)
		}
	}
}
