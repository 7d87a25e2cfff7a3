package sim

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-db/strata"
	"github.com/strata-db/strata/cluster/clusterpb"
	"github.com/strata-db/strata/cluster/raftstore"
)

// snapshotCluster is a three-node cluster whose logs are truncated early
// (a node down for a few hundred writes needs a snapshot), with snapshot
// tables of tableSize bytes.
func snapshotCluster(t *testing.T, tableSize uint64) *Cluster {
	return newCluster(t, ClusterOptions{Config: func(cfg *raftstore.Config) {
		fastConfig(cfg)
		cfg.LogGCThreshold = 50
		cfg.SnapshotTableSize = tableSize
	}})
}

// putValues writes n keys prefix%06d with values of size bytes (their
// index in the first bytes) from 4 writers.
func putValues(t *testing.T, cl *Client, prefix string, n, size int) {
	t.Helper()
	putKeys(t, cl, prefix, n, 4, 20*time.Second, func(i int) []byte { return value(i, size) })
}

func value(i, size int) []byte {
	v := bytes.Repeat([]byte{byte('a' + i%26)}, size)
	copy(v, fmt.Sprintf("%d-", i))
	return v
}

// waitCaughtUp waits until node's replica of region 1 has applied what
// the leader had applied when called, and returns that index.
func waitCaughtUp(t *testing.T, c *Cluster, node uint64, d time.Duration) {
	t.Helper()
	sts, err := c.Store(leaderOf(c, 1)).Regions()
	if err != nil {
		t.Fatal(err)
	}
	target := sts[0].Applied
	defer func() {
		if t.Failed() {
			for id := uint64(1); id <= 3; id++ {
				if st := c.Store(id); st != nil {
					sts, err := st.Regions()
					for _, r := range sts {
						t.Logf("node %d: leader %d isLeader %v term %d applied %d truncated %d hib %v init %v pending %v; stats %+v", id, r.Leader, r.IsLeader, r.Term, r.Applied, r.Truncated, r.Hibernating, r.Initialized, r.Pending, st.Stats())
					}
					if err != nil {
						t.Logf("node %d: %v", id, err)
					}
				}
			}
		}
	}()
	waitFor(t, d, fmt.Sprintf("node %d to apply index %d", node, target), func() bool {
		sts, err := c.Store(node).Regions()
		return err == nil && len(sts) == 1 && sts[0].Applied >= target
	})
}

// checkValues reads keys of node's replica (stale reads: its own state).
func checkValues(t *testing.T, c *Cluster, node uint64, prefix string, n, size, step int) {
	t.Helper()
	sts, err := c.Store(node).Regions()
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i += step {
		key := fmt.Appendf(nil, "%s%06d", prefix, i)
		resp, err := c.Store(node).Get(context.Background(), &clusterpb.GetRequest{
			Context: &clusterpb.RequestContext{RegionId: 1, Epoch: sts[0].Region.GetEpoch(), ReadMode: clusterpb.ReadMode_STALE}, Key: key})
		if err != nil || resp.GetRegionError() != nil || !resp.GetFound() || !bytes.Equal(resp.GetValue(), value(i, size)) {
			t.Fatalf("node %d: get %s: found %v, %d bytes, %v %v", node, key, resp.GetFound(), len(resp.GetValue()), resp.GetRegionError(), err)
		}
	}
}

