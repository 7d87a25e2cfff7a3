package sim

import (
	"testing"
	"time"

	"github.com/strata-db/strata/cluster/raftstore"
)

// TestIdleRegions measures what idle regions cost: three nodes with many
// regions (1,000), once all of them hibernate, and again with hibernation
// off. With hibernation no region ticks at all. The CPU figures are logged
// (the whole process, on a shared machine). Long mode only: it waits for
// elections and hibernation at the default 100ms tick.
func TestIdleRegions(t *testing.T) {
	if testing.Short() {
		t.Skip("long mode only")
	}
	regions := 1000
	for _, hibernate := range []bool{true, false} {
		name := "hibernating"
		if !hibernate {
			name = "awake"
		}
		t.Run(name, func(t *testing.T) {
			c := newCluster(t, ClusterOptions{Regions: regions, Config: func(cfg *raftstore.Config) {
				cfg.TickInterval = 100 * time.Millisecond // the default
				if !hibernate {
					cfg.HibernateTicks = -1
				}
			}})
			waitFor(t, 120*time.Second, "every region to have a leader", func() bool {
				rs := c.Regions()
				for _, r := range rs {
					if r.Leader == 0 {
						return false
					}
				}
				return len(rs) == regions
			})
			if hibernate {
				waitFor(t, 120*time.Second, "every region to hibernate", func() bool {
					for _, n := range c.Nodes() {
						sts, err := c.Store(n).Regions()
						if err != nil {
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
			} else {
				time.Sleep(time.Second)
			}
			ticks := map[uint64]uint64{}
			for _, n := range c.Nodes() {
				ticks[n] = c.Store(n).Stats().Ticks
			}
			const window = 2 * time.Second
			start, ok := processCPU()
			time.Sleep(window)
			end, ok2 := processCPU()
			var ticked uint64
			for _, n := range c.Nodes() {
				ticked += c.Store(n).Stats().Ticks - ticks[n]
			}
			if ok && ok2 {
				t.Logf("%d regions on 3 nodes, %s: %.1f%% of a core, %d region ticks in %v", regions, name, 100*float64(end-start)/float64(window), ticked, window)
			}
			if hibernate && ticked != 0 {
				t.Errorf("%d region ticks while every region hibernates", ticked)
			}
		})
	}
}
