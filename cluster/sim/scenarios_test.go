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

// putMany writes n keys prefix%06d (values "value-%d") with writers
// clients, failing the test on any error.
func putMany(t *testing.T, cl *Client, prefix string, n, writers int) {
	t.Helper()
	putKeys(t, cl, prefix, n, writers, 10*time.Second, func(i int) []byte { return fmt.Appendf(nil, "value-%d", i) })
}

// putKeys writes n keys prefix%06d, key i with val(i), from writers
// goroutines, each put within timeout, failing the test on any error.
func putKeys(t *testing.T, cl *Client, prefix string, n, writers int, timeout time.Duration, val func(i int) []byte) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += writers {
				ctx, cancel := context.WithTimeout(context.Background(), timeout)
				err := cl.Put(ctx, fmt.Appendf(nil, "%s%06d", prefix, i), val(i))
				cancel()
				if err != nil {
					errs <- fmt.Errorf("put %d: %w", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func leaderOf(c *Cluster, regionID uint64) uint64 {
	for _, r := range c.Regions() {
		if r.Region.GetId() == regionID {
			return r.Leader
		}
	}
	return 0
}

// TestLeaderKilled stops the leader of a hibernating region and measures
// how long until a write succeeds again (a few election timeouts: a request
// wakes the followers, which elect a leader).
func TestLeaderKilled(t *testing.T) {
	c := newCluster(t, ClusterOptions{})
	cl := c.Client()
	ctx := ctxT(t, 30*time.Second)
	if err := cl.Put(ctx, []byte("a"), []byte("1")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the region to hibernate on every node", func() bool {
		for _, n := range c.Nodes() {
			sts, err := c.Store(n).Regions()
			if err != nil || len(sts) != 1 || !sts[0].Hibernating {
				return false
			}
		}
		return true
	})
	leader := leaderOf(c, 1)
	if leader == 0 {
		t.Fatal("no leader")
	}
	if err := c.Stop(leader); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := cl.Put(ctx, []byte("a"), []byte("2")); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	election := 10 * 10 * time.Millisecond // ElectionTicks * TickInterval (fastConfig)
	t.Logf("leader on node %d killed: served again after %v (%.1f election timeouts)", leader, took, float64(took)/float64(election))
	if took > 30*election {
		t.Errorf("served again only after %v, more than 30 election timeouts", took)
	}
	v, found, err := cl.Get(ctx, []byte("a"))
	if err != nil || !found || string(v) != "2" {
		t.Fatalf("get after failover = %q %v %v", v, found, err)
	}
}

// TestSnapshotCatchUp stops a node for thousands of writes, long enough for
// the leader to truncate its log past it, and checks it catches up by a
// snapshot, while writes go on, and then holds every write.
func TestSnapshotCatchUp(t *testing.T) {
	n := 2000
	if !testing.Short() {
		n = 10000
	}
	c := newCluster(t, ClusterOptions{Config: func(cfg *raftstore.Config) {
		fastConfig(cfg)
		cfg.LogGCThreshold = 100
	}})
	cl := c.Client()
	putMany(t, cl, "pre", 10, 2)
	if err := c.Stop(3); err != nil {
		t.Fatal(err)
	}
	putMany(t, cl, "k", n, 16)
	leader := leaderOf(c, 1)
	sts, err := c.Store(leader).Regions()
	if err != nil {
		t.Fatal(err)
	}
	if sts[0].Truncated <= initialIndex {
		t.Fatalf("leader's log not truncated (truncated index %d)", sts[0].Truncated)
	}
	if err := c.Start(3); err != nil {
		t.Fatal(err)
	}
	// Writes go on while node 3 catches up: the log keeps being
	// truncated, but not past the snapshot node 3 is getting.
	more := make(chan struct{})
	go func() {
		defer close(more)
		putMany(t, cl, "more", n/4, 8)
	}()
	defer func() { <-more }()
	target := sts[0].Applied
	deadline := time.Now().Add(30 * time.Second)
	for {
		sts, err := c.Store(3).Regions()
		if err == nil && len(sts) == 1 && sts[0].Applied >= target {
			break
		}
		if time.Now().After(deadline) {
			for _, n := range c.Nodes() {
				sts, _ := c.Store(n).Regions()
				t.Logf("node %d: %+v %+v err=%v", n, sts, c.Store(n).Stats(), c.Store(n).Err())
			}
			t.Fatalf("node 3 did not catch up to %d", target)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := c.Store(3).Stats().SnapshotsApplied; got == 0 {
		t.Fatal("node 3 caught up without a snapshot")
	}
	t.Logf("node 3 applied %d snapshot(s); leader truncated its log at %d of %d", c.Store(3).Stats().SnapshotsApplied, sts[0].Truncated, sts[0].Applied)
	// Every write is on node 3 (stale reads read its own applied state).
	for i := 0; i < n; i += 97 {
		key := fmt.Appendf(nil, "k%06d", i)
		resp, err := c.Store(3).Get(context.Background(), &clusterpb.GetRequest{
			Context: &clusterpb.RequestContext{RegionId: 1, Epoch: sts[0].Region.GetEpoch(), ReadMode: clusterpb.ReadMode_STALE}, Key: key})
		if err != nil || resp.GetRegionError() != nil || !resp.GetFound() || string(resp.GetValue()) != fmt.Sprintf("value-%d", i) {
			t.Fatalf("node 3: stale get %s = %v %v", key, resp, err)
		}
	}
}

// initialIndex is the index every bootstrapped region starts at.
const initialIndex = 5

// TestSplitUnderLoad splits the key space into regions while clients run
// and the nemesis disturbs the network, and checks the history.
func TestSplitUnderLoad(t *testing.T) {
	run := 3 * time.Second
	if !testing.Short() {
		run = 15 * time.Second
	}
	c := newCluster(t, ClusterOptions{})
	seed := c.opts.Seed
	rec := newRecorder()
	ctx, cancel := context.WithTimeout(context.Background(), run)
	defer cancel()
	const keys = 6
	wg := workload(ctx, c, rec, 6, keys, seed, time.Second)
	nem := nemesis(ctx, t, c, seed, 400*time.Millisecond)
	cl := c.Client()
	for i := 1; i < keys; i++ {
		sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
		_, right, err := cl.Split(sctx, fmt.Appendf(nil, "key%d", i))
		scancel()
		if err != nil {
			t.Logf("split at key%d: %v", i, err)
			continue
		}
		t.Logf("split at key%d: right region %d", i, right.GetId())
		time.Sleep(run / keys)
	}
	<-nem
	wg.Wait()
	finalReads(t, c, rec, keys)
	rec.check(t)
	regions := c.Regions()
	t.Logf("%d regions at the end", len(regions))
	if len(regions) < 2 {
		t.Errorf("no split happened: %d regions", len(regions))
	}
	for _, n := range c.Nodes() {
		t.Logf("node %d: %+v", n, c.Store(n).Stats())
	}
}

// TestHibernation checks that idle regions cost no ticks: after splitting
// into many regions and waiting, every region sleeps on every node and the
// tick counters stop; a write wakes its region.
func TestHibernation(t *testing.T) {
	c := newCluster(t, ClusterOptions{})
	cl := c.Client()
	ctx := ctxT(t, 60*time.Second)
	const regions = 20
	t0 := time.Now()
	for i := 1; i < regions; i++ {
		if _, _, err := cl.Split(ctx, fmt.Appendf(nil, "r%02d", i)); err != nil {
			t.Fatal(err)
		}
	}
	putMany(t, cl, "r", regions, 4)
	t.Logf("split and written: %v", time.Since(t0))
	waitFor(t, 20*time.Second, "every region to hibernate", func() bool {
		for _, n := range c.Nodes() {
			sts, err := c.Store(n).Regions()
			if err != nil || len(sts) != regions {
				return false
			}
			for _, st := range sts {
				if !st.Hibernating {
					return false
				}
			}
		}
		return true
	})
	t.Logf("all hibernating: %v", time.Since(t0))
	before := map[uint64]uint64{}
	for _, n := range c.Nodes() {
		before[n] = c.Store(n).Stats().Ticks
	}
	time.Sleep(300 * time.Millisecond) // 30 ticks
	for _, n := range c.Nodes() {
		if d := c.Store(n).Stats().Ticks - before[n]; d != 0 {
			t.Errorf("node %d: %d region ticks while every region hibernates", n, d)
		}
	}
	if err := cl.Put(ctx, []byte("r05x"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if v, found, err := cl.Get(ctx, []byte("r05x")); err != nil || !found || string(v) != "v" {
		t.Fatalf("get after waking = %q %v %v", v, found, err)
	}
}

// TestRestartKeepsData closes every node and reopens them from disk.
func TestRestartKeepsData(t *testing.T) {
	c := newCluster(t, ClusterOptions{Dir: t.TempDir()})
	cl := c.Client()
	putMany(t, cl, "k", 200, 4)
	ctx := ctxT(t, 30*time.Second)
	if _, _, err := cl.Split(ctx, []byte("k000100")); err != nil {
		t.Fatal(err)
	}
	for _, n := range c.Nodes() {
		if err := c.Stop(n); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range c.Nodes() {
		if err := c.Start(n); err != nil {
			t.Fatal(err)
		}
	}
	pairs, err := c.Client().Scan(ctx, []byte("k"), []byte("l"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(pairs) != 200 {
		t.Fatalf("scan after restart: %d pairs, want 200", len(pairs))
	}
	if got := len(c.Regions()); got != 2 {
		t.Fatalf("%d regions after restart, want 2", got)
	}
}

// TestAutoSplit writes past Config.SplitSize and checks the regions split
// by themselves, every write still readable across them.
func TestAutoSplit(t *testing.T) {
	c := newCluster(t, ClusterOptions{Config: func(cfg *raftstore.Config) {
		fastConfig(cfg)
		cfg.SplitSize = 4 << 10
	}})
	cl := c.Client()
	putMany(t, cl, "k", 1000, 8) // about 16 KiB
	waitFor(t, 20*time.Second, "a few automatic splits", func() bool { return len(c.Regions()) >= 3 })
	ctx := ctxT(t, 30*time.Second)
	pairs, err := cl.Scan(ctx, []byte("k"), []byte("l"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(pairs) != 1000 {
		t.Fatalf("scan across %d regions: %d pairs, want 1000", len(c.Regions()), len(pairs))
	}
	t.Logf("%d regions", len(c.Regions()))
}

// TestPowerCut cuts the power of every node at once while writes are in
// flight: after restarting from what each had synced, every acknowledged
// write is there.
func TestPowerCut(t *testing.T) {
	c := newCluster(t, ClusterOptions{})
	cl := c.Client()
	var acked sync.Map
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				key := fmt.Sprintf("w%d-%06d", w, i)
				octx, ocancel := context.WithTimeout(ctx, time.Second)
				if cl.Put(octx, []byte(key), []byte(key)) == nil {
					acked.Store(key, true)
				}
				ocancel()
			}
		}()
	}
	time.Sleep(time.Second)
	for _, n := range c.Nodes() {
		c.Net.Kill(n) // all at once: nothing more leaves any node
	}
	for _, n := range c.Nodes() {
		if err := c.Crash(n); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	wg.Wait()
	for _, n := range c.Nodes() {
		if err := c.Start(n); err != nil {
			t.Fatal(err)
		}
	}
	rctx := ctxT(t, 30*time.Second)
	pairs, err := c.Client().Scan(rctx, []byte("w"), []byte("x"), 0)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, p := range pairs {
		have[string(p.GetKey())] = true
	}
	n := 0
	acked.Range(func(k, _ any) bool {
		n++
		if !have[k.(string)] {
			t.Errorf("acknowledged write %s lost in the power cut", k)
		}
		return true
	})
	t.Logf("%d acknowledged writes, %d keys after the power cut", n, len(have))
	if n == 0 {
		t.Fatal("no write was acknowledged")
	}
}

// TestFollowerBehindAfterPartition: a follower cut off (its messages lost,
// nothing reported unreachable) while a few writes commit stays, for its
// leader, "replicating" with every entry sent. After the partition heals
// and nothing more is written, raft's only way to find it behind is the
// empty append it sends on the follower's heartbeat response, which the
// follower rejects; that append looks like a commit notice, and the loop
// once dropped it (dropCommitNotices), leaving the follower behind for good.
func TestFollowerBehindAfterPartition(t *testing.T) {
	c := newCluster(t, ClusterOptions{})
	cl := c.Client()
	putValues(t, cl, "pre", 4, 10)
	leader := leaderOf(c, 1)
	var cut uint64
	var rest []uint64
	for _, n := range c.Nodes() {
		if n != leader && cut == 0 {
			cut = n
			continue
		}
		rest = append(rest, n)
	}
	c.Net.Partition(rest, []uint64{cut})
	for i := range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err := cl.Put(ctx, fmt.Appendf(nil, "cut%d", i), []byte("v"))
		cancel()
		if err != nil {
			t.Fatal(err)
		}
	}
	c.Net.Heal()
	waitCaughtUp(t, c, cut, 30*time.Second)
}
