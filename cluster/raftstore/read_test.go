package raftstore

import (
	"context"
	"testing"
	"time"

	"github.com/strata-db/strata"
	"github.com/strata-db/strata/cluster/clusterpb"
)

// openSingle opens a store on node 1 of a memory file system hosting
// region 1 (the whole key space) with one voter, and waits until it leads.
func openSingle(t *testing.T, cfg Config) *Store {
	t.Helper()
	cfg.NodeID, cfg.Dir, cfg.Transport = 1, "/s", nopTransport{}
	if cfg.DBOptions == nil {
		cfg.DBOptions = &strata.Options{FS: strata.NewMemFS()}
	}
	if cfg.TickInterval == 0 {
		cfg.TickInterval = time.Millisecond
	}
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	if err := s.Bootstrap(&clusterpb.Region{Id: 1, Peers: []*clusterpb.Peer{{Id: 1, NodeId: 1}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Campaign(1); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		sts, err := s.Regions()
		if err == nil && len(sts) == 1 && sts[0].IsLeader {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("no leader: %v %v", sts, err)
		}
		time.Sleep(time.Millisecond)
	}
}

func rctx(mode clusterpb.ReadMode) *clusterpb.RequestContext {
	return &clusterpb.RequestContext{RegionId: 1, Epoch: &clusterpb.RegionEpoch{ConfVer: 1, Version: 1}, ReadMode: mode}
}

// TestReadPinnedAtConfirmation removes the replica between the moment the
// loop confirms a read and the moment the reader reads (a test hook): the
// read must still see the region's state it was confirmed against (the
// key), not the range-deleted data of the removed replica. It fails if
// reads go to the live database.
func TestReadPinnedAtConfirmation(t *testing.T) {
	for _, mode := range []clusterpb.ReadMode{clusterpb.ReadMode_LINEARIZABLE, clusterpb.ReadMode_STALE} {
		for _, op := range []string{"get", "scan"} {
			t.Run(mode.String()+"/"+op, func(t *testing.T) {
				s := openSingle(t, Config{})
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				resp, err := s.Write(ctx, &clusterpb.WriteRequest{Context: rctx(0),
					Mutations: []*clusterpb.Mutation{{Op: clusterpb.Mutation_PUT, Key: []byte("k"), Value: []byte("v")}}})
				if err != nil || !resp.GetSucceeded() {
					t.Fatalf("put: %v %v", resp, err)
				}
				testHookReadConfirmed = func() {
					// A newer member's tombstone: the replica is destroyed
					// and its data range-deleted, by the loop.
					err := s.Step(&clusterpb.RaftMessage{RegionId: 1, FromPeer: &clusterpb.Peer{Id: 9, NodeId: 9}, ToPeer: &clusterpb.Peer{Id: 1, NodeId: 1},
						Epoch: &clusterpb.RegionEpoch{ConfVer: 5, Version: 1}, IsTombstone: true})
					if err != nil {
						t.Errorf("step: %v", err)
					}
					for {
						if sts, err := s.Regions(); err != nil || len(sts) == 0 {
							return
						}
						time.Sleep(time.Millisecond)
					}
				}
				defer func() { testHookReadConfirmed = nil }()
				switch op {
				case "get":
					g, err := s.Get(ctx, &clusterpb.GetRequest{Context: rctx(mode), Key: []byte("k")})
					if err != nil || g.GetRegionError() != nil || !g.GetFound() || string(g.GetValue()) != "v" {
						t.Fatalf("get = %v, %v; want the value confirmed before the removal", g, err)
					}
				case "scan":
					sc, err := s.Scan(ctx, &clusterpb.ScanRequest{Context: rctx(mode), StartKey: []byte("a")})
					if err != nil || sc.GetRegionError() != nil || len(sc.GetPairs()) != 1 {
						t.Fatalf("scan = %v, %v; want the pair confirmed before the removal", sc, err)
					}
				}
				if sts, _ := s.Regions(); len(sts) != 0 {
					t.Fatalf("the replica was not removed: %v", sts)
				}
			})
		}
	}
}
