package clusterbench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/strata-db/strata/cluster/client"
)

// KV is the load generator's view of a cluster: the three operations of
// the comparison, each one request to the cluster.
type KV interface {
	// Put writes value at key (acknowledged once durable on a majority).
	Put(ctx context.Context, key, value []byte) error
	// Get reads key linearizably; a missing key is an error.
	Get(ctx context.Context, key []byte) error
	// Range reads the pairs in [start, end), at most limit of them,
	// linearizably, and returns how many it read.
	Range(ctx context.Context, start, end []byte, limit int) (int, error)
	Close() error
}

// Key is the i-th key of the bench's key space: "key" and 8 digits (11
// bytes), so keys sort by i.
func Key(i int) []byte { return fmt.Appendf(nil, "key%08d", i) }

// strataKV drives a Strata cluster through cluster/client: one Client
// (one gRPC connection per node) shared by every goroutine.
type strataKV struct{ c *client.Client }

// NewStrataKV returns a KV on the Strata cluster at addrs.
func NewStrataKV(addrs []string) (KV, error) {
	c, err := client.New(client.Options{Addrs: addrs,
		DialOptions: []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}})
	if err != nil {
		return nil, err
	}
	return &strataKV{c}, nil
}

func (s *strataKV) Put(ctx context.Context, key, value []byte) error { return s.c.Put(ctx, key, value) }
func (s *strataKV) Get(ctx context.Context, key []byte) error {
	_, err := s.c.Get(ctx, key)
	return err
}
func (s *strataKV) Range(ctx context.Context, start, end []byte, limit int) (int, error) {
	kvs, err := s.c.Scan(ctx, start, end, client.ScanOptions{Limit: limit})
	return len(kvs), err
}
func (s *strataKV) Close() error { return s.c.Close() }

// etcdKV drives etcd through go.etcd.io/etcd/client/v3: one Client (its
// balancer spreads requests over the members' endpoints; a follower
// forwards a put to the leader, and serves a linearizable read after a
// ReadIndex round) shared by every goroutine.
type etcdKV struct{ c *clientv3.Client }

// NewEtcdKV returns a KV on the etcd cluster whose members serve clients
// at addrs.
func NewEtcdKV(addrs []string) (KV, error) {
	var eps []string
	for _, a := range addrs {
		eps = append(eps, "http://"+a)
	}
	c, err := clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return nil, err
	}
	return &etcdKV{c}, nil
}

func (e *etcdKV) Put(ctx context.Context, key, value []byte) error {
	_, err := e.c.Put(ctx, string(key), string(value))
	return err
}
func (e *etcdKV) Get(ctx context.Context, key []byte) error {
	r, err := e.c.Get(ctx, string(key)) // linearizable: etcd's default
	if err == nil && len(r.Kvs) == 0 {
		err = fmt.Errorf("etcd: %q not found", key)
	}
	return err
}
func (e *etcdKV) Range(ctx context.Context, start, end []byte, limit int) (int, error) {
	// A bounded range: etcd 3.4 walks its whole index range even with a
	// limit (to count it), so "100 keys from start to the end of the key
	// space" costs it the rest of the key space.
	r, err := e.c.Get(ctx, string(start), clientv3.WithRange(string(end)), clientv3.WithLimit(int64(limit)))
	if err != nil {
		return 0, err
	}
	return len(r.Kvs), nil
}
func (e *etcdKV) Close() error { return e.c.Close() }

// Load is one measured load: a workload, a number of concurrent clients,
// a duration, over a key space of Keys keys.
type Load struct {
	Workload  string // put, get, range
	Clients   int
	Duration  time.Duration
	Warmup    time.Duration
	Keys      int
	ValueSize int
	RangeSize int
	Seed      uint64
}

// Outcome is what a load measured.
type Outcome struct {
	Ops, Errors int
	Seconds     float64
	// Latencies in microseconds.
	P50, P90, P99, P999, Max float64
	// Rows is the mean number of pairs a range returned.
	Rows     float64
	FirstErr string
}

