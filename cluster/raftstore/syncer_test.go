package raftstore

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/strata-db/strata/cluster/clusterpb"
)

// TestWriteWaitsForDurableMajority holds back the syncs of some nodes of a
// three-replica region (its leader on node 1) and checks when a write is
// answered (syncer.go): with the leader's syncs held, never (its
// followers' acknowledgements wait in heldAcks, since the leader counts
// its own unsynced log towards the commit); with both followers' held,
// never (their acknowledgements wait in pendingSends); with one
// follower's held, at once (the leader and the other follower are a
// durable majority). Released, the held writes are answered. Without the
// held acknowledgements the first case answers a write only one node has
// on disk.
func TestWriteWaitsForDurableMajority(t *testing.T) {
	for _, tc := range []struct {
		name     string
		held     []uint64
		answered bool
	}{
		{"leader held", []uint64{1}, false},
		{"both followers held", []uint64{2, 3}, false},
		{"one follower held", []uint64{3}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			hold := map[uint64]bool{}
			release := make(chan struct{})
			testHookBeforeSync = func(node uint64) {
				mu.Lock()
				h := hold[node]
				mu.Unlock()
				if h {
					<-release
				}
			}
			// Cleanups run last first: this one after the stores close.
			t.Cleanup(func() { testHookBeforeSync = nil })

			_, stores, region := openThree(t)
			released := false
			defer func() {
				if !released {
					close(release) // before the stores close (t.Cleanup)
				}
			}()
			put := func(ctx context.Context, key string) (*clusterpb.WriteResponse, error) {
				return stores[0].Write(ctx, &clusterpb.WriteRequest{Context: &clusterpb.RequestContext{RegionId: 1, Epoch: region.GetEpoch()},
					Mutations: []*clusterpb.Mutation{{Op: clusterpb.Mutation_PUT, Key: []byte(key), Value: []byte(key)}}})
			}
			// Node 1 leads once a write through it succeeds.
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			for i := 0; ; i++ {
				resp, err := put(ctx, fmt.Sprintf("warm%d", i))
				if err != nil {
					t.Fatal(err)
				}
				if resp.GetRegionError() == nil {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			mu.Lock()
			for _, n := range tc.held {
				hold[n] = true
			}
			mu.Unlock()
			// Every node writes a round (the leader's next write) and asks
			// for a sync, which the held nodes' syncers hold.
			answer := make(chan error, 1)
			go func() {
				resp, err := put(ctx, "k")
				if err == nil && resp.GetRegionError() != nil {
					err = fmt.Errorf("region error: %v", resp.GetRegionError())
				}
				answer <- err
			}()
			select {
			case err := <-answer:
				if !tc.answered {
					t.Fatalf("write answered (%v) while nodes %v had not synced it", err, tc.held)
				}
				if err != nil {
					t.Fatal(err)
				}
				return
			case <-time.After(500 * time.Millisecond):
				if tc.answered {
					t.Fatalf("write not answered with only node %v's syncs held", tc.held)
				}
			}
			close(release)
			released = true
			select {
			case err := <-answer:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("write not answered after the syncs were released")
			}
		})
	}
}
