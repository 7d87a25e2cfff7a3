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

// benchCluster is a three-node cluster on in-memory file systems, no
// faults, the default 100ms tick.
func benchCluster(b *testing.B) *Cluster {
	c, err := NewCluster(ClusterOptions{Seed: 1})
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
func BenchmarkPut(b *testing.B) {
	for _, clients := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			c := benchCluster(b)
			value := make([]byte, 100)
			var n atomic.Int64
			b.SetParallelism(clients)
			b.ResetTimer()
			defer reportCPU(b)()
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
