package sim

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/strata-db/strata/cluster/clusterpb"
	"github.com/strata-db/strata/cluster/raftstore"
)

func leaseConfig(cfg *raftstore.Config) {
	fastConfig(cfg)
	cfg.LeaseReads = true
}

// TestLeaseReadsUnderNemesis is TestLinearizableUnderNemesis with every
// read a lease read (Config.LeaseReads, ReadMode LEASE): partitions,
// restarts (clean and power cuts) and a lossy network, checked by
// porcupine.
func TestLeaseReadsUnderNemesis(t *testing.T) {
	run := 3 * time.Second
	if !testing.Short() {
		run = 20 * time.Second
	}
	historyUnderNemesis(t, newCluster(t, ClusterOptions{Nodes: 3, Config: leaseConfig, ReadMode: clusterpb.ReadMode_LEASE}), run)
}

// TestLeaseOldLeaderStops cuts a leader holding a lease off from its
// followers while it keeps being asked for lease reads: it may serve them
// for a while (its lease), but the last one it serves must return before
// the other side's new leader acknowledges a write of a new value, or a
// read could miss an acknowledged write.
func TestLeaseOldLeaderStops(t *testing.T) {
	c := newCluster(t, ClusterOptions{Nodes: 3, Config: func(cfg *raftstore.Config) { leaseConfig(cfg); cfg.HibernateTicks = -1 }})
	oldLeaderStops(t, c, nil, func(old uint64, rest []uint64) { c.Net.Partition([]uint64{old}, rest) })
}

// TestLeaseAfterRestart: the leader's lease rests on one follower's
// acknowledgement (the other follower, cut off from the leader, has been
// campaigning in vain: the acknowledging one refuses while it hears from
// its leader). The leader is cut off and the acknowledging follower
// restarted (power cut): it forgot whom it heard from, and would vote for
// the other at once, electing a leader inside the old one's lease, unless a
// restarted store ignores vote requests for an election timeout.
func TestLeaseAfterRestart(t *testing.T) {
	c := newCluster(t, ClusterOptions{Nodes: 3, Config: func(cfg *raftstore.Config) {
		leaseConfig(cfg)
		cfg.TickInterval = 20 * time.Millisecond // a lease of 160ms
		cfg.HibernateTicks = -1
	}})
	oldLeaderStops(t, c, func(old uint64, rest []uint64) {
		c.Net.Partition([]uint64{old, rest[0]}, []uint64{rest[1]})
		time.Sleep(time.Second) // rest[1] lost its leader
	}, func(old uint64, rest []uint64) {
		c.Net.Partition([]uint64{old}, rest)
		if err := c.Crash(rest[0]); err != nil {
			t.Fatal(err)
		}
		if err := c.Start(rest[0]); err != nil {
			t.Fatal(err)
		}
	})
}

// oldLeaderStops writes v1, runs before (if set), takes a lease on the
// leader with a lease read, runs cut (which must cut the leader off), then
// has the leader asked for lease reads while the other nodes elect a leader
// and write v2: the old leader must serve its last read of v1 before v2 is
// acknowledged.
func oldLeaderStops(t *testing.T, c *Cluster, before, cut func(old uint64, rest []uint64)) {
	ctx := ctxT(t, 60*time.Second)
	cl := c.Client()
	if err := cl.Put(ctx, []byte("k"), []byte("v1")); err != nil {
		t.Fatal(err)
	}
	old := leaderOf(c, 1)
	var rest []uint64
	for _, n := range c.Nodes() {
		if n != old {
			rest = append(rest, n)
		}
	}
	if before != nil {
		before(old, rest)
	}
	s := c.Store(old)
	rc := func() *clusterpb.RequestContext {
		return &clusterpb.RequestContext{RegionId: 1, Epoch: &clusterpb.RegionEpoch{ConfVer: 1, Version: 1}, ReadMode: clusterpb.ReadMode_LEASE}
	}
	get := func(d time.Duration) (string, bool) {
		gctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		g, err := s.Get(gctx, &clusterpb.GetRequest{Context: rc(), Key: []byte("k")})
		if err != nil || g.GetRegionError() != nil {
			return "", false
		}
		return string(g.GetValue()), true
	}
	// The first read finds no lease, confirms by ReadIndex and takes one.
	if v, ok := get(5 * time.Second); !ok || v != "v1" {
		t.Fatalf("read before the cut: %q %v", v, ok)
	}
	cutAt := time.Now()
	cut(old, rest)
	var (
		mu         sync.Mutex
		lastServed time.Time
		served     int
	)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			v, ok := get(20 * time.Millisecond)
			now := time.Now()
			if ok {
				if v != "v1" {
					t.Errorf("the old leader read %q", v)
				}
				mu.Lock()
				lastServed, served = now, served+1
				mu.Unlock()
			}
		}
	}()
	// The other side elects a leader and writes v2.
	var acked time.Time
	for acked.IsZero() {
		for _, n := range rest {
			st := c.Store(n)
			if st == nil {
				continue
			}
			wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			resp, err := st.Write(wctx, &clusterpb.WriteRequest{Context: &clusterpb.RequestContext{RegionId: 1, Epoch: &clusterpb.RegionEpoch{ConfVer: 1, Version: 1}},
				Mutations: []*clusterpb.Mutation{{Op: clusterpb.Mutation_PUT, Key: []byte("k"), Value: []byte("v2")}}})
			cancel()
			if err == nil && resp.GetSucceeded() {
				acked = time.Now()
				break
			}
		}
		if ctx.Err() != nil {
			t.Fatal("no new leader on the majority side")
		}
	}
	time.Sleep(100 * time.Millisecond) // the old leader is still asked
	close(stop)
	<-done
	mu.Lock()
	defer mu.Unlock()
	t.Logf("old leader served %d lease reads for %v after the cut; the new leader acknowledged v2 %v after it",
		served, lastServed.Sub(cutAt), acked.Sub(cutAt))
	if served == 0 {
		t.Error("the old leader served no lease read after the cut: was there a lease?")
	}
	if !lastServed.Before(acked) {
		t.Fatalf("the old leader served a read of v1 %v after v2 was acknowledged", lastServed.Sub(acked))
	}
}

// BenchmarkReadModes compares linearizable gets (a ReadIndex round to a
// quorum each, batched by raft) with lease gets (none while the lease
// holds) on one three-node cluster with lease reads on, the default 100ms
// tick. Run with -count N: the modes alternate within each count.
func BenchmarkReadModes(b *testing.B) {
	for _, mode := range []clusterpb.ReadMode{clusterpb.ReadMode_LINEARIZABLE, clusterpb.ReadMode_LEASE} {
		for _, clients := range []int{1, 16} {
			b.Run(fmt.Sprintf("mode=%s/clients=%d", mode, clients), func(b *testing.B) {
				c, err := NewCluster(ClusterOptions{Seed: 1, ReadMode: mode, Config: func(cfg *raftstore.Config) { cfg.LeaseReads = true }})
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				if err := c.Client().Put(ctx, []byte("warm"), []byte("up")); err != nil {
					b.Fatal(err)
				}
				if _, _, err := c.Client().Get(ctx, []byte("warm")); err != nil {
					b.Fatal(err)
				}
				benchGets(b, c, clients)
			})
		}
	}
}
