package sim

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/strata-db/strata/cluster/clusterpb"
	"github.com/strata-db/strata/cluster/raftstore"
)

// regionOn returns node's descriptor of region 1 (nil if it has none or is
// stopped).
func regionOn(c *Cluster, node uint64) *clusterpb.Region {
	s := c.Store(node)
	if s == nil {
		return nil
	}
	sts, err := s.Regions()
	if err != nil {
		return nil
	}
	for _, st := range sts {
		if st.Region.GetId() == 1 && st.Initialized {
			return st.Region
		}
	}
	return nil
}

// rolesText describes a region's peers as node:role, sorted.
func rolesText(r *clusterpb.Region) string {
	var out []string
	for _, p := range r.GetPeers() {
		out = append(out, fmt.Sprintf("%d:%s", p.GetNodeId(), p.GetRole()))
	}
	slices.Sort(out)
	return fmt.Sprint(out)
}

// votersAre reports whether r is not joint and its voters are on nodes.
func votersAre(r *clusterpb.Region, nodes ...uint64) bool {
	var got []uint64
	for _, p := range r.GetPeers() {
		switch p.GetRole() {
		case clusterpb.PeerRole_VOTER:
			got = append(got, p.GetNodeId())
		case clusterpb.PeerRole_LEARNER:
		default:
			return false // joint
		}
	}
	slices.Sort(got)
	return slices.Equal(got, nodes)
}

func addCaughtUpLearner(t *testing.T, c *Cluster, cl *Client, ctx context.Context, node uint64) *clusterpb.Peer {
	t.Helper()
	p := &clusterpb.Peer{Id: c.NewID(), NodeId: node}
	if _, err := cl.ChangePeer(ctx, []byte("a"), &clusterpb.ChangePeer{Type: clusterpb.ChangePeer_ADD_LEARNER, Peer: p}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, fmt.Sprintf("node %d's learner to catch up", node), func() bool {
		r := regionOn(c, node)
		return r != nil && len(r.GetPeers()) > 0
	})
	return p
}

// TestJointChangeUnderLoad replaces the leader's replica in one joint
// change (promote a caught-up learner on node 4 and remove the leader's
// peer) while clients run on a lossy network: the region never has four or
// two voters, the leader keeps leading through the joint configuration and
// hands over before it leaves it, and the history stays linearizable.
func TestJointChangeUnderLoad(t *testing.T) {
	c := newCluster(t, ClusterOptions{Nodes: 4, RegionNodes: 3, Faults: Faults{Drop: 0.05, Duplicate: 0.05, MaxDelay: 5 * time.Millisecond},
		Config: func(cfg *raftstore.Config) { fastConfig(cfg); cfg.LogGCThreshold = 50 }})
	seed := c.opts.Seed
	rec := newRecorder()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wg := workload(ctx, c, rec, 4, 4, seed, time.Second)
	cl := c.Client()
	octx := ctxT(t, 90*time.Second)
	putMany(t, cl, "fill", 200, 4)
	learner := addCaughtUpLearner(t, c, cl, octx, 4)
	leader := leaderOf(c, 1)
	if leader == 0 || leader == 4 {
		t.Fatalf("leader on node %d", leader)
	}
	var victim *clusterpb.Peer
	for _, p := range regionOn(c, leader).GetPeers() {
		if p.GetNodeId() == leader {
			victim = p
		}
	}
	r, err := cl.ChangePeers(octx, []byte("a"),
		&clusterpb.ChangePeer{Type: clusterpb.ChangePeer_ADD_VOTER, Peer: learner},
		&clusterpb.ChangePeer{Type: clusterpb.ChangePeer_REMOVE, Peer: victim})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("entered: %s (epoch %v)", rolesText(r), r.GetEpoch())
	if !isJointRegion(r) {
		t.Fatalf("a change of two voters did not go through a joint configuration: %s", rolesText(r))
	}
	var rest []uint64
	for n := uint64(1); n <= 4; n++ {
		if n != leader {
			rest = append(rest, n)
		}
	}
	waitFor(t, 30*time.Second, "the joint configuration to be left everywhere", func() bool {
		for _, n := range rest {
			if r := regionOn(c, n); r == nil || !votersAre(r, rest...) {
				return false
			}
		}
		return true
	})
	waitFor(t, 30*time.Second, fmt.Sprintf("node %d (the old leader) to drop its replica", leader), func() bool {
		return regionOn(c, leader) == nil
	})
	if err := cl.Put(octx, []byte("after"), []byte("joint")); err != nil {
		t.Fatal(err)
	}
	cancel()
	wg.Wait()
	c.Net.SetFaults(Faults{})
	finalReads(t, c, rec, 4)
	rec.check(t)
	// Membership changes and splits work again afterwards.
	if _, _, err := cl.Split(octx, []byte("m")); err != nil {
		t.Fatal(err)
	}
}

