package strata

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/strata-db/strata/internal/testenv"
)

// BenchmarkTxnVsBatch is issue 25's cost of conflict checking: a
// serializable transaction (DB.Update, optimistic; and pessimistic, which
// also locks every key it writes) writing the same keys as a plain Batch
// (DB.Write), unsynced, one goroutine, 16-byte keys drawn uniformly from 1M
// and 100-byte values. Each sub-benchmark opens its own database. The
// sub-benchmarks run one after the other within each -count, so that
// `go test -run XXX -bench TxnVsBatch -count 6` interleaves them; the
// target is txn at most 25% slower than batch (time per op, medians).
//
// Each also reports cpu-ns/op, the process's CPU time (user and system,
// background flushes and compactions included) per operation: on a shared
// machine, where wall time swings with other work, it is the steadier
// measure of what a transaction costs. Give every sub-benchmark the same
// number of operations (-benchtime 100000x), so that each does the same
// background work per operation:
//
//	go test -run XXX -bench TxnVsBatch -benchtime 100000x -count 6 .
func BenchmarkTxnVsBatch(b *testing.B) {
	for _, writes := range []int{2, 10} {
		for _, mode := range []string{"batch", "txn", "txn-pessimistic"} {
			b.Run(fmt.Sprintf("writes=%d/%s", writes, mode), func(b *testing.B) {
				benchTxnVsBatch(b, writes, mode)
			})
		}
	}
}

func benchTxnVsBatch(b *testing.B, writes int, mode string) {
	db := openBenchDB(b, b.TempDir())
	defer db.Close()
	rng := rand.New(rand.NewPCG(7, uint64(writes)))
	keys := make([][]byte, writes)
	for i := range keys {
		keys[i] = make([]byte, 0, 16)
	}
	draw := func(i int) {
		for j := range keys {
			keys[j] = benchKey(keys[j], rng.IntN(1_000_000))
		}
	}
	ctx := context.Background()
	opts := &TxnOptions{Pessimistic: mode == "txn-pessimistic"}
	batch := db.NewBatch()
	put := func(tx *Txn) error {
		for j, k := range keys {
			if err := tx.Put(k, benchValue(j)); err != nil {
				return err
			}
		}
		return nil
	}
	b.SetBytes(int64(writes * (16 + benchValueSize)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu := testenv.StartCPU()
	for i := 0; i < b.N; i++ {
		draw(i)
		var err error
		if mode == "batch" {
			batch.Reset()
			for j, k := range keys {
				batch.Put(k, benchValue(j))
			}
			err = db.Write(batch, nil)
		} else {
			err = db.UpdateWith(ctx, opts, put)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	cpu.Report(b)
}

// BenchmarkTxnOverlapping commits short serializable transactions that
// overlap, as a server's connections' do: one goroutine keeps `open`
// transactions in flight, each reading one key and writing three (16-byte
// keys drawn uniformly from 1M, 100-byte values), beginning a new one and
// committing the oldest at every step. Some transaction is always open, so
// every commit is checked against, and recorded in, the conflict set; how
// large that set is allowed to grow (the history older than every open
// transaction is kept until it is trimmed) decides what each costs.
//
//	go test -run XXX -bench TxnOverlapping -benchtime 200000x -count 6 .
func BenchmarkTxnOverlapping(b *testing.B) {
	for _, open := range []int{2, 8} {
		b.Run(fmt.Sprintf("open=%d", open), func(b *testing.B) {
			db := openBenchDB(b, b.TempDir())
			defer db.Close()
			rng := rand.New(rand.NewPCG(11, uint64(open)))
			var key []byte
			ring := make([]*Txn, open)
			b.SetBytes(3 * (16 + benchValueSize))
			b.ReportAllocs()
			b.ResetTimer()
			cpu := testenv.StartCPU()
			conflicts := 0
			for i := 0; i < b.N+open; i++ {
				slot := i % open
				if tx := ring[slot]; tx != nil {
					if err := tx.Commit(); err != nil {
						if !IsRetryable(err) {
							b.Fatal(err)
						}
						conflicts++
					}
					ring[slot] = nil
				}
				if i >= b.N {
					continue
				}
				tx, err := db.BeginTxn(context.Background(), nil)
				if err != nil {
					b.Fatal(err)
				}
				key = benchKey(key, rng.IntN(1_000_000))
				if _, err := tx.Get(key); err != nil && !errors.Is(err, ErrNotFound) {
					b.Fatal(err)
				}
				for j := 0; j < 3; j++ {
					key = benchKey(key, rng.IntN(1_000_000))
					if err := tx.Put(key, benchValue(j)); err != nil {
						b.Fatal(err)
					}
				}
				ring[slot] = tx
			}
			cpu.Report(b)
			b.ReportMetric(float64(conflicts)/float64(b.N), "conflicts/op")
		})
	}
}