var errWorkload = errors.New("unknown workload")

// Run runs l on kv: Clients goroutines each issue one request at a time
// (a closed loop) for Warmup, not measured, then Duration, measured.
func Run(ctx context.Context, kv KV, l Load) (Outcome, error) {
	switch l.Workload {
	case "put", "get", "range":
	default:
		return Outcome{}, fmt.Errorf("%w %q", errWorkload, l.Workload)
	}
	var (
		mu       sync.Mutex
		lats     []time.Duration
		out      Outcome
		rows     int
		wg       sync.WaitGroup
		measured = time.Now().Add(l.Warmup)
		end      = measured.Add(l.Duration)
	)
	for g := range l.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(l.Seed, uint64(g)))
			value := make([]byte, l.ValueSize)
			var my []time.Duration
			var errs, myRows int
			var first string
			for {
				if ctx.Err() != nil {
					break
				}
				start := time.Now()
				if start.After(end) {
					break
				}
				var err error
				var n int
				i := rng.IntN(l.Keys)
				rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				switch l.Workload {
				case "put":
					for j := range value {
						value[j] = byte('a' + rng.IntN(26))
					}
					err = kv.Put(rctx, Key(i), value)
				case "get":
					err = kv.Get(rctx, Key(i))
				case "range":
					i = rng.IntN(max(1, l.Keys-l.RangeSize))
					n, err = kv.Range(rctx, Key(i), Key(i+l.RangeSize), l.RangeSize)
					if err == nil && n != l.RangeSize {
						err = fmt.Errorf("range from %s: %d pairs, want %d", Key(i), n, l.RangeSize)
					}
				}
				cancel()
				if start.Before(measured) {
					continue
				}
				if err != nil {
					errs++
					if first == "" {
						first = err.Error()
					}
					continue
				}
				my = append(my, time.Since(start))
				myRows += n
			}
			mu.Lock()
			lats = append(lats, my...)
			out.Errors += errs
			rows += myRows
			if out.FirstErr == "" {
				out.FirstErr = first
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return out, err
	}
	out.Seconds = l.Duration.Seconds()
	out.Ops = len(lats)
	if len(lats) > 0 {
		slices.Sort(lats)
		q := func(p float64) float64 {
			return float64(lats[min(len(lats)-1, int(p*float64(len(lats))))].Nanoseconds()) / 1e3
		}
		out.P50, out.P90, out.P99, out.P999 = q(0.50), q(0.90), q(0.99), q(0.999)
		out.Max = float64(lats[len(lats)-1].Nanoseconds()) / 1e3
		out.Rows = float64(rows) / float64(len(lats))
	}
	return out, nil
}

// Preload writes keys 0..n-1 with values of size bytes, with clients
// goroutines, and returns how many it wrote. With random, the values are
// random bytes (incompressible); else a repeating pattern of letters.
func Preload(ctx context.Context, kv KV, n, size, clients int, random bool) (int, error) {
	var wg sync.WaitGroup
	var written atomic.Int64
	errc := make(chan error, clients)
	next := make(chan int)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			value := make([]byte, size)
			rng := rand.New(rand.NewPCG(uint64(n), uint64(size)))
			for i := range next {
				for j := range value {
					value[j] = byte('a' + (i+j)%26)
				}
				if random {
					for j := 0; j+8 <= len(value); j += 8 {
						binary.LittleEndian.PutUint64(value[j:], rng.Uint64())
					}
				}
				var err error
				for attempt := 0; attempt < 5; attempt++ {
					rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
					err = kv.Put(rctx, Key(i), value)
					cancel()
					if err == nil || ctx.Err() != nil {
						break
					}
				}
				if err != nil {
					errc <- fmt.Errorf("preload %s: %w", Key(i), err)
					return
				}
				written.Add(1)
			}
		}()
	}
	var err error
feed:
	for i := range n {
		select {
		case next <- i:
		case err = <-errc:
			break feed
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errc:
		default:
		}
	}
	return int(written.Load()), err
}
