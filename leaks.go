package strata

import (
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
)

var errSnapshotClosed = errors.New("strata: snapshot is closed")

// leakTracker remembers open iterators and snapshots so Close can name the
// ones a program forgot. With Options.DebugLeaks it also keeps the stack
// that created each one.
type leakTracker struct {
	mu   sync.Mutex
	next uint64
	open map[uint64]leak
}

type leak struct {
	kind  string
	stack string
}

func (t *leakTracker) add(kind string, withStack bool) uint64 {
	var stack string
	if withStack {
		buf := make([]byte, 4096)
		stack = string(buf[:runtime.Stack(buf, false)])
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.open == nil {
		t.open = map[uint64]leak{}
	}
	t.next++
	t.open[t.next] = leak{kind: kind, stack: stack}
	return t.next
}

func (t *leakTracker) remove(id uint64) {
	t.mu.Lock()
	delete(t.open, id)
	t.mu.Unlock()
}

// check returns an error naming what is still open, or nil.
func (t *leakTracker) check() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.open) == 0 {
		return nil
	}
	counts := map[string]int{}
	var ids []uint64
	for id, l := range t.open {
		counts[l.kind]++
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	var parts []string
	for _, kind := range []string{"iterator", "snapshot"} {
		if n := counts[kind]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s(s)", n, kind))
		}
	}
	msg := fmt.Sprintf("strata: Close with %s still open", strings.Join(parts, " and "))
	var b strings.Builder
	b.WriteString(msg)
	for _, id := range ids {
		if l := t.open[id]; l.stack != "" {
			fmt.Fprintf(&b, "\n%s created at:\n%s", l.kind, l.stack)
		}
	}
	if b.Len() == len(msg) {
		b.WriteString(" (set Options.DebugLeaks to see where they were created)")
	}
	return errors.New(b.String())
}
