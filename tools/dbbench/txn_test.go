package dbbench

import (
	"flag"
	"math"
	"strings"
	"testing"
)

// TestTxnBenchmarks runs the transaction benchmarks on Strata, optimistic
// and pessimistic, and checks their counts, their retry tails and what
// they left in the database.
func TestTxnBenchmarks(t *testing.T) {
	for _, pessimistic := range []bool{false, true} {
		cfg := testConfig(t, 500, "fillseq", "txnrmw", "txnbatch", "txncontended")
		cfg.Threads, cfg.Writes = 4, 200
		cfg.TxnPessimistic, cfg.TxnKeys = pessimistic, 50
		out, results := runBench(t, cfg)
		if len(results) != 4 {
			t.Fatalf("pessimistic=%v: %d results:\n%s", pessimistic, len(results), out)
		}
		for _, r := range results[1:] {
			s, ok := ParseTxnMessage(r.Message)
			if !ok {
				t.Fatalf("%s: no retry counts in %q", r.Name, r.Message)
			}
			want, ops := int64(4*200), int64(4*200)
			if r.Name == "txnbatch" {
				want = 4 * 200 / DefaultTxnWrites
			}
			if s.Committed != want || r.Ops != ops {
				t.Errorf("%s: %d committed, %d ops; want %d and %d", r.Name, s.Committed, r.Ops, want, ops)
			}
			if s.P50 > s.P99 || s.P99 > s.MaxRetries || s.Retried > s.Committed {
				t.Errorf("%s: retry counts out of order: %+v", r.Name, s)
			}
		}
	}
}

// TestTxnFlags: the transaction flags parse and are validated.
func TestTxnFlags(t *testing.T) {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	if err := fs.Parse([]string{"--benchmarks=txncontended", "--txn_pessimistic", "--txn_keys=10", "--zipf_theta=0.5", "--txn_writes=3"}); err != nil {
		t.Fatal(err)
	}
	if !cfg.TxnPessimistic || cfg.TxnKeys != 10 || cfg.ZipfTheta != 0.5 || cfg.TxnWrites != 3 {
		t.Fatalf("flags not set: %+v", cfg.TxnConfig)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []TxnConfig{{TxnKeys: 1}, {ZipfTheta: 1}, {TxnWrites: -1}} {
		c := DefaultConfig()
		c.TxnConfig = bad
		if err := c.Validate(); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
	if ErrNoPessimistic("x").Error() == "" || !strings.Contains(ErrNoPessimistic("x").Error(), "pessimistic") {
		t.Fatal("ErrNoPessimistic")
	}
}

// TestZipfian checks the generator's frequencies against the Zipfian law:
// rank i is drawn with probability (1/(i+1)^theta) / zeta(n), exactly for
// ranks 0 and 1, approximately beyond (Gray et al.'s method).
func TestZipfian(t *testing.T) {
	const n, draws = 1000, 400000
	z := newZipfian(n, 0.99)
	rnd := NewRandom(301)
	counts := make([]int, n)
	for i := 0; i < draws; i++ {
		counts[z.rank(float64(rnd.Next())/2147483647)]++
	}
	for _, rank := range []int{0, 1} {
		want := draws / math.Pow(float64(rank+1), 0.99) / z.zetan
		if got := float64(counts[rank]); math.Abs(got-want) > 0.05*want {
			t.Errorf("rank %d drawn %v times, want about %.0f", rank, got, want)
		}
	}
	// The hottest 1% of the keys take a large share of the draws.
	hot := 0
	for _, c := range counts[:10] {
		hot += c
	}
	if share := float64(hot) / draws; share < 0.3 || share > 0.5 {
		t.Errorf("top 10 of 1000 keys drew %.2f of the draws, want about 0.39", share)
	}
}

func TestRetriesAt(t *testing.T) {
	counts := make([]int64, 10)
	counts[0], counts[1], counts[7] = 97, 2, 1 // 100 transactions
	for _, tc := range []struct {
		q    float64
		want int
	}{{0.5, 0}, {0.97, 0}, {0.98, 1}, {0.99, 1}, {1, 7}} {
		if got := retriesAt(counts, 100, tc.q); got != tc.want {
			t.Errorf("q %v: %d, want %d", tc.q, got, tc.want)
		}
	}
	if got := retriesAt(counts, 0, 0.5); got != 0 {
		t.Errorf("no transactions: %d", got)
	}
}
