package transport

import (
	"context"
	"io"
	"sync"
	"testing"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/strata-db/strata/cluster/clusterpb"
)

// recorder is a RaftHandler that keeps what it is given, optionally
// blocking each Step until gate is closed.
type recorder struct {
	mu   sync.Mutex
	msgs []*clusterpb.RaftMessage
	gate chan struct{} // nil: never blocks
}

func (r *recorder) Step(m *clusterpb.RaftMessage) error {
	if r.gate != nil {
		<-r.gate
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, m)
	return nil
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs)
}

func (r *recorder) snapshot() []*clusterpb.RaftMessage {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*clusterpb.RaftMessage(nil), r.msgs...)
}

// fakeKV answers every request with a fixed response.
type fakeKV struct{}

func (fakeKV) Get(ctx context.Context, req *clusterpb.GetRequest) (*clusterpb.GetResponse, error) {
	return &clusterpb.GetResponse{Found: true, Value: append([]byte("v:"), req.Key...)}, nil
}

func (fakeKV) Scan(ctx context.Context, req *clusterpb.ScanRequest) (*clusterpb.ScanResponse, error) {
	return &clusterpb.ScanResponse{Pairs: []*clusterpb.KvPair{{Key: req.StartKey}}}, nil
}

func (fakeKV) Write(ctx context.Context, req *clusterpb.WriteRequest) (*clusterpb.WriteResponse, error) {
	return &clusterpb.WriteResponse{Succeeded: true}, nil
}

// fakePD answers with an empty region.
type fakePD struct{}

func (fakePD) GetRegion(ctx context.Context, req *clusterpb.GetRegionRequest) (*clusterpb.GetRegionResponse, error) {
	return &clusterpb.GetRegionResponse{Region: &clusterpb.Region{Id: 1}}, nil
}

func (fakePD) ScanRegions(ctx context.Context, req *clusterpb.ScanRegionsRequest) (*clusterpb.ScanRegionsResponse, error) {
	return &clusterpb.ScanRegionsResponse{}, nil
}

// snapSink is a SnapshotReceiver that reads the data whole.
type snapSink struct {
	mu   sync.Mutex
	got  map[uint64][]byte // region → data
	fail error
}

func (s *snapSink) ReceiveSnapshot(ctx context.Context, m *clusterpb.RaftMessage, data io.Reader) error {
	b, err := io.ReadAll(data)
	if err != nil {
		return err
	}
	if s.fail != nil {
		return s.fail
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.got == nil {
		s.got = map[uint64][]byte{}
	}
	s.got[m.RegionId] = b
	return nil
}

// reports collects Unreachable and SnapshotStatus calls.
type reports struct {
	mu          sync.Mutex
	unreachable map[[2]uint64]int
	snaps       map[[2]uint64]raft.SnapshotStatus
}

func (r *reports) unreach(region, peer uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.unreachable == nil {
		r.unreachable = map[[2]uint64]int{}
	}
	r.unreachable[[2]uint64{region, peer}]++
}

func (r *reports) snap(region, peer uint64, st raft.SnapshotStatus) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.snaps == nil {
		r.snaps = map[[2]uint64]raft.SnapshotStatus{}
	}
	r.snaps[[2]uint64{region, peer}] = st
}

func (r *reports) unreachableCount(region, peer uint64) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.unreachable[[2]uint64{region, peer}]
}

func (r *reports) snapStatus(region, peer uint64) (raft.SnapshotStatus, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, ok := r.snaps[[2]uint64{region, peer}]
	return st, ok
}

// appMsg returns a MsgApp for region from node 1's peer to node to's peer,
// carrying one entry of size bytes with index seq.
func appMsg(region, toNode, seq uint64, size int) *clusterpb.RaftMessage {
	return &clusterpb.RaftMessage{
		RegionId: region,
		FromPeer: &clusterpb.Peer{Id: region*10 + 1, NodeId: 1},
		ToPeer:   &clusterpb.Peer{Id: region*10 + toNode, NodeId: toNode},
		Epoch:    &clusterpb.RegionEpoch{ConfVer: 1, Version: 1},
		Message: &raftpb.Message{
			Type:    raftpb.MessageType_MsgApp.Enum(),
			To:      proto.Uint64(region*10 + toNode),
			From:    proto.Uint64(region*10 + 1),
			Term:    proto.Uint64(1),
			Index:   proto.Uint64(seq),
			Entries: []*raftpb.Entry{{Term: proto.Uint64(1), Index: proto.Uint64(seq + 1), Data: make([]byte, size)}},
		},
	}
}

// startServer starts a server on a loopback port with cfg, closed at the
// test's end.
func startServer(t testing.TB, cfg ServerConfig) *Server {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(time.Second) })
	return s
}

// newTransport makes a transport closed at the test's end.
func newTransport(t testing.TB, cfg Config) *Transport {
	t.Helper()
	tr, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

// waitFor polls cond until it holds, failing the test after a generous
// minute (a deadlock guard, not a timing assertion).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// resendUntil sends a fresh message from msg every few milliseconds, as
// raft retransmits, until cond holds.
func resendUntil(t testing.TB, tr *Transport, what string, cond func() bool, msg func() *clusterpb.RaftMessage) {
	t.Helper()
	waitFor(t, what, func() bool {
		tr.Send([]*clusterpb.RaftMessage{msg()})
		time.Sleep(5 * time.Millisecond)
		return cond()
	})
}
