package sim

import (
	"context"
	"testing"
	"time"

	"github.com/strata-db/strata/cluster/clusterpb"
	"github.com/strata-db/strata/cluster/raftstore"
)

// TestMembershipUnderLoad moves a region from nodes 1-3 to nodes 2-4 while
// clients run: node 4 joins as a learner (caught up by a snapshot, the log
// being truncated), is promoted, and node 1's replica is removed; the
// history is checked and node 1 is left with a tombstone.
func TestMembershipUnderLoad(t *testing.T) {
	c := newCluster(t, ClusterOptions{Nodes: 4, RegionNodes: 3, Config: func(cfg *raftstore.Config) {
		fastConfig(cfg)
		cfg.LogGCThreshold = 50
	}})
	seed := c.opts.Seed
	rec := newRecorder()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wg := workload(ctx, c, rec, 4, 4, seed, time.Second)
	cl := c.Client()
	octx := ctxT(t, 60*time.Second)
	putMany(t, cl, "fill", 300, 4) // past the log truncation threshold
	newPeer := &clusterpb.Peer{Id: c.NewID(), NodeId: 4}
	r, err := cl.ChangePeer(octx, []byte("a"), &clusterpb.ChangePeer{Type: clusterpb.ChangePeer_ADD_LEARNER, Peer: newPeer})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("learner added: %v", r.GetPeers())
	waitFor(t, 30*time.Second, "node 4 to catch up", func() bool {
		sts, err := c.Store(4).Regions()
		return err == nil && len(sts) == 1 && sts[0].Initialized && c.Store(4).Stats().SnapshotsApplied > 0
	})
	if _, err := cl.ChangePeer(octx, []byte("a"), &clusterpb.ChangePeer{Type: clusterpb.ChangePeer_ADD_VOTER, Peer: newPeer}); err != nil {
		t.Fatal(err)
	}
	r, err = cl.ChangePeer(octx, []byte("a"), &clusterpb.ChangePeer{Type: clusterpb.ChangePeer_REMOVE, Peer: &clusterpb.Peer{Id: 1, NodeId: 1}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("after the move: %v (epoch %v)", r.GetPeers(), r.GetEpoch())
	time.Sleep(time.Second)
	cancel()
	wg.Wait()
	finalReads(t, c, rec, 4)
	rec.check(t)
	if got := c.Store(4).Stats().SnapshotsApplied; got == 0 {
		t.Error("node 4 joined without a snapshot")
	}
	waitFor(t, 10*time.Second, "node 1 to drop its replica", func() bool {
		sts, err := c.Store(1).Regions()
		return err == nil && len(sts) == 0
	})
	// The moved region survives node 1 being gone for good.
	if err := c.Stop(1); err != nil {
		t.Fatal(err)
	}
	if err := cl.Put(octx, []byte("after"), []byte("move")); err != nil {
		t.Fatal(err)
	}
}

// TestRemovedReplicaIsTold removes a follower while it is cut off, so it
// never learns its removal committed; once the network heals, the first
// message it sends is answered with a tombstone and it deletes its replica.
func TestRemovedReplicaIsTold(t *testing.T) {
	c := newCluster(t, ClusterOptions{Nodes: 4, RegionNodes: 3})
	cl := c.Client()
	ctx := ctxT(t, 60*time.Second)
	p4 := &clusterpb.Peer{Id: c.NewID(), NodeId: 4}
	for _, typ := range []clusterpb.ChangePeer_Type{clusterpb.ChangePeer_ADD_LEARNER, clusterpb.ChangePeer_ADD_VOTER} {
		if _, err := cl.ChangePeer(ctx, []byte("a"), &clusterpb.ChangePeer{Type: typ, Peer: p4}); err != nil {
			t.Fatal(err)
		}
	}
	if err := cl.Put(ctx, []byte("a"), []byte("1")); err != nil {
		t.Fatal(err)
	}
	leader := leaderOf(c, 1)
	victim := uint64(1)
	for victim == leader || victim == 4 {
		victim++
	}
	var rest []uint64
	for _, n := range c.Nodes() {
		if n != victim {
			rest = append(rest, n)
		}
	}
	c.Net.Partition([]uint64{victim}, rest)
	if _, err := cl.ChangePeer(ctx, []byte("a"), &clusterpb.ChangePeer{Type: clusterpb.ChangePeer_REMOVE, Peer: &clusterpb.Peer{Id: victim, NodeId: victim}}); err != nil {
		t.Fatal(err)
	}
	if sts, err := c.Store(victim).Regions(); err != nil || len(sts) != 1 {
		t.Fatalf("node %d lost its replica while cut off: %v %v", victim, sts, err)
	}
	c.Net.Heal()
	waitFor(t, 20*time.Second, "the removed replica to be told and drop itself", func() bool {
		sts, err := c.Store(victim).Regions()
		return err == nil && len(sts) == 0
	})
	if v, found, err := cl.Get(ctx, []byte("a")); err != nil || !found || string(v) != "1" {
		t.Fatalf("get after the removal = %q %v %v", v, found, err)
	}
}
