package transport

import (
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/strata-db/strata/cluster/clusterpb"
)

// counter is a RaftHandler that counts.
type counter struct{ n atomic.Int64 }

func (c *counter) Step(*clusterpb.RaftMessage) error { c.n.Add(1); return nil }

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRaftThroughput sends MsgApp messages of one 100-byte entry from
// one transport to another node's server on loopback, in Send calls of 64
// messages (as a store's Ready loop hands them over), with at most 8,192 in
// flight so that none is dropped. One op is one message; MB/s counts entry
// payload. msgs/s is wall-clock throughput, cpu-ns/msg the process's CPU
// time (both ends) per message.
//
//	go test -run '^$' -bench RaftThroughput -benchtime 200000x -count 5 ./cluster/transport
func BenchmarkRaftThroughput(b *testing.B) {
	for _, batching := range []bool{true, false} {
		b.Run(fmt.Sprintf("batching=%v", batching), func(b *testing.B) {
			recv := &counter{}
			srv := startServer(b, ServerConfig{ClusterID: 1, Raft: recv})
			tr := newTransport(b, Config{ClusterID: 1, QueueMessages: 1 << 14, DisableBatching: !batching,
				Resolver: NewMapResolver(map[uint64]string{2: srv.Addr()})})
			// Warm the stream up.
			tr.Send([]*clusterpb.RaftMessage{appMsg(1, 2, 0, 100)})
			waitFor(b, "the first message", func() bool { return recv.n.Load() == 1 })
			recv.n.Store(0)

			const group, inflight = 64, 8192
			b.SetBytes(100)
			b.ReportAllocs()
			cpu0 := cpuTime()
			b.ResetTimer()
			start := time.Now()
			for sent := 0; sent < b.N; {
				for sent-int(recv.n.Load()) > inflight {
					time.Sleep(20 * time.Microsecond)
				}
				k := min(group, b.N-sent)
				msgs := make([]*clusterpb.RaftMessage, k)
				for i := range msgs {
					msgs[i] = appMsg(uint64(1+i%8), 2, uint64(sent+i), 100)
				}
				tr.Send(msgs)
				sent += k
			}
			for recv.n.Load() < int64(b.N) {
				if d := tr.Stats().Dropped; d > 0 {
					b.Fatalf("%d messages dropped", d)
				}
				time.Sleep(50 * time.Microsecond)
			}
			elapsed := time.Since(start)
			b.StopTimer()
			cpu := cpuTime() - cpu0
			st := tr.Stats()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/msg")
			b.ReportMetric(float64(st.Messages)/float64(max(st.Batches, 1)), "msgs/batch")
		})
	}
}
