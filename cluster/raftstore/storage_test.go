package raftstore

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/strata-db/strata"
	"github.com/strata-db/strata/cluster/clusterpb"
)

// TestKeyLayout pins the byte layout documented in keys.go.
func TestKeyLayout(t *testing.T) {
	for _, tc := range []struct {
		name string
		key  []byte
		want string
	}{
		{"ident", storeIdentKey, "0101"},
		{"log entry", raftLogKey(0x0102, 7), "0102000000000000010201" + "0000000000000007"},
		{"log start", logRangeStart(3), "010200000000000000030" + "1"},
		{"log end", logRangeEnd(3), "010200000000000000030" + "2"},
		{"hard state", hardStateKey(3), "0102000000000000000302"},
		{"apply state", applyStateKey(3), "0102000000000000000303"},
		{"region state", regionStateKey(3), "0103000000000000000301"},
		{"data", dataKey([]byte("ab")), "7a6162"},
		{"data end of the key space", dataEnd(nil), "7b"},
	} {
		if got := fmt.Sprintf("%x", tc.key); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
	// Log keys sort by index, and every key of a region's log sorts before
	// its hard state.
	if bytes.Compare(raftLogKey(1, 255), raftLogKey(1, 256)) >= 0 || bytes.Compare(raftLogKey(1, 1<<60), hardStateKey(1)) >= 0 ||
		bytes.Compare(logRangeEnd(1), raftLogKey(2, 0)) >= 0 {
		t.Error("log keys do not sort by (region, index)")
	}
	if id, err := regionIDFromStateKey(regionStateKey(42)); err != nil || id != 42 {
		t.Errorf("regionIDFromStateKey = %d, %v", id, err)
	}
}

func entry(index, term uint64) *pb.Entry {
	return &pb.Entry{Index: proto.Uint64(index), Term: proto.Uint64(term), Data: []byte(fmt.Sprint(index))}
}

// TestPeerStorage checks raft.Storage over the database: append, overwrite
// of a suffix, truncation, reload.
func TestPeerStorage(t *testing.T) {
	db, err := strata.Open("/db", &strata.Options{FS: strata.NewMemFS()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	region := &clusterpb.Region{Id: 9, Epoch: &clusterpb.RegionEpoch{ConfVer: 1, Version: 1}, Peers: []*clusterpb.Peer{{Id: 1, NodeId: 1}, {Id: 2, NodeId: 2}}}
	b := db.NewBatch()
	if err := writeInitialState(b, region); err != nil {
		t.Fatal(err)
	}
	if err := db.Write(b, nil); err != nil {
		t.Fatal(err)
	}
	ps, err := loadPeerStorage(db, region)
	if err != nil {
		t.Fatal(err)
	}
	write := func(es ...*pb.Entry) {
		t.Helper()
		b := db.NewBatch()
		if err := ps.append(b, es); err != nil {
			t.Fatal(err)
		}
		if err := db.Write(b, nil); err != nil {
			t.Fatal(err)
		}
		ps.commitAppend(es)
	}
	write(entry(6, 6), entry(7, 6), entry(8, 6), entry(9, 6))
	write(entry(8, 7)) // a new leader overwrites 8 and drops 9
	check := func(ps *peerStorage) {
		t.Helper()
		if f, _ := ps.FirstIndex(); f != 6 {
			t.Errorf("first = %d", f)
		}
		if l, _ := ps.LastIndex(); l != 8 {
			t.Errorf("last = %d", l)
		}
		for _, tc := range []struct {
			i, term uint64
			err     error
		}{{4, 0, raft.ErrCompacted}, {5, 5, nil}, {7, 6, nil}, {8, 7, nil}, {9, 0, raft.ErrUnavailable}} {
			term, err := ps.Term(tc.i)
			if term != tc.term || !errors.Is(err, tc.err) {
				t.Errorf("Term(%d) = %d, %v; want %d, %v", tc.i, term, err, tc.term, tc.err)
			}
		}
		es, err := ps.Entries(6, 9, 1<<20)
		if err != nil || len(es) != 3 || es[2].GetTerm() != 7 {
			t.Errorf("Entries(6, 9) = %v, %v", es, err)
		}
		if es, err := ps.Entries(6, 9, 1); err != nil || len(es) != 1 {
			t.Errorf("Entries(6, 9, 1 byte) = %d entries, %v; want 1", len(es), err)
		}
		if _, err := ps.Entries(5, 7, 1<<20); !errors.Is(err, raft.ErrCompacted) {
			t.Errorf("Entries(5, 7) = %v, want ErrCompacted", err)
		}
	}
	check(ps)
	hs := &pb.HardState{Term: proto.Uint64(7), Vote: proto.Uint64(2), Commit: proto.Uint64(8)}
	b = db.NewBatch()
	if err := ps.setHardState(b, hs); err != nil {
		t.Fatal(err)
	}
	if err := db.Write(b, nil); err != nil {
		t.Fatal(err)
	}
	reloaded, err := loadPeerStorage(db, region)
	if err != nil {
		t.Fatal(err)
	}
	check(reloaded)
	got, cs, err := reloaded.InitialState()
	if err != nil || !proto.Equal(got, hs) || fmt.Sprint(cs.GetVoters()) != "[1 2]" {
		t.Errorf("InitialState = %v %v %v", got, cs, err)
	}
	// Truncation.
	b = db.NewBatch()
	b.DeleteRange(logRangeStart(9), raftLogKey(9, 8))
	reloaded.compact(7, 6)
	if err := putProto(b, applyStateKey(9), reloaded.apply); err != nil {
		t.Fatal(err)
	}
	if err := db.Write(b, nil); err != nil {
		t.Fatal(err)
	}
	again, err := loadPeerStorage(db, region)
	if err != nil {
		t.Fatal(err)
	}
	if f, _ := again.FirstIndex(); f != 8 {
		t.Errorf("first after truncation = %d, want 8", f)
	}
	if term, err := again.Term(7); term != 6 || err != nil {
		t.Errorf("Term(7) after truncation = %d, %v", term, err)
	}
}
