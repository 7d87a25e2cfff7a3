package sim

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// reportCPU adds cpu-ns/op (the whole process: three stores, network,
// clients) to a benchmark: on a shared, loaded machine latency says little,
// CPU per operation says what the code costs.
func reportCPU(b *testing.B) func() {
	start, ok := processCPU()
	return func() {
		if end, ok2 := processCPU(); ok && ok2 {
			b.ReportMetric(float64(end-start)/float64(b.N), "cpu-ns/op")
		}
	}
}

// reportSyncs adds syncs/op (the synced Raft writes of all nodes per
// operation: each an fsync on a disk, the costliest step of a round) and
// msgs/op (Raft messages sent between nodes).
func reportSyncs(b *testing.B, c *Cluster) func() {
	count := func() (n uint64) {
		for _, id := range c.Nodes() {
			if s := c.Store(id); s != nil {
				n += s.Stats().SyncedWrites
			}
		}
		return n
	}
	start := count()
	sent, _ := c.Net.Stats()
	return func() {
		b.ReportMetric(float64(count()-start)/float64(b.N), "syncs/op")
		now, _ := c.Net.Stats()
		b.ReportMetric(float64(now-sent)/float64(b.N), "msgs/op")
	}
}

// benchCluster is a three-node cluster on in-memory file systems, no
// faults, the default 100ms tick.
func benchCluster(b *testing.B) *Cluster { return benchClusterIn(b, "") }

// benchClusterIn is benchCluster with the stores on disk under dir (real
// fsyncs) if dir is set.
func benchClusterIn(b *testing.B, dir string) *Cluster {
	c, err := NewCluster(ClusterOptions{Seed: 1, Dir: dir})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Client().Put(ctx, []byte("warm"), []byte("up")); err != nil {
		b.Fatal(err)
	}
	return c
}

// BenchmarkPut measures replicated 100-byte puts from concurrent clients
// (b.SetParallelism scales them: -cpu 1,4,16 with GOMAXPROCS fixed gives
// 1x, 4x, 16x the procs), each a Raft round trip through the simulated
// network and a synced write on every node.
func BenchmarkPut(b *testing.B) { benchPut(b, false) }

// BenchmarkPutOnDisk is BenchmarkPut with the stores on disk (under the
// test's temporary directory): every synced Raft write is a real fsync,
// as in a deployment, without gRPC.
func BenchmarkPutOnDisk(b *testing.B) { benchPut(b, true) }

func benchPut(b *testing.B, disk bool) {
	for _, clients := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			dir := ""
			if disk {
				dir = b.TempDir()
			}
			c := benchClusterIn(b, dir)
			value := make([]byte, 100)
			var n atomic.Int64
			b.SetParallelism(clients)
			b.ResetTimer()
			defer reportCPU(b)()
			defer reportSyncs(b, c)()
			b.RunParallel(func(pb *testing.PB) {
				cl := c.Client()
				for pb.Next() {
					i := n.Add(1)
					if err := cl.Put(context.Background(), fmt.Appendf(nil, "key%09d", i), value); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkGet measures linearizable gets (ReadIndex) from concurrent
// clients.
func BenchmarkGet(b *testing.B) {
	for _, clients := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			benchGets(b, benchCluster(b), clients)
		})
	}
}

// benchGets measures gets of one key by concurrent clients (in c's read
// mode).
func benchGets(b *testing.B, c *Cluster, clients int) {
	b.SetParallelism(clients)
	b.ResetTimer()
	defer reportCPU(b)()
	b.RunParallel(func(pb *testing.PB) {
		cl := c.Client()
		for pb.Next() {
			if _, _, err := cl.Get(context.Background(), []byte("warm")); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
