package server

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/strata-db/strata/cluster/client"
	"github.com/strata-db/strata/cluster/clusterpb"
)

// leaderOf returns the node and peer id leading region id among nodes (0, 0
// if none does).
func leaderOf(t *testing.T, nodes []*Node, id uint64) (node, peer uint64) {
	t.Helper()
	for _, nd := range nodes {
		if nd == nil {
			continue
		}
		st, err := nd.Store().Regions()
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range st {
			if s.Region.GetId() == id && s.IsLeader {
				return nd.cfg.NodeID, s.PeerID
			}
		}
	}
	return 0, 0
}

// moveLeader makes the replica of region id on node to lead it.
func moveLeader(t *testing.T, nodes []*Node, id, to uint64) {
	t.Helper()
	retry(t, fmt.Sprintf("region %d led by node %d", id, to), func() error {
		from, _ := leaderOf(t, nodes, id)
		if from == to {
			return nil
		}
		if from == 0 {
			return fmt.Errorf("region %d has no leader", id)
		}
		st, err := nodes[to-1].Store().Regions()
		if err != nil {
			return err
		}
		for _, s := range st {
			if s.Region.GetId() == id {
				if err := nodes[from-1].Store().TransferLeader(id, s.PeerID); err != nil {
					return err
				}
				return fmt.Errorf("transfer of region %d from node %d to node %d started", id, from, to)
			}
		}
		return fmt.Errorf("node %d has no replica of region %d", to, id)
	})
}

// TestRebuildAfterHibernatingLeaderDies kills the node leading a
// hibernating region, then moves the meta region's leadership (and so the
// scheduler) to another node while replicas are being rebuilt: the new
// scheduler counts the dead node up for DownAfter. The dead node's replicas
// must be rebuilt on the fourth node anyway (the sleeping region's
// followers are woken by the scheduler's request and elect a leader), and no
// region may ever lose its replica on a live initial node (a healthy
// "surplus" voter removed instead of the dead one).
func TestRebuildAfterHibernatingLeaderDies(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four nodes")
	}
	c := startClusterWith(t, 3, func(cfg *Config) {
		cfg.ScheduleInterval = 200 * time.Millisecond
		cfg.Schedule = pdTestConfig()
		cfg.Logger = testLogger(t)
	})
	cl := c.client()
	ctx := context.Background()
	for i := 0; i < 20; i++ {
		k := fmt.Sprintf("k%03d", i)
		retry(t, "put "+k, func() error { return cl.Put(ctx, []byte(k), []byte("v")) })
	}
	// The user region led by node 3, the meta region (the scheduler) by
	// node 1.
	const userRegion = 2
	moveLeader(t, c.nodes, userRegion, 3)
	moveLeader(t, c.nodes, metaRegionID, 1)
	retryFor(t, "the user region hibernating", 60*time.Second, func() error {
		for _, nd := range c.nodes {
			st, err := nd.Store().Regions()
			if err != nil {
				return err
			}
			for _, s := range st {
				if s.Region.GetId() == userRegion && !s.Hibernating {
					return fmt.Errorf("node %d's replica is awake", nd.cfg.NodeID)
				}
			}
		}
		if n, _ := leaderOf(t, c.nodes, userRegion); n != 3 {
			return fmt.Errorf("region %d led by node %d", userRegion, n)
		}
		return nil
	})
	// A fourth node joins; node 3 dies.
	addr4 := freeAddrs(t, 1)[0]
	n4, err := Start(Config{NodeID: 4, ClusterID: 7, Dir: t.TempDir(), Listen: addr4, Join: c.addrs,
		TickInterval: 50 * time.Millisecond, HeartbeatInterval: 100 * time.Millisecond,
		ScheduleInterval: 200 * time.Millisecond, Schedule: pdTestConfig(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer n4.Close()
	c.stop(2)
	live := []*Node{c.nodes[0], c.nodes[1], n4}
	moved := false
	retryFor(t, "node 3's replicas rebuilt on node 4", 120*time.Second, func() error {
		var missing []string
		learner := false
		for _, nd := range live {
			st, err := nd.Store().Regions()
			if err != nil {
				t.Fatalf("node %d: %v", nd.cfg.NodeID, err)
			}
			for _, s := range st {
				r := s.Region
				for _, want := range []uint64{1, 2} {
					if s.Initialized && !hasNode(r, want) {
						t.Fatalf("region %d lost its replica on live node %d: %v", r.GetId(), want, r)
					}
				}
				if nd == n4 {
					p := peerOn(r, 4)
					if p.GetRole() == clusterpb.PeerRole_LEARNER {
						learner = true
					}
					if p.GetRole() != clusterpb.PeerRole_VOTER || hasNode(r, 3) {
						missing = append(missing, fmt.Sprintf("region %d: %v", r.GetId(), r.GetPeers()))
					}
				}
			}
		}
		if learner && !moved {
			// A move is under way: the scheduler moves to node 2 and
			// starts afresh, counting node 3 up for DownAfter.
			moved = true
			if n, _ := leaderOf(t, c.nodes, metaRegionID); n == 1 {
				st, err := c.nodes[1].Store().Regions()
				if err != nil {
					t.Fatal(err)
				}
				for _, s := range st {
					if s.Region.GetId() == metaRegionID {
						if err := c.nodes[0].Store().TransferLeader(metaRegionID, s.PeerID); err != nil {
							t.Logf("moving the meta region's leader: %v", err)
						}
					}
				}
			}
		}
		st, err := n4.Store().Regions()
		if err != nil {
			return err
		}
		if len(st) < 2 || len(missing) > 0 {
			return fmt.Errorf("node 4 has %d regions; not done: %v", len(st), missing)
		}
		return nil
	})
	kvs, err := cl.Scan(ctx, []byte("k"), nil, client.ScanOptions{})
	if err != nil || len(kvs) != 20 {
		t.Fatalf("scan after the rebuild: %d pairs, %v", len(kvs), err)
	}
}

func hasNode(r *clusterpb.Region, node uint64) bool { return peerOn(r, node) != nil }

func peerOn(r *clusterpb.Region, node uint64) *clusterpb.Peer {
	for _, p := range r.GetPeers() {
		if p.GetNodeId() == node {
			return p
		}
	}
	return nil
}
