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

// TestRestartedSingleVoterReadsItsWholeLog: a single voter restarted from
// only what it synced (its log, and a hard state whose commit index is
// older: the round that recorded the last commit was not synced) must not
// serve a read before it has applied that log. etcd raft answers a single
// voter's ReadIndex at once with the commit index it knows, so a read asked
// for in the same loop turn as the campaign (before the first round
// persists the new term's entry and advances the commit index) ran at the
// old commit index and missed the last acknowledged write, which
// TestCrashKeepsAppliedWithData caught by chance (4 runs in 40). Both read
// modes: a lease taken from that confirmation must not serve it either.
func TestRestartedSingleVoterReadsItsWholeLog(t *testing.T) {
	for _, mode := range []clusterpb.ReadMode{clusterpb.ReadMode_LINEARIZABLE, clusterpb.ReadMode_LEASE} {
		fs := strata.NewMemFS()
		s := openSingle(t, Config{DBOptions: &strata.Options{FS: fs}})
		const n = 20
		for i := range n {
			resp, err := s.Write(context.Background(), putReq(rctx(0), fmt.Sprintf("k%05d", i), fmt.Sprintf("v%d", i)))
			if err != nil || !resp.GetSucceeded() {
				t.Fatalf("write %d: %v %v", i, resp, err)
			}
		}
		// What was synced, nothing more (the engine's MemFS.CrashClone).
		clone := reflect.ValueOf(fs).MethodByName("CrashClone").Call(nil)[0].Interface().(strata.FS)
		s2, err := Open(Config{NodeID: 1, Dir: "/s", DBOptions: &strata.Options{FS: clone}, Transport: nopTransport{}, TickInterval: time.Millisecond, LeaseReads: true})
		if err != nil {
			t.Fatal(err)
		}
		// Campaign, then ask for the reads in the first loop turn that
		// finds the replica leading: raft appended the term's first entry
		// as it became leader, but the round that persists and commits it
		// has not run yet (the loop handles queued calls before each
		// round).
		if err := s2.Campaign(1); err != nil {
			t.Fatal(err)
		}
		ch := make(chan readResult, 2)
		window := false
		for issued := false; !issued; {
			if err := s2.call(func() error {
				p := s2.peers[1]
				if !p.isLeader() {
					return nil
				}
				issued = true
				st := p.rn.BasicStatus()
				term, _ := p.ps.Term(st.HardState.GetCommit())
				window = term != st.HardState.GetTerm()
				for range 2 { // the second one may find the first one's lease
					w := &readWaiter{version: p.region().GetEpoch().GetVersion(), ch: ch}
					if mode == clusterpb.ReadMode_LEASE && p.leaseRead(w) {
						continue
					}
					p.readIndex(w)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		if !window {
			t.Logf("%v: the reads came after the term's first entry was committed", mode)
		}
		for range 2 {
			var r readResult
			select {
			case r = <-ch:
			case <-time.After(20 * time.Second):
				t.Fatalf("%v: no read answered in 20 s", mode)
			}
			if r.err != nil || r.regionErr != nil {
				t.Fatalf("%v: read: %v %v", mode, r.err, r.regionErr)
			}
			it := r.pin.snap.NewIterator(&strata.IterOptions{LowerBound: dataKey([]byte("k")), UpperBound: dataKey([]byte("l"))})
			got := 0
			for ok := it.First(); ok; ok = it.Next() {
				got++
			}
			if err := it.Close(); err != nil {
				t.Fatal(err)
			}
			r.pin.release()
			if got != n {
				t.Errorf("%v: the restarted store's first read sees %d of %d acknowledged writes", mode, got, n)
			}
		}
		if err := s2.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
