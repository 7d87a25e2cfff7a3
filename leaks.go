package strata

import (
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

var errSnapshotClosed = errors.New("strata: snapshot is closed")

// leakTracker counts open iterators and snapshots so Close can name the
// ones a program forgot. Counting is two atomics; only with
// Options.DebugLeaks does it also keep, per object, the stack that created
// it (in a map under a mutex).
type leakTracker struct {
	iterators atomic.Int64
	snapshots atomic.Int64

	mu   sync.Mutex
	next uint64
	open map[uint64]leak // DebugLeaks only
}

type leak struct {
	kind  string
	stack string
}

// add counts a new object of kind ("iterator" or "snapshot") and returns its
// id for remove (0 unless withStack).
func (t *leakTracker) add(kind string, withStack bool) uint64 {
	t.counter(kind).Add(1)
	if !withStack {
		return 0
	}
	buf := make([]byte, 4096)
	stack := string(buf[:runtime.Stack(buf, false)])
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.open == nil {
		t.open = map[uint64]leak{}
	}
	t.next++
	t.open[t.next] = leak{kind: kind, stack: stack}
	return t.next
}

func (t *leakTracker) counter(kind string) *atomic.Int64 {
	if kind == "snapshot" {
		return &t.snapshots
	}
	return &t.iterators
}

// remove uncounts an object add returned id for.
func (t *leakTracker) remove(kind string, id uint64) {
	t.counter(kind).Add(-1)
	if id == 0 {
		return
	}
	t.mu.Lock()
	delete(t.open, id)
	t.mu.Unlock()
}

// check returns an error naming what is still open, or nil; snapSeqs are
// the sequence numbers of the snapshots still open, which name them.
func (t *leakTracker) check(snapSeqs []uint64) error {
	iters, snaps := t.iterators.Load(), t.snapshots.Load()
	if iters == 0 && snaps == 0 {
		return nil
	}
	var parts []string
	if iters > 0 {
		parts = append(parts, fmt.Sprintf("%d iterator(s)", iters))
	}
	if snaps > 0 {
		p := fmt.Sprintf("%d snapshot(s)", snaps)
		if len(snapSeqs) > 0 {
			seqs := make([]string, len(snapSeqs))
			for i, s := range snapSeqs {
				seqs[i] = fmt.Sprint(s)
			}
			p += " (taken at sequence " + strings.Join(seqs, ", ") + ")"
		}
		parts = append(parts, p)
	}
	msg := fmt.Sprintf("strata: Close with %s still open", strings.Join(parts, " and "))
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.open) == 0 {
		return errors.New(msg + " (set Options.DebugLeaks to see where they were created)")
	}
	ids := make([]uint64, 0, len(t.open))
	for id := range t.open {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	var b strings.Builder
	b.WriteString(msg)
	for _, id := range ids {
		l := t.open[id]
		fmt.Fprintf(&b, "\n%s created at:\n%s", l.kind, l.stack)
	}
	return errors.New(b.String())
}
