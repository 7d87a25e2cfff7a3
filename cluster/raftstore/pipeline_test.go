package raftstore

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/strata-db/strata"
	"github.com/strata-db/strata/cluster/clusterpb"
)

// checkingTransport delivers messages between stores of one process and
// checks, at the moment a store sends, what its database holds: an append
// acknowledgement (MsgAppResp) or a vote must never leave before the state
// it promises is written; a leader's appends may (counted in early).
type checkingTransport struct {
	t      *testing.T
	mu     sync.Mutex
	stores map[uint64]*Store
	early  int // appends sent before the sender had written their last entry
	acks   int // acknowledgements checked
}

func (c *checkingTransport) store(id uint64) *Store {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stores[id]
}

// sender is the transport one store sends with.
type sender struct {
	c    *checkingTransport
	node uint64
}

func (s sender) Send(msgs []*clusterpb.RaftMessage) {
	c := s.c
	from := c.store(s.node)
	for _, rm := range msgs {
		m := rm.GetMessage()
		if from != nil && m != nil {
			switch m.GetType() {
			case pb.MessageType_MsgApp:
				if n := len(m.GetEntries()); n > 0 {
					last := m.GetEntries()[n-1].GetIndex()
					if _, err := from.db.Get(raftLogKey(rm.GetRegionId(), last)); err != nil {
						c.mu.Lock()
						c.early++
						c.mu.Unlock()
					}
				}
			case pb.MessageType_MsgAppResp:
				if !m.GetReject() && m.GetIndex() > initLogIndex {
					// Everything acknowledged up to m.Index is on disk (or
					// truncated after being applied, which the tests here
					// do not reach).
					if _, err := from.db.Get(raftLogKey(rm.GetRegionId(), m.GetIndex())); err != nil {
						c.t.Errorf("node %d acknowledged index %d of region %d before writing it (%v)", s.node, m.GetIndex(), rm.GetRegionId(), err)
					}
					c.mu.Lock()
					c.acks++
					c.mu.Unlock()
				}
			case pb.MessageType_MsgVoteResp:
				if !m.GetReject() {
					hs := &pb.HardState{}
					if _, err := getProto(from.db, hardStateKey(rm.GetRegionId()), hs); err != nil || hs.GetVote() != m.GetTo() || hs.GetTerm() != m.GetTerm() {
						c.t.Errorf("node %d granted a vote to %d in term %d before writing it (hard state %v, %v)", s.node, m.GetTo(), m.GetTerm(), hs, err)
					}
				}
			}
		}
		if to := c.store(rm.GetToPeer().GetNodeId()); to != nil {
			_ = to.Step(rm)
		}
	}
}

// openThree opens three in-memory stores joined by a checkingTransport,
// with region 1 on all three, and has node 1 campaign. The stores close
// when the test ends.
func openThree(t *testing.T) (*checkingTransport, []*Store, *clusterpb.Region) {
	t.Helper()
	c := &checkingTransport{t: t, stores: map[uint64]*Store{}}
	region := &clusterpb.Region{Id: 1, Epoch: &clusterpb.RegionEpoch{ConfVer: 1, Version: 1},
		Peers: []*clusterpb.Peer{{Id: 11, NodeId: 1}, {Id: 12, NodeId: 2}, {Id: 13, NodeId: 3}}}
	var stores []*Store
	for id := uint64(1); id <= 3; id++ {
		s, err := Open(Config{NodeID: id, Dir: "/s", DBOptions: &strata.Options{FS: strata.NewMemFS()},
			Transport: sender{c, id}, TickInterval: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if err := s.Bootstrap(region); err != nil {
			t.Fatal(err)
		}
		stores = append(stores, s)
	}
	c.mu.Lock()
	for i, s := range stores {
		c.stores[uint64(i+1)] = s
	}
	c.mu.Unlock()
	if err := stores[0].Campaign(1); err != nil {
		t.Fatal(err)
	}
	return c, stores, region
}

// TestLeaderSendsBeforeItsWrite: a leader hands its appends to the
// transport before its own synced write of the same entries (so the
// followers' writes overlap its own), while every acknowledgement and vote
// leaves only after what it promises is written; writes through the
// pipeline all succeed and read back, and every replica ends up applying
// everything (without raft's commit notices, from heartbeats).
func TestLeaderSendsBeforeItsWrite(t *testing.T) {
	c, stores, region := openThree(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	const writers, each = 8, 50
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				key := fmt.Appendf(nil, "k%d-%d", w, i)
				for try := 0; ; try++ {
					// Whichever store leads (an election may move it).
					resp, err := stores[try%len(stores)].Write(ctx, &clusterpb.WriteRequest{Context: &clusterpb.RequestContext{RegionId: 1, Epoch: region.GetEpoch()},
						Mutations: []*clusterpb.Mutation{{Op: clusterpb.Mutation_PUT, Key: key, Value: key}}})
					if err != nil {
						errs <- err
						return
					}
					if re := resp.GetRegionError(); re != nil {
						if re.GetNotLeader() != nil || re.GetServerBusy() || re.GetStaleCommand() {
							time.Sleep(5 * time.Millisecond) // not the leader, or an election is going on
							continue
						}
						errs <- fmt.Errorf("write %s: %v", key, re)
						return
					}
					break
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for w := range writers {
		for i := 0; i < each; i++ {
			key := fmt.Appendf(nil, "k%d-%d", w, i)
			for try := 0; ; try++ {
				resp, err := stores[try%len(stores)].Get(ctx, &clusterpb.GetRequest{Context: &clusterpb.RequestContext{RegionId: 1, Epoch: region.GetEpoch()}, Key: key})
				if err == nil && resp.GetRegionError().GetNotLeader() != nil {
					time.Sleep(5 * time.Millisecond)
					continue
				}
				if err != nil || resp.GetRegionError() != nil || string(resp.GetValue()) != string(key) {
					t.Fatalf("get %s: %v %v %q", key, err, resp.GetRegionError(), resp.GetValue())
				}
				break
			}
		}
	}
	// Without commit notices (dropCommitNotices), the followers learn the
	// last commit index from heartbeats: every replica applies everything.
	for deadline := time.Now().Add(20 * time.Second); ; {
		var applied []uint64
		for _, s := range stores {
			st, err := s.Regions()
			if err != nil || len(st) != 1 {
				t.Fatalf("regions: %v %v", st, err)
			}
			applied = append(applied, st[0].Applied)
		}
		if applied[0] == applied[1] && applied[1] == applied[2] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replicas' applied indexes stay apart: %v", applied)
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t.Logf("%d appends sent before the leader's write, %d acknowledgements checked", c.early, c.acks)
	if c.early == 0 {
		t.Error("no append left before the leader's own write")
	}
	if c.acks == 0 {
		t.Error("no acknowledgement was checked")
	}
}
