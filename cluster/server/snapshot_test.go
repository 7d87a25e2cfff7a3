package server

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestSnapshotOverGRPC: a node down while the user region grows past the
// transport's 16 MiB message limit catches up, once back, by a snapshot of
// several table files streamed over gRPC (which an inline snapshot could
// not cross), and holds every write; no staging file is left on it.
func TestSnapshotOverGRPC(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three nodes and writes 18 MiB")
	}
	c := startClusterWith(t, 3, func(cfg *Config) {
		cfg.LogGCThreshold = 50
		cfg.SnapshotTableSize = 4 << 20
	})
	cl := c.client()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	retry(t, "first write", func() error { return cl.Put(ctx, []byte("a"), []byte("1")) })
	c.stop(2)
	const n, size = 300, 64 << 10 // 18.75 MiB
	val := func(i int) []byte {
		v := bytes.Repeat([]byte{byte('a' + i%26)}, size)
		copy(v, fmt.Sprintf("%d-", i))
		return v
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 4 {
				k := fmt.Appendf(nil, "k%04d", i)
				retry(t, "put "+string(k), func() error { return cl.Put(ctx, k, val(i)) })
			}
		}()
	}
	wg.Wait()
	c.start(2)
	retryFor(t, "node 3 catches up by snapshot", 2*time.Minute, func() error {
		st := c.nodes[2].Store().Stats()
		if st.SnapshotsApplied == 0 {
			return fmt.Errorf("no snapshot applied yet (%+v)", st)
		}
		regions, err := c.nodes[2].Store().Regions()
		if err != nil {
			return err
		}
		for i := 0; i < 2; i++ {
			others, _ := c.nodes[i].Store().Regions()
			for _, o := range others {
				for _, r := range regions {
					if o.IsLeader && r.Region.GetId() == o.Region.GetId() && r.Applied < o.Applied {
						return fmt.Errorf("region %d: applied %d < the leader's %d", r.Region.GetId(), r.Applied, o.Applied)
					}
				}
			}
		}
		return nil
	})
	t.Logf("node 3: %+v; transport %v", c.nodes[2].Store().Stats(), c.nodes[2].tr.Stats())
	// Every write is in node 3's database.
	db := c.nodes[2].Store().DB()
	for i := 0; i < n; i += 11 {
		got, err := db.Get(fmt.Appendf(nil, "zk%04d", i))
		if err != nil || !bytes.Equal(got, val(i)) {
			t.Fatalf("node 3: key k%04d: %d bytes, %v", i, len(got), err)
		}
	}
	names, err := os.ReadDir(filepath.Join(c.dirs[2], "snap"))
	if err != nil || len(names) > 0 {
		t.Fatalf("node 3's staging directory: %v %v", names, err)
	}
}
