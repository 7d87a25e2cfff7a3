package strata

import (
	"fmt"
	"testing"
	"time"
)

// TestFlushAfterEmptyRotation: a synced empty write that finds the memtable
// full rotates it (a small memtable of the ramp, frozen as full) and leaves
// the new memtable empty; Flush then has nothing to rotate, and the frozen
// memtable alone is not due by flushSetLocked's rules. Flush must still
// flush it, not wait forever (it did: found by the metamorphic and model
// tests' seeds 4288958265954437090 and slab-cache/9).
func TestFlushAfterEmptyRotation(t *testing.T) {
	d, err := Open(t.TempDir(), &Options{WriteBufferSize: 4 << 20, InitialMemTableSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	v := make([]byte, 100)
	for i := 0; ; i++ {
		if err := d.Put([]byte(fmt.Sprintf("k%06d", i)), v, nil); err != nil {
			t.Fatal(err)
		}
		d.mu.Lock()
		full := d.mem.ApproximateMemoryUsage() >= uint64(d.mem.size)
		d.mu.Unlock()
		if full {
			break
		}
	}
	if err := d.Write(&Batch{}, &WriteOptions{Sync: true}); err != nil {
		t.Fatal(err)
	}
	d.mu.Lock()
	frozen, empty := len(d.imms), d.mem.Empty()
	d.mu.Unlock()
	if frozen != 1 || !empty {
		t.Fatalf("set-up: %d frozen memtables, current empty %v; want 1, true", frozen, empty)
	}
	done := make(chan error, 1)
	go func() { done <- d.Flush() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Flush still waiting after 30 s for a frozen memtable nobody flushes")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.imms) != 0 {
		t.Fatalf("%d memtables still frozen after Flush", len(d.imms))
	}
}