// stagingFiles lists node's Dir/snap.
func stagingFiles(t *testing.T, c *Cluster, node uint64) []string {
	t.Helper()
	c.mu.Lock()
	fs, dir := c.fss[node], fmt.Sprintf("/node%d/snap", node)
	if c.opts.Dir != "" {
		fs, dir = strata.OSFS(), filepath.Join(c.opts.Dir, fmt.Sprintf("node%d", node), "snap")
	}
	c.mu.Unlock()
	names, err := fs.List(dir)
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// TestLargeSnapshotCatchUp: a follower down while its region grows past
// the gRPC transport's 16 MiB message limit (which an inline snapshot could
// not cross) catches up by a snapshot of many table files, and holds every
// write; the receiver's staging directory is empty afterwards.
//
// In long mode the region grows to 128 MiB, on disk, and the test logs how
// long node 3 takes to catch up.
func TestLargeSnapshotCatchUp(t *testing.T) {
	const size = 64 << 10
	n, tableSize, dir := 300, uint64(2<<20), "" // 300 × 64 KiB = 18.75 MiB, ~10 tables
	if !testing.Short() {
		n, tableSize, dir = 2048, 32<<20, t.TempDir() // 128 MiB, 4 tables
	}
	c := newCluster(t, ClusterOptions{Dir: dir, Config: func(cfg *raftstore.Config) {
		fastConfig(cfg)
		cfg.LogGCThreshold = 50
		cfg.SnapshotTableSize = tableSize
	}})
	cl := c.Client()
	putValues(t, cl, "pre", 10, 100)
	if err := c.Stop(3); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	putValues(t, cl, "k", n, size)
	t.Logf("wrote %d MiB in %v", n*size>>20, time.Since(start).Round(time.Millisecond))
	start = time.Now()
	if err := c.Start(3); err != nil {
		t.Fatal(err)
	}
	waitCaughtUp(t, c, 3, 5*time.Minute)
	t.Logf("node 3 caught up in %v", time.Since(start).Round(time.Millisecond))
	if got := c.Store(3).Stats().SnapshotsApplied; got == 0 {
		t.Fatal("node 3 caught up without a snapshot")
	}
	checkValues(t, c, 3, "k", n, size, 7)
	leader := leaderOf(c, 1)
	tables := 0
	for _, name := range stagingFiles(t, c, leader) {
		if strings.HasPrefix(name, "g") {
			tables++
		}
	}
	t.Logf("node 3: %+v; the leader's snapshot has %d tables", c.Store(3).Stats(), tables)
	if want := n * size / int(tableSize); tables < want {
		t.Fatalf("the leader's cached snapshot has %d tables, want about %d", tables, want)
	}
	if names := stagingFiles(t, c, 3); len(names) > 0 {
		t.Fatalf("node 3's staging files left: %v", names)
	}
}

// corrupter flips a byte in the first snapshots it sees.
type corrupter struct {
	left atomic.Int64 // snapshots still to corrupt
	seen atomic.Int64
}

func (cr *corrupter) filter(from, to uint64, data io.Reader) io.Reader {
	cr.seen.Add(1)
	if cr.left.Add(-1) < 0 {
		return data
	}
	return &flipReader{r: data, at: 100}
}

// flipReader flips the byte at offset at.
type flipReader struct {
	r   io.Reader
	off int64
	at  int64
}

func (f *flipReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if f.at >= f.off && f.at < f.off+int64(n) {
		p[f.at-f.off] ^= 0x01
	}
	f.off += int64(n)
	return n, err
}

// TestCorruptSnapshotRefused: the first snapshots a follower receives are
// corrupted in transit; each is refused (counted, the store keeps running,
// nothing is left in its staging directory) and a later one installs.
func TestCorruptSnapshotRefused(t *testing.T) {
	c := snapshotCluster(t, 64<<10)
	cr := &corrupter{}
	cr.left.Store(2)
	c.Net.SetSnapshotFilter(cr.filter)
	cl := c.Client()
	putValues(t, cl, "pre", 10, 100)
	if err := c.Stop(3); err != nil {
		t.Fatal(err)
	}
	putValues(t, cl, "k", 400, 1000)
	if err := c.Start(3); err != nil {
		t.Fatal(err)
	}
	waitCaughtUp(t, c, 3, 60*time.Second)
	st := c.Store(3).Stats()
	t.Logf("node 3: %+v; snapshots sent %d", st, cr.seen.Load())
	if st.SnapshotsRefused < 2 || st.SnapshotsApplied == 0 {
		t.Fatalf("want 2 snapshots refused and one applied: %+v", st)
	}
	if err := c.Store(3).Err(); err != nil {
		t.Fatalf("node 3 stopped: %v", err)
	}
	checkValues(t, c, 3, "k", 400, 1000, 13)
	if names := stagingFiles(t, c, 3); len(names) > 0 {
		t.Fatalf("node 3's staging files left: %v", names)
	}
}
