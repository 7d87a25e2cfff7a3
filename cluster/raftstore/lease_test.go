package raftstore

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/strata-db/strata"
	"github.com/strata-db/strata/cluster/clusterpb"
)

// testNet connects stores in one process; block, if set, drops messages.
type testNet struct {
	mu     sync.Mutex
	stores map[uint64]*Store
	block  func(*clusterpb.RaftMessage) bool
}

type testEndpoint struct{ n *testNet }

func (e testEndpoint) Send(msgs []*clusterpb.RaftMessage) {
	e.n.mu.Lock()
	defer e.n.mu.Unlock()
	for _, m := range msgs {
		if e.n.block != nil && e.n.block(m) {
			continue
		}
		if s := e.n.stores[m.GetToPeer().GetNodeId()]; s != nil {
			_ = s.Step(proto.Clone(m).(*clusterpb.RaftMessage))
		}
	}
}

// TestLeaseEndsWithTransfer: a leader holding a lease starts a leadership
// transfer and is cut off as soon as its MsgTimeoutNow leaves. The target
// campaigns past the followers' leases (raft's forced vote), wins and
// acknowledges a new value; the old leader, which never hears of it, must
// not serve the old value under its lease. It fails if the lease survives
// the start of the transfer (TransferLeader ends it, and a lease read
// refuses while raft has a transfer under way: it fails without both).
func TestLeaseEndsWithTransfer(t *testing.T) {
	n := &testNet{stores: map[uint64]*Store{}}
	var cut atomic.Bool
	region := &clusterpb.Region{Id: 1, Peers: []*clusterpb.Peer{{Id: 1, NodeId: 1}, {Id: 2, NodeId: 2}, {Id: 3, NodeId: 3}}}
	for id := uint64(1); id <= 3; id++ {
		s, err := Open(Config{NodeID: id, Dir: "/s", DBOptions: &strata.Options{FS: strata.NewMemFS()}, Transport: testEndpoint{n},
			TickInterval: 50 * time.Millisecond, LeaseReads: true, HibernateTicks: -1}) // a lease of 400ms
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if err := s.Bootstrap(region); err != nil {
			t.Fatal(err)
		}
		n.stores[id] = s
	}
	n.mu.Lock()
	n.block = func(m *clusterpb.RaftMessage) bool {
		if m.GetMessage().GetType() == pb.MessageType_MsgTimeoutNow {
			defer cut.Store(true)
		}
		return cut.Load() && (m.GetFromPeer().GetNodeId() == 1 || m.GetToPeer().GetNodeId() == 1)
	}
	n.mu.Unlock()
	s1, s2 := n.stores[1], n.stores[2]
	if err := s1.Campaign(1); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	write := func(s *Store, v string) bool {
		resp, err := s.Write(ctx, &clusterpb.WriteRequest{Context: rctx(0),
			Mutations: []*clusterpb.Mutation{{Op: clusterpb.Mutation_PUT, Key: []byte("k"), Value: []byte(v)}}})
		return err == nil && resp.GetSucceeded()
	}
	for !write(s1, "v1") {
		if ctx.Err() != nil {
			t.Fatal("no leader")
		}
		time.Sleep(10 * time.Millisecond)
	}
	get := func(s *Store, d time.Duration) (string, bool) {
		gctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		g, err := s.Get(gctx, &clusterpb.GetRequest{Context: rctx(clusterpb.ReadMode_LEASE), Key: []byte("k")})
		if err != nil || g.GetRegionError() != nil {
			return "", false
		}
		return string(g.GetValue()), true
	}
	if v, ok := get(s1, 5*time.Second); !ok || v != "v1" { // takes a lease
		t.Fatalf("lease read before the transfer: %q %v", v, ok)
	}
	if err := s1.TransferLeader(1, 2); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for !write(s2, "v2") {
		if ctx.Err() != nil {
			t.Fatal("the transfer target never wrote")
		}
		time.Sleep(time.Millisecond)
	}
	took := time.Since(start)
	if v, ok := get(s1, 50*time.Millisecond); ok {
		t.Fatalf("the old leader served %q %v after the transfer started (v2 acknowledged %v after it)", v, time.Since(start), took)
	}
	if took > 300*time.Millisecond {
		t.Logf("the new leader took %v to write: the old lease may have ended anyway, the test proves little", took)
	}
}
