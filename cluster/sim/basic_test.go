package sim

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/strata-db/strata/cluster/clusterpb"
	"github.com/strata-db/strata/cluster/raftstore"
)

// fastConfig makes elections take about 100ms.
func fastConfig(c *raftstore.Config) {
	c.TickInterval = 10 * time.Millisecond
	c.ElectionTicks = 10
	c.HeartbeatTicks = 2
}

func newCluster(t *testing.T, o ClusterOptions) *Cluster {
	t.Helper()
	if o.Seed == 0 {
		o.Seed = Seed()
	}
	t.Logf("seed %d (replay: %s=%d)", o.Seed, SeedEnv, o.Seed)
	if o.Config == nil {
		o.Config = fastConfig
	}
	c, err := NewCluster(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	})
	return c
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestBasicOperations(t *testing.T) {
	c := newCluster(t, ClusterOptions{})
	cl := c.Client()
	ctx := ctxT(t, 20*time.Second)
	for i := range 20 {
		if err := cl.Put(ctx, fmt.Appendf(nil, "k%02d", i), fmt.Appendf(nil, "v%d", i)); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}
	v, found, err := cl.Get(ctx, []byte("k07"))
	if err != nil || !found || string(v) != "v7" {
		t.Fatalf("get k07 = %q %v %v", v, found, err)
	}
	if _, found, err := cl.Get(ctx, []byte("nope")); err != nil || found {
		t.Fatalf("get nope = %v %v", found, err)
	}
	ok, err := cl.CompareAndSwap(ctx, []byte("k07"), []byte("v7"), true, []byte("w7"))
	if err != nil || !ok {
		t.Fatalf("cas = %v %v", ok, err)
	}
	ok, err = cl.CompareAndSwap(ctx, []byte("k07"), []byte("v7"), true, []byte("x7"))
	if err != nil || ok {
		t.Fatalf("second cas = %v %v, want a failed condition", ok, err)
	}
	ok, err = cl.CompareAndSwap(ctx, []byte("new"), nil, false, []byte("n"))
	if err != nil || !ok {
		t.Fatalf("cas on absent key = %v %v", ok, err)
	}
	if _, err := cl.Write(ctx, []byte("k10"), nil, []*clusterpb.Mutation{{Op: clusterpb.Mutation_DELETE_RANGE, Key: []byte("k10"), EndKey: []byte("k15")}}); err != nil {
		t.Fatal(err)
	}
	pairs, err := cl.Scan(ctx, []byte("k"), []byte("l"), 0)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, p := range pairs {
		keys = append(keys, string(p.GetKey()))
	}
	want := "[k00 k01 k02 k03 k04 k05 k06 k07 k08 k09 k15 k16 k17 k18 k19]"
	if fmt.Sprint(keys) != want {
		t.Fatalf("scan = %v, want %v", keys, want)
	}
	pairs, err = cl.Scan(ctx, []byte("k"), []byte("l"), 3)
	if err != nil || len(pairs) != 3 || string(pairs[0].GetValue()) != "v0" {
		t.Fatalf("scan with limit = %v %v", pairs, err)
	}
}
