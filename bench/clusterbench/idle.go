package clusterbench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sync"
	"time"

	"github.com/strata-db/strata/cluster/clusterpb"
)

// idleCPU measures c's processes' CPU over secs of idleness.
func idleCPU(ctx context.Context, c *Cluster, secs float64) (*Idle, error) {
	pids := c.PIDs()
	before := takeCPU(pids)
	select {
	case <-time.After(time.Duration(secs * float64(time.Second))):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	after := takeCPU(pids)
	total, each := after.sumSince(before, pids)
	id := &Idle{System: c.System, Seconds: secs, TotalPercent: 100 * total / secs,
		MachinePercent: 100 * (after.machine - before.machine) / secs}
	for _, v := range each {
		id.CPUPercent = append(id.CPUPercent, 100*v/secs)
	}
	return id, nil
}

// replicaCounts asks every node for its replicas: how many, how many
// hibernate, and how many of the awake ones lead their region.
func replicaCounts(ctx context.Context, admins []clusterpb.AdminClient) (replicas, hibernating, awakeLeaders int) {
	for _, ad := range admins {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		st, err := ad.Status(rctx, &clusterpb.StatusRequest{})
		cancel()
		if err != nil {
			continue
		}
		for _, r := range st.GetReplicas() {
			replicas++
			if r.GetHibernating() {
				hibernating++
			} else if r.GetIsLeader() {
				awakeLeaders++
			}
		}
	}
	return replicas, hibernating, awakeLeaders
}

// runIdle measures the idle CPU of a three-member etcd, of a fresh
// three-node Strata cluster, and of the same with IdleRegions regions.
func runIdle(ctx context.Context, o Options, enc *json.Encoder, logf func(string, ...any)) error {
	p := o.Plan
	emit := func(id *Idle) error {
		logf("idle %s, %d regions: %.2f%% of a core in all (%v), %d/%d replicas hibernating, machine %.0f%%",
			id.System, id.Regions, id.TotalPercent, id.CPUPercent, id.Hibernating, id.Replicas, id.MachinePercent)
		return enc.Encode(Record{Type: "cluster-idle", System: id.System, LoadAvg: LoadAvg(), Idle: id})
	}
	for _, s := range p.Systems {
		if s != "etcd" {
			continue
		}
		t, err := startSystem(ctx, o, "etcd", filepath.Join(o.Work, "idle-etcd"), "")
		if err != nil {
			return err
		}
		time.Sleep(5 * time.Second)
		id, err := idleCPU(ctx, t.c, p.IdleSeconds)
		t.stop()
		if err != nil {
			return err
		}
		if err := emit(id); err != nil {
			return err
		}
	}
	t, err := startSystem(ctx, o, "strata", filepath.Join(o.Work, "idle-strata"), "")
	if err != nil {
		return err
	}
	defer t.stop()
	admins, done, err := dialAdmins(t.c.Addrs())
	if err != nil {
		return err
	}
	defer done()
	// Before the splits: the bootstrap regions.
	settle(ctx, admins, time.Minute, logf)
	id, err := idleCPU(ctx, t.c, p.IdleSeconds)
	if err != nil {
		return err
	}
	id.Replicas, id.Hibernating, id.AwakeLeaders = replicaCounts(ctx, admins)
	id.Regions = id.Replicas / 3
	if err := emit(id); err != nil {
		return err
	}
	logf("strata: splitting into %d regions", p.IdleRegions)
	start := time.Now()
	const space = 1_000_000
	// Splits at keys spread over the key space, from several goroutines
	// (each its own stretch of keys) to take less time.
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	n := p.IdleRegions - 1 // the user key space's first region exists
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 1 + g*n/4; i <= (g+1)*n/4; i++ {
				if err := split(ctx, admins, Key(i*space/p.IdleRegions)); err != nil {
					errs <- err
					return
				}
				if i%100 == 0 {
					logf("strata: split %d", i)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	setup := time.Since(start).Seconds()
	logf("strata: %d splits in %.1fs; waiting for the regions to go quiet", n, setup)
	settle(ctx, admins, 90*time.Second, logf)
	id, err = idleCPU(ctx, t.c, p.IdleSeconds)
	if err != nil {
		return err
	}
	id.Replicas, id.Hibernating, id.AwakeLeaders = replicaCounts(ctx, admins)
	id.Regions = id.Replicas / 3
	id.SetupSeconds = setup
	return emit(id)
}

// settle waits until at least 99% of the replicas hibernate (or limit),
// then 5 s more.
func settle(ctx context.Context, admins []clusterpb.AdminClient, limit time.Duration, logf func(string, ...any)) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		r, h, l := replicaCounts(ctx, admins)
		logf("settling: %d of %d replicas hibernating, %d leaders awake", h, r, l)
		if r > 0 && h*100 >= r*99 {
			break
		}
		time.Sleep(2 * time.Second)
	}
	time.Sleep(5 * time.Second)
}

// dirSize is the bytes of the files under dir.
func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// runCatchup loads CatchupBytes into a fresh three-node Strata cluster
// split into Plan.Regions regions, starts a fourth node, SIGKILLs node 3,
// and times until every region has a voter on node 4 and no replica on
// node 3 (the placement driver declares node 3 down after DownAfter, 30 s
// by default, and rebuilds its replicas on node 4: learner, snapshot,
// promotion).
func runCatchup(ctx context.Context, o Options, enc *json.Encoder, logf func(string, ...any)) error {
	p := o.Plan
	t, err := startSystem(ctx, o, "strata", filepath.Join(o.Work, "catchup"), "")
	if err != nil {
		return err
	}
	defer t.stop()
	if err := splitEvenly(ctx, t.c.Addrs(), p.Regions, int(p.CatchupBytes/int64(p.CatchupValueSize))); err != nil {
		return err
	}
	keys := int(p.CatchupBytes / int64(p.CatchupValueSize+11))
	logf("catch-up: loading %d keys × %d B", keys, p.CatchupValueSize)
	start := time.Now()
	lctx, cancel := context.WithTimeout(ctx, o.CatchupMax)
	written, err := Preload(lctx, t.kv, keys, p.CatchupValueSize, 32, true)
	cancel()
	cu := &Catchup{LoadedBytes: int64(written) * int64(p.CatchupValueSize+11), LoadSeconds: time.Since(start).Seconds(), DownAfter: 30,
		ValueSize: p.CatchupValueSize}
	if err != nil && !(errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil && written > 0) {
		return fmt.Errorf("loading: %w", err)
	}
	if err != nil {
		cu.Note = fmt.Sprintf("the load stopped at its time limit (%v) after %d of %d keys. ", o.CatchupMax, written, keys)
	}
	logf("catch-up: loaded %.0f MiB in %.0fs", float64(cu.LoadedBytes)/(1<<20), cu.LoadSeconds)
	joinStart := time.Now()
	if _, err := t.c.JoinStrata(o.StrataBin, 4, ""); err != nil {
		return err
	}
	admins, done, err := dialAdmins([]string{t.c.Procs[0].Addr})
	if err != nil {
		return err
	}
	defer done()
	// Wait until node 4 is registered (node 1 knows its address).
	if err := t.c.waitReady(ctx, 2*time.Minute, func(ctx context.Context) error {
		st, err := admins[0].Status(ctx, &clusterpb.StatusRequest{})
		if err != nil {
			return err
		}
		for _, n := range st.GetNodes() {
			if n.GetId() == 4 {
				return nil
			}
		}
		return fmt.Errorf("node 4 not registered yet")
	}); err != nil {
		return err
	}
	logf("catch-up: node 4 registered; killing node 3")
	t.c.Procs[2].Kill()
	kill := time.Now()
	cu.JoinSeconds = kill.Sub(joinStart).Seconds()
	deadline := kill.Add(o.CatchupMax)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(2 * time.Second)
		regions, voters, clean, err := placement(ctx, t.c.Procs[0].Addr)
		if err != nil {
			logf("catch-up: %v", err)
			continue
		}
		cu.Regions = regions
		pt := CatchupPoint{Seconds: time.Since(kill).Seconds(), Voters: voters, Clean: clean}
		if len(cu.Progress) == 0 || cu.Progress[len(cu.Progress)-1].Voters != voters || cu.Progress[len(cu.Progress)-1].Clean != clean {
			cu.Progress = append(cu.Progress, pt)
			logf("catch-up: %.0fs: %d/%d regions vote on node 4, %d/%d without node 3", pt.Seconds, voters, regions, clean, regions)
		}
		if voters == regions && clean == regions {
			cu.Done = true
			cu.Seconds = pt.Seconds
			break
		}
	}
	if !cu.Done {
		cu.Seconds = time.Since(kill).Seconds()
		if ctx.Err() != nil {
			cu.Note += fmt.Sprintf("interrupted %.0f s after the kill", cu.Seconds)
		} else {
			cu.Note += fmt.Sprintf("not done within %v", o.CatchupMax)
		}
	}
	cu.NewNodeBytes = dirSize(filepath.Join(t.c.Dir, "node4"))
	logf("catch-up: done=%v in %.0fs after the kill; node 4 holds %.0f MiB", cu.Done, cu.Seconds, float64(cu.NewNodeBytes)/(1<<20))
	return enc.Encode(Record{Type: "cluster-catchup", System: "strata", LoadAvg: LoadAvg(), Catchup: cu})
}

// placement reads the region map from the node at addr: how many regions,
// how many have a voter on node 4, how many have no replica on node 3.
func placement(ctx context.Context, addr string) (regions, voters, clean int, err error) {
	cc, done, err := dialPD(addr)
	if err != nil {
		return 0, 0, 0, err
	}
	defer done()
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := cc.ScanRegions(rctx, &clusterpb.ScanRegionsRequest{})
	if err != nil {
		return 0, 0, 0, err
	}
	if resp.GetError() != "" {
		return 0, 0, 0, fmt.Errorf("scan regions: %s", resp.GetError())
	}
	for _, r := range resp.GetRegions() {
		regions++
		on3, voter4 := false, false
		for _, peer := range r.GetRegion().GetPeers() {
			switch peer.GetNodeId() {
			case 3:
				on3 = true
			case 4:
				voter4 = voter4 || peer.GetRole() == clusterpb.PeerRole_VOTER
			}
		}
		if voter4 {
			voters++
		}
		if !on3 {
			clean++
		}
	}
	return regions, voters, clean, nil
}
