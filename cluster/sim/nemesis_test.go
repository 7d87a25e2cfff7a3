package sim

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// nemesis disturbs the cluster until ctx ends: it partitions a node away
// (or the cluster in two), restarts a node, changes the network's faults,
// and heals, choosing by its seeded source. It keeps a majority running.
func nemesis(ctx context.Context, t *testing.T, c *Cluster, seed uint64, every time.Duration) (done chan struct{}) {
	done = make(chan struct{})
	rng := rand.New(rand.NewPCG(seed, 7))
	nodes := c.Nodes()
	go func() {
		defer close(done)
		var down []uint64
		for ctx.Err() == nil {
			select {
			case <-ctx.Done():
			case <-time.After(every):
			}
			switch rng.IntN(5) {
			case 0: // isolate one node
				n := nodes[rng.IntN(len(nodes))]
				var rest []uint64
				for _, m := range nodes {
					if m != n {
						rest = append(rest, m)
					}
				}
				c.Net.Partition([]uint64{n}, rest)
				t.Logf("nemesis: isolate node %d", n)
			case 1: // restart a node (at most a minority down)
				if len(down) < (len(nodes)-1)/2 {
					n := nodes[rng.IntN(len(nodes))]
					if slices.Contains(down, n) {
						break
					}
					stop, how := c.Stop, "stop"
					if rng.IntN(2) == 0 {
						stop, how = c.Crash, "crash (unsynced writes lost)"
					}
					if err := stop(n); err != nil {
						t.Errorf("nemesis: %s node %d: %v", how, n, err)
					}
					down = append(down, n)
					t.Logf("nemesis: %s node %d", how, n)
				}
			case 2: // bring the stopped nodes back
				for _, n := range down {
					if err := c.Start(n); err != nil {
						t.Errorf("nemesis: restarting node %d: %v", n, err)
					}
					t.Logf("nemesis: restart node %d", n)
				}
				down = nil
			case 3: // lossy network
				f := Faults{Drop: rng.Float64() * 0.2, Duplicate: rng.Float64() * 0.1, MaxDelay: time.Duration(rng.IntN(20)) * time.Millisecond}
				c.Net.SetFaults(f)
				t.Logf("nemesis: faults %+v", f)
			default:
				c.Net.Heal()
				c.Net.SetFaults(Faults{})
				t.Logf("nemesis: heal")
			}
		}
		c.Net.Heal()
		c.Net.SetFaults(Faults{})
		for _, n := range down {
			if err := c.Start(n); err != nil {
				t.Errorf("nemesis: restarting node %d: %v", n, err)
			}
		}
	}()
	return done
}

// TestLinearizableUnderNemesis runs concurrent clients doing get, put and
// compare-and-swap while the nemesis partitions, restarts and degrades the
// network, then checks the history with porcupine (acknowledged writes are
// never lost: final reads after healing are part of the history).
func TestLinearizableUnderNemesis(t *testing.T) {
	for _, onDisk := range []bool{false, true} {
		name := "memfs"
		if onDisk {
			name = "disk"
		}
		t.Run(name, func(t *testing.T) {
			run := 3 * time.Second
			if !testing.Short() {
				run = 20 * time.Second
			} else if onDisk {
				t.Skip("on disk in long mode only")
			}
			o := ClusterOptions{Nodes: 3}
			if onDisk {
				o.Dir = t.TempDir()
			}
			historyUnderNemesis(t, newCluster(t, o), run)
		})
	}
}

// historyUnderNemesis runs 6 clients on 4 keys against c for run while the
// nemesis acts every 250ms, then checks the history (final reads included).
func historyUnderNemesis(t *testing.T, c *Cluster, run time.Duration) {
	t.Helper()
	seed := c.opts.Seed
	rec := newRecorder()
	ctx, cancel := context.WithTimeout(context.Background(), run)
	defer cancel()
	wg := workload(ctx, c, rec, 6, 4, seed, time.Second)
	<-nemesis(ctx, t, c, seed, 250*time.Millisecond)
	wg.Wait()
	finalReads(t, c, rec, 4)
	rec.check(t)
}