func isJointRegion(r *clusterpb.Region) bool {
	for _, p := range r.GetPeers() {
		if p.GetRole() != clusterpb.PeerRole_VOTER && p.GetRole() != clusterpb.PeerRole_LEARNER {
			return true
		}
	}
	return false
}

// TestJointRestart holds a region in a joint configuration (its incoming
// voters down, so the leave cannot commit), cuts the power of every node of
// the outgoing configuration and restarts them: they come back joint (the
// descriptor gives raft voters_outgoing and auto_leave), and once the
// incoming voters are back the configuration is left: nodes 1, 4, 5 vote,
// 2 and 3 drop their replicas. Clients run throughout; the history is
// checked.
func TestJointRestart(t *testing.T) {
	c := newCluster(t, ClusterOptions{Nodes: 5, RegionNodes: 3})
	seed := c.opts.Seed
	rec := newRecorder()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cl := c.Client()
	octx := ctxT(t, 120*time.Second)
	putMany(t, cl, "fill", 50, 4)
	wg := workload(ctx, c, rec, 3, 4, seed, 500*time.Millisecond)
	l4 := addCaughtUpLearner(t, c, cl, octx, 4)
	l5 := addCaughtUpLearner(t, c, cl, octx, 5)
	for _, n := range []uint64{4, 5} {
		if err := c.Stop(n); err != nil {
			t.Fatal(err)
		}
	}
	r := regionOn(c, 1)
	p2, p3 := peerOnNode(r, 2), peerOnNode(r, 3)
	r, err := cl.ChangePeers(octx, []byte("a"),
		&clusterpb.ChangePeer{Type: clusterpb.ChangePeer_ADD_VOTER, Peer: l4},
		&clusterpb.ChangePeer{Type: clusterpb.ChangePeer_ADD_VOTER, Peer: l5},
		&clusterpb.ChangePeer{Type: clusterpb.ChangePeer_REMOVE, Peer: p2},
		&clusterpb.ChangePeer{Type: clusterpb.ChangePeer_REMOVE, Peer: p3})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("entered: %s", rolesText(r))
	waitFor(t, 20*time.Second, "nodes 1-3 to apply the joint configuration", func() bool {
		for n := uint64(1); n <= 3; n++ {
			if r := regionOn(c, n); r == nil || !isJointRegion(r) {
				return false
			}
		}
		return true
	})
	for n := uint64(1); n <= 3; n++ {
		if err := c.Crash(n); err != nil {
			t.Fatal(err)
		}
	}
	for n := uint64(1); n <= 3; n++ {
		if err := c.Start(n); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(300 * time.Millisecond) // elections happen; nothing can leave the joint configuration
	for n := uint64(1); n <= 3; n++ {
		if r := regionOn(c, n); r == nil || !isJointRegion(r) {
			t.Fatalf("node %d after the restart: %s, want the joint configuration", n, rolesText(r))
		}
	}
	for _, n := range []uint64{4, 5} {
		if err := c.Start(n); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 30*time.Second, "the joint configuration to be left", func() bool {
		for _, n := range []uint64{1, 4, 5} {
			if r := regionOn(c, n); r == nil || !votersAre(r, 1, 4, 5) {
				return false
			}
		}
		return true
	})
	waitFor(t, 30*time.Second, "nodes 2 and 3 to drop their replicas", func() bool {
		return regionOn(c, 2) == nil && regionOn(c, 3) == nil
	})
	cancel()
	wg.Wait()
	finalReads(t, c, rec, 4)
	rec.check(t)
	for i := range 50 {
		k := fmt.Sprintf("fill%06d", i)
		if _, found, err := cl.Get(octx, []byte(k)); err != nil || !found {
			t.Fatalf("%s after the change: found %v, %v", k, found, err)
		}
	}
}

func peerOnNode(r *clusterpb.Region, node uint64) *clusterpb.Peer {
	for _, p := range r.GetPeers() {
		if p.GetNodeId() == node {
			return p
		}
	}
	return nil
}

// TestJointChangesUnderNemesis moves region 1's replicas around five nodes
// with joint changes (a learner on a node without a replica, caught up,
// then promoted while a random voter, possibly the leader, is removed, in
// one change) while the nemesis partitions, restarts and degrades the
// network and clients run; porcupine checks the history, and the region
// must end with three voters, not joint, on live nodes.
func TestJointChangesUnderNemesis(t *testing.T) {
	run := 4 * time.Second
	if !testing.Short() {
		run = 20 * time.Second
	}
	c := newCluster(t, ClusterOptions{Nodes: 5, RegionNodes: 3})
	seed := c.opts.Seed
	rng := rand.New(rand.NewPCG(seed, 11))
	rec := newRecorder()
	ctx, cancel := context.WithTimeout(context.Background(), run)
	defer cancel()
	wg := workload(ctx, c, rec, 4, 4, seed, time.Second)
	nem := nemesis(ctx, t, c, seed, 300*time.Millisecond)
	cl := c.Client()
	moves := 0
	var learnerSince time.Time
	for ctx.Err() == nil {
		cur := c.Regions()[0].Region
		if isJointRegion(cur) {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		var voters []*clusterpb.Peer
		var learner *clusterpb.Peer
		for _, p := range cur.GetPeers() {
			if p.GetRole() == clusterpb.PeerRole_LEARNER {
				learner = p
			} else {
				voters = append(voters, p)
			}
		}
		octx, ocancel := context.WithTimeout(ctx, 2*time.Second)
		var err error
		switch {
		case learner == nil:
			var free []uint64
			for n := uint64(1); n <= 5; n++ {
				if peerOnNode(cur, n) == nil {
					free = append(free, n)
				}
			}
			learner = &clusterpb.Peer{Id: c.NewID(), NodeId: free[rng.IntN(len(free))]}
			_, err = cl.ChangePeer(octx, []byte("a"), &clusterpb.ChangePeer{Type: clusterpb.ChangePeer_ADD_LEARNER, Peer: learner})
			t.Logf("add learner %d on node %d: %v", learner.GetId(), learner.GetNodeId(), err)
			learnerSince = time.Now()
		case peerOnNode(regionOn(c, learner.GetNodeId()), learner.GetNodeId()).GetId() == learner.GetId():
			// Caught up (initialized): promote it, remove a voter.
			victim := voters[rng.IntN(len(voters))]
			var r *clusterpb.Region
			r, err = cl.ChangePeers(octx, []byte("a"),
				&clusterpb.ChangePeer{Type: clusterpb.ChangePeer_ADD_VOTER, Peer: learner},
				&clusterpb.ChangePeer{Type: clusterpb.ChangePeer_REMOVE, Peer: victim})
			t.Logf("promote %d on node %d, remove %d on node %d: %s %v", learner.GetId(), learner.GetNodeId(), victim.GetId(), victim.GetNodeId(), rolesText(r), err)
			if err == nil {
				moves++
			}
		case time.Since(learnerSince) > time.Second:
			_, err = cl.ChangePeer(octx, []byte("a"), &clusterpb.ChangePeer{Type: clusterpb.ChangePeer_REMOVE, Peer: learner})
			t.Logf("remove learner %d on node %d, not caught up: %v", learner.GetId(), learner.GetNodeId(), err)
		default:
			time.Sleep(20 * time.Millisecond)
		}
		ocancel()
		if err != nil {
			time.Sleep(50 * time.Millisecond)
		}
	}
	<-nem
	wg.Wait()
	defer func() {
		if t.Failed() {
			for _, n := range c.Nodes() {
				if s := c.Store(n); s != nil {
					sts, _ := s.Regions()
					for _, st := range sts {
						t.Logf("node %d: region %d %s epoch %v leader %d term %d applied %d", n, st.Region.GetId(), rolesText(st.Region), st.Region.GetEpoch(), st.Leader, st.Term, st.Applied)
					}
				}
			}
		}
	}()
	waitFor(t, 60*time.Second, "the region to settle: three voters, not joint", func() bool {
		r := c.Regions()[0].Region
		voters := 0
		for _, p := range r.GetPeers() {
			if p.GetRole() == clusterpb.PeerRole_VOTER {
				voters++
			}
		}
		return !isJointRegion(r) && voters == 3
	})
	finalReads(t, c, rec, 4)
	rec.check(t)
	t.Logf("%d joint moves", moves)
}

// TestReAddedWhileCutOff cuts node 3 off, then changes the region so much
// that nobody its replica knows of is left (peers 1 and 2 removed and
// re-added on their nodes with new ids, 3 removed) and gives node 3 a new
// peer. Once healed, the old replica's messages reach no one, but the
// first message to the new peer tells node 3 its old replica is gone (a
// configuration holds one peer per node): the new peer replaces it and
// catches up.
func TestReAddedWhileCutOff(t *testing.T) {
	c := newCluster(t, ClusterOptions{Nodes: 5, RegionNodes: 3})
	cl := c.Client()
	ctx := ctxT(t, 60*time.Second)
	change := func(typ clusterpb.ChangePeer_Type, p *clusterpb.Peer) {
		t.Helper()
		if _, err := cl.ChangePeer(ctx, []byte("a"), &clusterpb.ChangePeer{Type: typ, Peer: p}); err != nil {
			t.Fatalf("%v %v: %v", typ, p, err)
		}
	}
	add := func(node uint64) *clusterpb.Peer {
		p := &clusterpb.Peer{Id: c.NewID(), NodeId: node}
		change(clusterpb.ChangePeer_ADD_LEARNER, p)
		change(clusterpb.ChangePeer_ADD_VOTER, p)
		return p
	}
	if err := cl.Put(ctx, []byte("a"), []byte("1")); err != nil {
		t.Fatal(err)
	}
	// Node 3 must not lead when it is cut off: the changes below would
	// wait on it (their outcome unknown) instead of going to nodes 1-2.
	if leaderOf(c, 1) == 3 {
		if err := c.Store(3).TransferLeader(1, 1); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 20*time.Second, "a leader other than node 3", func() bool {
		l := leaderOf(c, 1)
		return l != 0 && l != 3
	})
	c.Net.Partition([]uint64{3}, []uint64{1, 2, 4, 5})
	add(4)
	add(5)
	for n := uint64(1); n <= 3; n++ {
		change(clusterpb.ChangePeer_REMOVE, &clusterpb.Peer{Id: n, NodeId: n})
	}
	add(1)
	add(2)
	fresh := &clusterpb.Peer{Id: c.NewID(), NodeId: 3}
	change(clusterpb.ChangePeer_ADD_LEARNER, fresh)
	if err := cl.Put(ctx, []byte("a"), []byte("2")); err != nil {
		t.Fatal(err)
	}
	if r := regionOn(c, 3); peerOnNode(r, 3).GetId() != 3 {
		t.Fatalf("node 3 changed while cut off: %s", rolesText(r))
	}
	c.Net.Heal()
	waitFor(t, 20*time.Second, "the new peer to replace the old replica", func() bool {
		return peerOnNode(regionOn(c, 3), 3).GetId() == fresh.GetId()
	})
	s := c.Store(3)
	waitFor(t, 20*time.Second, "the new peer to catch up", func() bool {
		g, err := s.Get(ctx, &clusterpb.GetRequest{Context: &clusterpb.RequestContext{RegionId: 1, Epoch: regionOn(c, 3).GetEpoch(), ReadMode: clusterpb.ReadMode_STALE}, Key: []byte("a")})
		return err == nil && string(g.GetValue()) == "2"
	})
}
