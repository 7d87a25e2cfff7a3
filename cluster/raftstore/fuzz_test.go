package raftstore

import (
	"bytes"
	"context"
	"testing"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/strata-db/strata"
	"github.com/strata-db/strata/cluster/clusterpb"
)

type nopTransport struct{}

func (nopTransport) Send([]*clusterpb.RaftMessage) {}

// FuzzStep feeds messages decoded from arbitrary bytes to a store hosting a
// region: whatever arrives, the store must neither crash nor stop.
func FuzzStep(f *testing.F) {
	msg := func(t pb.MessageType, term, index, logTerm, commit uint64, es ...*pb.Entry) []byte {
		m := &clusterpb.RaftMessage{RegionId: 1, FromPeer: &clusterpb.Peer{Id: 2, NodeId: 2}, ToPeer: &clusterpb.Peer{Id: 1, NodeId: 1},
			Message: &pb.Message{Type: t.Enum(), From: proto.Uint64(2), To: proto.Uint64(1), Term: proto.Uint64(term),
				Index: proto.Uint64(index), LogTerm: proto.Uint64(logTerm), Commit: proto.Uint64(commit), Entries: es}}
		b, _ := proto.Marshal(m)
		return b
	}
	f.Add(msg(pb.MessageType_MsgHeartbeat, 6, 0, 0, 5))
	f.Add(msg(pb.MessageType_MsgApp, 6, 5, 5, 6, &pb.Entry{Index: proto.Uint64(6), Term: proto.Uint64(6)}))
	f.Add(msg(pb.MessageType_MsgApp, 6, 5, 5, 100, &pb.Entry{Index: proto.Uint64(6), Term: proto.Uint64(6), Data: []byte{1, 2}}))
	f.Add(msg(pb.MessageType_MsgVote, 7, 9, 6, 0))
	f.Add(msg(pb.MessageType_MsgHeartbeat, 6, 0, 0, 1000))
	f.Add(msg(pb.MessageType_MsgSnap, 6, 0, 0, 0))
	s, err := Open(Config{NodeID: 1, Dir: "/s", DBOptions: &strata.Options{FS: strata.NewMemFS()}, Transport: nopTransport{},
		TickInterval: time.Millisecond})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	region := &clusterpb.Region{Id: 1, Peers: []*clusterpb.Peer{{Id: 1, NodeId: 1}, {Id: 2, NodeId: 2}, {Id: 3, NodeId: 3}}}
	if err := s.Bootstrap(region); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m := &clusterpb.RaftMessage{}
		if proto.Unmarshal(data, m) != nil {
			return
		}
		_ = s.Step(m)
		if _, err := s.Regions(); err != nil {
			t.Fatalf("store stopped: %v (%v)", err, s.Err())
		}
	})
}

// FuzzReceiveSnapshot feeds a store snapshot messages and streams decoded
// from arbitrary bytes: each must be installed or refused, never crash the
// store or stop it, and leave no staging file behind.
func FuzzReceiveSnapshot(f *testing.F) {
	fs := strata.NewMemFS()
	msg, stream := makeSnapshot(f, fs, region2(), 10, 6, goodTables())
	good, err := proto.Marshal(msg)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good, stream)
	f.Add(good, stream[:len(stream)/2])
	f.Add(good, append(bytes.Clone(stream), 1, 2, 3))
	s := openTestStore(f, fs, func(c *Config) { c.MaxSnapshotBytes = 1 << 20 })
	f.Fuzz(func(t *testing.T, msgData, data []byte) {
		m := &clusterpb.RaftMessage{}
		if proto.Unmarshal(msgData, m) != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.ReceiveSnapshot(ctx, m, bytes.NewReader(data))
		if _, err := s.Regions(); err != nil {
			t.Fatalf("store stopped: %v (%v)", err, s.Err())
		}
		if names := stagingFiles(t, s); len(names) > 0 {
			t.Fatalf("staging files left: %v", names)
		}
	})
}
