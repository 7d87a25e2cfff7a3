package raftstore

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-db/strata"
	"github.com/strata-db/strata/cluster/clusterpb"
)

// asyncAnswer is one call of WriteAsync's done.
type asyncAnswer struct {
	resp *clusterpb.WriteResponse
	err  error
}

// writeAsync calls s.WriteAsync and returns a channel that gets its answer;
// it fails the test if done is called twice.
func writeAsync(t *testing.T, s *Store, req *clusterpb.WriteRequest, timeout time.Duration) <-chan asyncAnswer {
	ch := make(chan asyncAnswer, 2)
	var calls atomic.Int32
	s.WriteAsync(req, timeout, func(resp *clusterpb.WriteResponse, err error) {
		if calls.Add(1) > 1 {
			t.Errorf("WriteAsync answered twice (now %v %v)", resp, err)
		}
		ch <- asyncAnswer{resp, err}
	})
	return ch
}

func putReq(rc *clusterpb.RequestContext, k, v string) *clusterpb.WriteRequest {
	return &clusterpb.WriteRequest{Context: rc, Mutations: []*clusterpb.Mutation{{Op: clusterpb.Mutation_PUT, Key: []byte(k), Value: []byte(v)}}}
}

func wait(t *testing.T, ch <-chan asyncAnswer, d time.Duration) asyncAnswer {
	t.Helper()
	select {
	case a := <-ch:
		return a
	case <-time.After(d):
		t.Fatalf("no answer within %v", d)
		return asyncAnswer{}
	}
}

// TestWriteAsync: WriteAsync answers once, as Write would, for a write that
// applies, a refused one and a condition that fails.
func TestWriteAsync(t *testing.T) {
	s := openSingle(t, Config{})
	a := wait(t, writeAsync(t, s, putReq(rctx(0), "k", "v1"), 10*time.Second), 10*time.Second)
	if a.err != nil || !a.resp.GetSucceeded() {
		t.Fatalf("put: %v %v", a.resp, a.err)
	}
	g, err := s.Get(context.Background(), &clusterpb.GetRequest{Context: rctx(0), Key: []byte("k")})
	if err != nil || string(g.GetValue()) != "v1" {
		t.Fatalf("get after the put: %v %v", g, err)
	}
	// A stale epoch: refused with a region error, not applied.
	stale := rctx(0)
	stale.Epoch = &clusterpb.RegionEpoch{ConfVer: 1, Version: 7}
	a = wait(t, writeAsync(t, s, putReq(stale, "k", "v2"), 10*time.Second), 10*time.Second)
	if a.err != nil || a.resp.GetRegionError().GetEpochNotMatch() == nil {
		t.Fatalf("stale epoch: %v %v", a.resp, a.err)
	}
	// A compare-and-swap whose condition fails.
	cas := putReq(rctx(0), "k", "v3")
	cas.Conditions = []*clusterpb.Condition{{Key: []byte("k"), Exists: true, Value: []byte("nope")}}
	a = wait(t, writeAsync(t, s, cas, 10*time.Second), 10*time.Second)
	if a.err != nil || a.resp.GetSucceeded() || string(a.resp.GetCurrentValue()) != "v1" {
		t.Fatalf("failed condition: %v %v", a.resp, a.err)
	}
}

// TestWriteAsyncUnknown: a leader cut off from its followers cannot commit;
// its waiting asynchronous write is answered ErrUnknownResult once its
// timeout has passed (within a few ticks), and the writes still waiting
// when the store closes are answered too (never left hanging); after
// Close a write is refused at once.
func TestWriteAsyncUnknown(t *testing.T) {
	n := &testNet{stores: map[uint64]*Store{}}
	var cut atomic.Bool
	n.block = func(*clusterpb.RaftMessage) bool { return cut.Load() }
	region := &clusterpb.Region{Id: 1, Peers: []*clusterpb.Peer{{Id: 1, NodeId: 1}, {Id: 2, NodeId: 2}, {Id: 3, NodeId: 3}}}
	for id := uint64(1); id <= 3; id++ {
		s, err := Open(Config{NodeID: id, Dir: "/s", DBOptions: &strata.Options{FS: strata.NewMemFS()}, Transport: testEndpoint{n},
			TickInterval: 5 * time.Millisecond, ElectionTicks: 1000, HibernateTicks: -1}) // no election while cut
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if err := s.Bootstrap(region); err != nil {
			t.Fatal(err)
		}
		n.mu.Lock()
		n.stores[id] = s
		n.mu.Unlock()
	}
	s1 := n.stores[1]
	if err := s1.Campaign(1); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; {
		a := wait(t, writeAsync(t, s1, putReq(rctx(0), "k", "v1"), 5*time.Second), 10*time.Second)
		if a.err == nil && a.resp.GetSucceeded() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no leader: %v %v", a.resp, a.err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cut.Store(true)
	start := time.Now()
	a := wait(t, writeAsync(t, s1, putReq(rctx(0), "k", "v2"), 50*time.Millisecond), 10*time.Second)
	if !errors.Is(a.err, ErrUnknownResult) || !errors.Is(a.err, context.DeadlineExceeded) {
		t.Fatalf("cut-off leader: %v %v, want ErrUnknownResult (deadline)", a.resp, a.err)
	}
	if took := time.Since(start); took < 50*time.Millisecond {
		t.Fatalf("answered after %v, before its timeout", took)
	}
	pending := writeAsync(t, s1, putReq(rctx(0), "k", "v3"), time.Minute)
	time.Sleep(20 * time.Millisecond) // proposed, waiting
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	a = wait(t, pending, 10*time.Second)
	if !errors.Is(a.err, ErrUnknownResult) && !errors.Is(a.err, ErrStoreClosed) {
		t.Fatalf("closed while waiting: %v %v, want ErrUnknownResult or ErrStoreClosed", a.resp, a.err)
	}
	a = wait(t, writeAsync(t, s1, putReq(rctx(0), "k", "v4"), time.Minute), time.Second)
	if !errors.Is(a.err, ErrStoreClosed) || errors.Is(a.err, ErrUnknownResult) {
		t.Fatalf("after Close: %v %v, want ErrStoreClosed (not proposed)", a.resp, a.err)
	}
}
