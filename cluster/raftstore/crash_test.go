package raftstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-db/strata"
	"github.com/strata-db/strata/cluster/clusterpb"
)

// crashCloneWith returns what a power cut would leave of a memory file
// system now, keeping of every file a random prefix (drawn from rng) of
// the bytes written since its last sync (the engine's MemFS, reached by
// reflection: its type is internal).
func crashCloneWith(t *testing.T, fs strata.FS, rng *rand.Rand) strata.FS {
	m := reflect.ValueOf(fs).MethodByName("CrashCloneWith")
	if !m.IsValid() {
		t.Fatal("the memory file system has no CrashCloneWith")
	}
	return m.Call([]reflect.Value{reflect.ValueOf(rng)})[0].Interface().(strata.FS)
}

// TestCrashKeepsAppliedWithData cuts the power of a single-voter store
// again and again while it takes puts and compare-and-swaps (a condition
// splits a round's write in two), each cut keeping a random part of what
// was not synced, and restarts a copy of it each time: every write
// acknowledged before the cut must be there once the copy has applied its
// log. The round's Raft state and what it applied go in one write; were the
// applied index ever durable without the data it covers, the restarted
// store would not apply that data again and a write would be missing.
func TestCrashKeepsAppliedWithData(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	fs := strata.NewMemFS()
	s := openSingle(t, Config{DBOptions: &strata.Options{FS: fs}})
	var acked atomic.Int64 // writes 0 .. acked-1 are acknowledged
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			req := putReq(rctx(0), fmt.Sprintf("k%05d", i), fmt.Sprintf("v%d", i))
			if i%5 == 4 { // must be absent: a condition read mid-round
				req.Conditions = []*clusterpb.Condition{{Key: []byte(fmt.Sprintf("k%05d", i))}}
			}
			resp, err := s.Write(context.Background(), req)
			if err != nil || !resp.GetSucceeded() {
				t.Errorf("write %d: %v %v", i, resp, err)
				return
			}
			acked.Store(int64(i + 1))
		}
	}()
	defer func() {
		close(stop)
		wg.Wait()
	}()
	for cut := range 12 {
		time.Sleep(time.Duration(rng.IntN(3000)) * time.Microsecond)
		before := acked.Load()
		clone := crashCloneWith(t, fs, rng)
		s2, err := Open(Config{NodeID: 1, Dir: "/s", DBOptions: &strata.Options{FS: clone}, Transport: nopTransport{}, TickInterval: time.Millisecond})
		if err != nil {
			t.Fatalf("cut %d (%d writes acknowledged): reopening: %v", cut, before, err)
		}
		if err := s2.Campaign(1); err != nil {
			s2.Close()
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		var sc *clusterpb.ScanResponse
		for { // linearizable: once the restarted leader has applied its log
			sc, err = s2.Scan(ctx, &clusterpb.ScanRequest{Context: rctx(0), StartKey: []byte("k"), EndKey: []byte("l")})
			if err != nil || sc.GetRegionError() == nil {
				break
			}
			time.Sleep(time.Millisecond)
		}
		cancel()
		if err != nil {
			s2.Close()
			t.Fatalf("cut %d: scan: %v", cut, err)
		}
		got := map[string]string{}
		for _, kv := range sc.GetPairs() {
			got[string(kv.GetKey())] = string(kv.GetValue())
		}
		var missing []int64
		for i := range before {
			if got[fmt.Sprintf("k%05d", i)] != fmt.Sprintf("v%d", i) {
				missing = append(missing, i)
			}
		}
		if err := s2.Close(); err != nil {
			t.Fatal(err)
		}
		if len(missing) > 0 {
			t.Fatalf("cut %d: %d of %d acknowledged writes missing after the restart (first %d)", cut, len(missing), before, missing[0])
		}
	}
}
