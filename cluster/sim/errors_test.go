package sim

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/cluster/clusterpb"
	"github.com/strata-db/strata/cluster/raftstore"
)

// TestRegionErrors sends requests straight to stores and checks each
// RegionError a replica answers with.
func TestRegionErrors(t *testing.T) {
	c := newCluster(t, ClusterOptions{Config: func(cfg *raftstore.Config) {
		fastConfig(cfg)
		cfg.ElectionTicks = 50 // the leader stays leader while isolated below
		cfg.MaxPendingPerRegion = 1
	}})
	cl := c.Client()
	ctx := ctxT(t, 30*time.Second)
	if err := cl.Put(ctx, []byte("a"), []byte("1")); err != nil {
		t.Fatal(err)
	}
	left, right, err := cl.Split(ctx, []byte("m"))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "a leader of both regions", func() bool { return leaderOf(c, left.GetId()) != 0 && leaderOf(c, right.GetId()) != 0 })
	leader := leaderOf(c, left.GetId())
	follower := leader%3 + 1
	put := func(key []byte) []*clusterpb.Mutation {
		return []*clusterpb.Mutation{{Op: clusterpb.Mutation_PUT, Key: key, Value: []byte("v")}}
	}
	rc := func(r *clusterpb.Region) *clusterpb.RequestContext {
		return &clusterpb.RequestContext{RegionId: r.GetId(), Epoch: r.GetEpoch()}
	}
	oldEpoch := &clusterpb.RegionEpoch{ConfVer: 1, Version: 1}
	for _, tc := range []struct {
		name  string
		node  uint64
		req   *clusterpb.WriteRequest
		check func(*clusterpb.RegionError) bool
	}{
		{"follower", follower, &clusterpb.WriteRequest{Context: rc(left), Mutations: put([]byte("b"))},
			func(e *clusterpb.RegionError) bool { return e.GetNotLeader().GetLeader().GetNodeId() == leader }},
		{"stale epoch", leader, &clusterpb.WriteRequest{Context: &clusterpb.RequestContext{RegionId: left.GetId(), Epoch: oldEpoch}, Mutations: put([]byte("b"))},
			func(e *clusterpb.RegionError) bool {
				rs := e.GetEpochNotMatch().GetRegions()
				return len(rs) == 1 && bytes.Equal(rs[0].GetEndKey(), []byte("m"))
			}},
		{"key outside", leader, &clusterpb.WriteRequest{Context: rc(left), Mutations: put([]byte("x"))},
			func(e *clusterpb.RegionError) bool { return string(e.GetKeyNotInRegion().GetKey()) == "x" }},
		{"condition outside", leader, &clusterpb.WriteRequest{Context: rc(left), Conditions: []*clusterpb.Condition{{Key: []byte("z")}}, Mutations: put([]byte("b"))},
			func(e *clusterpb.RegionError) bool { return e.GetKeyNotInRegion() != nil }},
		{"range beyond the region", leader, &clusterpb.WriteRequest{Context: rc(left), Mutations: []*clusterpb.Mutation{{Op: clusterpb.Mutation_DELETE_RANGE, Key: []byte("a"), EndKey: []byte("n")}}},
			func(e *clusterpb.RegionError) bool { return e.GetKeyNotInRegion() != nil }},
		{"unknown region", leader, &clusterpb.WriteRequest{Context: &clusterpb.RequestContext{RegionId: 999}, Mutations: put([]byte("b"))},
			func(e *clusterpb.RegionError) bool { return e.GetRegionNotFound() }},
		{"huge key", leader, &clusterpb.WriteRequest{Context: rc(left), Mutations: put(append([]byte("b"), make([]byte, 1<<17)...))},
			func(e *clusterpb.RegionError) bool { return strings.Contains(e.GetMessage(), "over the limit") }},
	} {
		resp, err := c.Store(tc.node).Write(ctx, tc.req)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if e := resp.GetRegionError(); e == nil || !tc.check(e) {
			t.Errorf("%s: region error %v", tc.name, e)
		}
	}
	get, err := c.Store(follower).Get(ctx, &clusterpb.GetRequest{Context: rc(left), Key: []byte("a")})
	if err != nil || get.GetRegionError().GetNotLeader() == nil {
		t.Errorf("linearizable get on a follower: %v %v", get, err)
	}
	// A follower applies the split when it learns the commit index (the
	// next append or heartbeat: commit notices to caught-up followers are
	// not sent); until then a stale read with the new epoch is refused.
	waitFor(t, 10*time.Second, "the follower to apply the split", func() bool {
		sts, err := c.Store(follower).Regions()
		if err != nil {
			return false
		}
		for _, st := range sts {
			if st.Region.GetId() == left.GetId() && st.Region.GetEpoch().GetVersion() == left.GetEpoch().GetVersion() {
				return true
			}
		}
		return false
	})
	stale, err := c.Store(follower).Get(ctx, &clusterpb.GetRequest{Context: &clusterpb.RequestContext{RegionId: left.GetId(), Epoch: left.GetEpoch(), ReadMode: clusterpb.ReadMode_STALE}, Key: []byte("a")})
	if err != nil || stale.GetRegionError() != nil {
		t.Errorf("stale get on a follower: %v %v", stale, err)
	}

	// Server busy: with the leader cut off, one write waits (the limit is
	// one per region), the next is refused.
	var others []uint64
	for _, n := range c.Nodes() {
		if n != leader {
			others = append(others, n)
		}
	}
	c.Net.Partition([]uint64{leader}, others)
	first := make(chan error, 1)
	go func() {
		wctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := c.Store(leader).Write(wctx, &clusterpb.WriteRequest{Context: rc(left), Mutations: put([]byte("c"))})
		first <- err
	}()
	time.Sleep(20 * time.Millisecond)
	waitFor(t, 5*time.Second, "a refusal", func() bool {
		wctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		resp, err := c.Store(leader).Write(wctx, &clusterpb.WriteRequest{Context: rc(left), Mutations: put([]byte("d"))})
		return err == nil && resp.GetRegionError().GetServerBusy()
	})
	if err := <-first; err == nil {
		t.Error("a write to an isolated leader succeeded")
	}
	c.Net.Heal()
}
