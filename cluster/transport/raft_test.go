package transport

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/strata-db/strata/cluster/clusterpb"
)

// TestBatchesInOrder sends messages of several regions in Send calls of
// random sizes: the receiver gets every one, in the order sent (one stream
// per node pair), most of them batched.
func TestBatchesInOrder(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	rec := &recorder{}
	srv := startServer(t, ServerConfig{ClusterID: 7, Raft: rec})
	tr := newTransport(t, Config{ClusterID: 7, NodeID: 1, QueueMessages: 1 << 15,
		Resolver: NewMapResolver(map[uint64]string{2: srv.Addr()})})
	const n = 10000
	for seq := 0; seq < n; {
		k := min(1+rng.IntN(64), n-seq)
		msgs := make([]*clusterpb.RaftMessage, k)
		for i := range msgs {
			msgs[i] = appMsg(uint64(1+rng.IntN(5)), 2, uint64(seq), rng.IntN(300))
			seq++
		}
		tr.Send(msgs)
	}
	waitFor(t, "every message", func() bool { return rec.count() == n })
	for i, m := range rec.snapshot() {
		if got := m.Message.GetIndex(); got != uint64(i) {
			t.Fatalf("message %d received has index %d: out of order", i, got)
		}
		if m.ClusterId != 7 {
			t.Fatalf("message %d has cluster id %d, want 7", i, m.ClusterId)
		}
	}
	st, ss := tr.Stats(), srv.Stats()
	t.Logf("transport: %v; server: %d batches, %d messages", st, ss.Batches, ss.Messages)
	if st.Dropped != 0 || st.Messages != n {
		t.Errorf("stats %v: want %d sent, none dropped", st, n)
	}
	if ss.Batches != st.Batches || ss.Messages != n {
		t.Errorf("server got %d batches, %d messages; transport sent %d, %d", ss.Batches, ss.Messages, st.Batches, n)
	}
}

// TestPeerRestartReconnects stops the receiving node and starts it again,
// first on the same address and then on another one the resolver learns:
// the transport reports the node unreachable while it is down and reaches
// it again after each restart.
func TestPeerRestartReconnects(t *testing.T) {
	rec := &recorder{}
	srv := startServer(t, ServerConfig{ClusterID: 1, Raft: rec})
	addr := srv.Addr()
	res := NewMapResolver(map[uint64]string{2: addr})
	rep := &reports{}
	tr := newTransport(t, Config{ClusterID: 1, Resolver: res, MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
		Unreachable: rep.unreach})
	// deliver sends a message every few milliseconds (as raft retransmits)
	// until the handler has one more than want.
	deliver := func(r *recorder, want int) {
		t.Helper()
		resendUntil(t, tr, "a message through", func() bool { return r.count() > want }, func() *clusterpb.RaftMessage { return appMsg(3, 2, 0, 10) })
	}
	deliver(rec, 0)
	if err := srv.Close(0); err != nil {
		t.Fatal(err)
	}
	resendUntil(t, tr, "an unreachable report", func() bool { return rep.unreachableCount(3, 32) > 0 }, func() *clusterpb.RaftMessage { return appMsg(3, 2, 0, 10) })

	// The same address again.
	rec2 := &recorder{}
	srv2 := startServer(t, ServerConfig{ClusterID: 1, Raft: rec2, Listen: addr})
	deliver(rec2, 0)

	// Another address, learnt through the resolver.
	rec3 := &recorder{}
	srv3 := startServer(t, ServerConfig{ClusterID: 1, Raft: rec3})
	res.Set(2, srv3.Addr())
	// The old stream still works; the new address is used once the old
	// node fails (here: it is closed).
	dials := tr.Stats().Dials
	if err := srv2.Close(0); err != nil {
		t.Fatal(err)
	}
	deliver(rec3, 0)
	if d := tr.Stats().Dials; d <= dials {
		t.Errorf("dials %d, before %d: no new stream", d, dials)
	}
	t.Logf("%v", tr.Stats())
}

// TestFullQueueDropsNotBlocks stalls the receiver: the sender's queue fills
// and further messages are dropped and counted, Send never waiting.
func TestFullQueueDropsNotBlocks(t *testing.T) {
	rec := &recorder{gate: make(chan struct{})}
	srv := startServer(t, ServerConfig{ClusterID: 1, Raft: rec})
	const queue = 64
	tr := newTransport(t, Config{ClusterID: 1, QueueMessages: queue, Resolver: NewMapResolver(map[uint64]string{2: srv.Addr()})})
	// 1 KiB entries: gRPC's windows (1 MiB per stream, 4 MiB per
	// connection) plus the queue hold a few thousand; 50,000 must overflow.
	const n = 50000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			tr.Send([]*clusterpb.RaftMessage{appMsg(1, 2, uint64(i), 1<<10)})
		}
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("Send blocked on a stalled receiver")
	}
	st := tr.Stats()
	t.Logf("%v", st)
	if st.QueueFull == 0 || st.Dropped < st.QueueFull {
		t.Errorf("stats %v: want messages dropped because the queue was full", st)
	}
	close(rec.gate)
	waitFor(t, "the sent messages", func() bool { return uint64(rec.count()) == tr.Stats().Messages && len(tr.peers[2].queue) == 0 })
	if got := uint64(rec.count()); got+st.Dropped < n {
		// Messages sent after the snapshot of stats drained the queue.
		t.Logf("received %d, dropped %d of %d", got, st.Dropped, n)
	}
	if b := tr.peers[2].bytes.Load(); b != 0 {
		t.Errorf("queue bytes %d after draining, want 0", b)
	}
}

// TestClusterIDMismatchRefused: a node of another cluster is refused, both
// through the transport (the sender reports the peer unreachable, nothing
// is stepped) and on a raw stream (PermissionDenied naming both ids).
func TestClusterIDMismatchRefused(t *testing.T) {
	rec := &recorder{}
	srv := startServer(t, ServerConfig{ClusterID: 2, Raft: rec})
	rep := &reports{}
	tr := newTransport(t, Config{ClusterID: 1, Unreachable: rep.unreach, MinBackoff: 10 * time.Millisecond,
		Resolver: NewMapResolver(map[uint64]string{2: srv.Addr()})})
	resendUntil(t, tr, "the refusal", func() bool { return rep.unreachableCount(4, 42) > 0 }, func() *clusterpb.RaftMessage { return appMsg(4, 2, 0, 10) })
	if rec.count() != 0 || srv.Stats().Refused == 0 {
		t.Errorf("stepped %d messages, refused %d: want none stepped, refusals counted", rec.count(), srv.Stats().Refused)
	}

	conn, err := Dial(srv.Addr(), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	stream, err := clusterpb.NewRaftClient(conn).Send(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m := appMsg(4, 2, 0, 10)
	m.ClusterId = 9
	stream.Send(&clusterpb.RaftMessageBatch{Msgs: []*clusterpb.RaftMessage{m}})
	_, err = stream.CloseAndRecv()
	if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "cluster 9") || !strings.Contains(err.Error(), "cluster 2") {
		t.Errorf("foreign cluster's batch: %v, want PermissionDenied naming clusters 9 and 2", err)
	}
}

// TestUnreachableReported: a node with no known address, and one where no
// server listens, are reported unreachable for each region peer.
func TestUnreachableReported(t *testing.T) {
	rep := &reports{}
	tr := newTransport(t, Config{ClusterID: 1, Unreachable: rep.unreach, MinBackoff: 10 * time.Millisecond, DialTimeout: time.Second,
		Resolver: NewMapResolver(map[uint64]string{3: "127.0.0.1:1"})})
	tr.Send([]*clusterpb.RaftMessage{appMsg(5, 2, 0, 1), appMsg(6, 2, 0, 1), appMsg(5, 3, 0, 1)})
	waitFor(t, "reports", func() bool {
		return rep.unreachableCount(5, 52) > 0 && rep.unreachableCount(6, 62) > 0 && rep.unreachableCount(5, 53) > 0
	})
	if st := tr.Stats(); st.Dropped != 3 {
		t.Errorf("stats %v: want the 3 messages dropped", st)
	}
}

// snapMsg is a MsgSnap for region to node 2.
func snapMsg(region uint64) *clusterpb.RaftMessage {
	m := appMsg(region, 2, 10, 0)
	m.Message.Type = raftpb.MessageType_MsgSnap.Enum()
	m.Message.Entries = nil
	m.Message.Snapshot = &raftpb.Snapshot{Metadata: &raftpb.SnapshotMetadata{Index: proto64(10), Term: proto64(1)}}
	return m
}

func proto64(v uint64) *uint64 { return &v }

// snapData is a SnapshotSource whose snapshot of region r is data[r].
type snapData map[uint64][]byte

func (d snapData) OpenSnapshot(m *clusterpb.RaftMessage) (io.ReadCloser, error) {
	b, ok := d[m.RegionId]
	if !ok {
		return nil, errors.New("no snapshot")
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

// TestSnapshotStreamed streams snapshots in chunks and reports each one's
// end: received whole, refused by the receiver, or not openable.
func TestSnapshotStreamed(t *testing.T) {
	sink := &snapSink{}
	srv := startServer(t, ServerConfig{ClusterID: 1, Raft: &recorder{}, Snapshots: sink})
	failing := startServer(t, ServerConfig{ClusterID: 1, Raft: &recorder{}, Snapshots: &snapSink{fail: errors.New("disk full")}})
	data := make([]byte, 3<<20+12345)
	for i := range data {
		data[i] = byte(i * 7)
	}
	rep := &reports{}
	src := snapData{1: data, 2: {}}
	tr := newTransport(t, Config{ClusterID: 1, Snapshots: src, SnapshotChunkSize: 256 << 10, SnapshotStatus: rep.snap,
		Resolver: NewMapResolver(map[uint64]string{2: srv.Addr()})})
	tr.Send([]*clusterpb.RaftMessage{snapMsg(1), snapMsg(2), snapMsg(3)})
	waitFor(t, "three snapshot reports", func() bool {
		_, a := rep.snapStatus(1, 12)
		_, b := rep.snapStatus(2, 22)
		_, c := rep.snapStatus(3, 32)
		return a && b && c
	})
	for region, want := range map[uint64]raft.SnapshotStatus{1: raft.SnapshotFinish, 2: raft.SnapshotFinish, 3: raft.SnapshotFailure} {
		if st, _ := rep.snapStatus(region, region*10+2); st != want {
			t.Errorf("region %d: snapshot status %v, want %v", region, st, want)
		}
	}
	sink.mu.Lock()
	got := sink.got[1]
	sink.mu.Unlock()
	if !bytes.Equal(got, data) {
		t.Errorf("region 1: received %d bytes, want the %d sent", len(got), len(data))
	}

	tr2 := newTransport(t, Config{ClusterID: 1, Snapshots: src, SnapshotStatus: rep.snap,
		Resolver: NewMapResolver(map[uint64]string{2: failing.Addr()})})
	m := snapMsg(1)
	m.RegionId, m.ToPeer.Id = 8, 82
	src[8] = []byte("x")
	tr2.Send([]*clusterpb.RaftMessage{m})
	waitFor(t, "the failed snapshot's report", func() bool { _, ok := rep.snapStatus(8, 82); return ok })
	if st, _ := rep.snapStatus(8, 82); st != raft.SnapshotFailure {
		t.Errorf("snapshot refused by the receiver: status %v, want failure", st)
	}
}

// TestCloseWhileStalled closes a transport whose peer stream is stuck on a
// stalled receiver and whose snapshot is being sent: Close returns, and
// Send afterwards drops without panicking.
func TestCloseWhileStalled(t *testing.T) {
	rec := &recorder{gate: make(chan struct{})}
	defer close(rec.gate)
	srv := startServer(t, ServerConfig{ClusterID: 1, Raft: rec, Snapshots: &snapSink{}})
	rep := &reports{}
	tr, err := New(Config{ClusterID: 1, Resolver: NewMapResolver(map[uint64]string{2: srv.Addr()}),
		Snapshots: snapData{1: make([]byte, 64<<20)}, SnapshotStatus: rep.snap})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20000 {
		tr.Send([]*clusterpb.RaftMessage{appMsg(1, 2, uint64(i), 1<<10)})
	}
	tr.Send([]*clusterpb.RaftMessage{snapMsg(1)})
	closed := make(chan error)
	go func() { closed <- tr.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Close hung on a stalled peer")
	}
	tr.Send([]*clusterpb.RaftMessage{appMsg(1, 2, 0, 1), appMsg(1, 3, 0, 1), snapMsg(1)})
	if err := tr.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestInlineSnapshot: without a SnapshotSource, a MsgSnap goes on the
// message stream and is reported finished once sent, failed once dropped.
func TestInlineSnapshot(t *testing.T) {
	rec := &recorder{}
	srv := startServer(t, ServerConfig{ClusterID: 1, Raft: rec})
	rep := &reports{}
	tr := newTransport(t, Config{ClusterID: 1, SnapshotStatus: rep.snap, MinBackoff: 10 * time.Millisecond,
		Resolver: NewMapResolver(map[uint64]string{2: srv.Addr()})})
	m := snapMsg(1)
	m.Message.Snapshot.Data = []byte("inline snapshot")
	tr.Send([]*clusterpb.RaftMessage{m})
	waitFor(t, "the snapshot stepped", func() bool { return rec.count() == 1 })
	waitFor(t, "its report", func() bool { _, ok := rep.snapStatus(1, 12); return ok })
	if st, _ := rep.snapStatus(1, 12); st != raft.SnapshotFinish {
		t.Errorf("inline snapshot sent: status %v, want finish", st)
	}
	if got := rec.snapshot()[0].Message.GetSnapshot().GetData(); string(got) != "inline snapshot" {
		t.Errorf("snapshot data %q", got)
	}

	m = snapMsg(2)
	m.ToPeer.NodeId, m.ToPeer.Id = 3, 23 // no address known
	tr.Send([]*clusterpb.RaftMessage{m})
	waitFor(t, "the failed report", func() bool { _, ok := rep.snapStatus(2, 23); return ok })
	if st, _ := rep.snapStatus(2, 23); st != raft.SnapshotFailure {
		t.Errorf("inline snapshot dropped: status %v, want failure", st)
	}
}

// storeLike has the raft store's method shapes.
type storeLike struct{}

func (storeLike) Send([]*clusterpb.RaftMessage)     {}
func (storeLike) Step(*clusterpb.RaftMessage) error { return nil }
func (storeLike) Get(context.Context, *clusterpb.GetRequest) *clusterpb.GetResponse {
	return &clusterpb.GetResponse{Found: true}
}
func (storeLike) Scan(context.Context, *clusterpb.ScanRequest) *clusterpb.ScanResponse {
	return &clusterpb.ScanResponse{}
}
func (storeLike) Write(context.Context, *clusterpb.WriteRequest) *clusterpb.WriteResponse {
	return &clusterpb.WriteResponse{RegionError: &clusterpb.RegionError{ServerBusy: true}}
}

// The raft store's contract: it hands messages to a Transport's Send, and
// its Step and Get/Scan/Write plug into a Server.
var (
	_ interface {
		Send(msgs []*clusterpb.RaftMessage)
	} = (*Transport)(nil)
	_ RaftHandler = storeLike{}
	_ KVHandler   = KVFromStore(storeLike{})
)

func TestKVFromStore(t *testing.T) {
	srv := startServer(t, ServerConfig{ClusterID: 1, KV: KVFromStore(storeLike{})})
	conn, err := Dial(srv.Addr(), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	kv := clusterpb.NewKVClient(conn)
	ctx := context.Background()
	if r, err := kv.Get(ctx, &clusterpb.GetRequest{Key: []byte("k")}); err != nil || !r.Found {
		t.Errorf("get: %v, %v", r, err)
	}
	if r, err := kv.Write(ctx, &clusterpb.WriteRequest{Mutations: []*clusterpb.Mutation{{Key: []byte("k")}}}); err != nil || !r.GetRegionError().GetServerBusy() {
		t.Errorf("write: %v, %v (want the region error passed on)", r, err)
	}
}

// TestForget: a forgotten node's stream and connection are closed; a later
// message for it dials afresh.
func TestForget(t *testing.T) {
	rec := &recorder{}
	srv := startServer(t, ServerConfig{ClusterID: 1, Raft: rec})
	tr := newTransport(t, Config{ClusterID: 1, Resolver: NewMapResolver(map[uint64]string{2: srv.Addr()})})
	tr.Send([]*clusterpb.RaftMessage{appMsg(1, 2, 0, 1)})
	waitFor(t, "the first message", func() bool { return rec.count() == 1 })
	tr.Forget(2)
	waitFor(t, "the stream ended", func() bool { return srv.Stats().RaftStreams == 0 })
	tr.Send([]*clusterpb.RaftMessage{appMsg(1, 2, 1, 1)})
	waitFor(t, "the second message", func() bool { return rec.count() == 2 })
	if d := tr.Stats().Dials; d != 2 {
		t.Errorf("%d dials, want 2", d)
	}
	tr.Forget(3) // never known: nothing happens
}

// TestWrongNodeRefused: a server that knows its node id refuses messages
// for another node (the sender's address was stale) and the sender, told
// the new address, gets through to the right node.
func TestWrongNodeRefused(t *testing.T) {
	wrong := &recorder{}
	srv3 := startServer(t, ServerConfig{ClusterID: 1, NodeID: 3, Raft: wrong})
	right := &recorder{}
	srv2 := startServer(t, ServerConfig{ClusterID: 1, NodeID: 2, Raft: right})
	res := NewMapResolver(map[uint64]string{2: srv3.Addr()}) // stale: node 3 is there
	rep := &reports{}
	tr := newTransport(t, Config{ClusterID: 1, Resolver: res, Unreachable: rep.unreach, MinBackoff: 10 * time.Millisecond})
	resendUntil(t, tr, "the refusal", func() bool { return rep.unreachableCount(1, 12) > 0 }, func() *clusterpb.RaftMessage { return appMsg(1, 2, 0, 1) })
	if wrong.count() != 0 {
		t.Errorf("node 3 stepped %d messages for node 2", wrong.count())
	}
	res.Set(2, srv2.Addr())
	resendUntil(t, tr, "a message at node 2", func() bool { return right.count() > 0 }, func() *clusterpb.RaftMessage { return appMsg(1, 2, 0, 1) })
}

// TestControlMessagesDelivered: the raft store's messages without a raft
// message (a hibernation notice, a tombstone answer) cross the transport;
// one with neither a raft message nor a control flag is dropped.
func TestControlMessagesDelivered(t *testing.T) {
	rec := &recorder{}
	srv := startServer(t, ServerConfig{ClusterID: 1, Raft: rec})
	tr := newTransport(t, Config{ClusterID: 1, Resolver: NewMapResolver(map[uint64]string{2: srv.Addr()})})
	peer := func(id, node uint64) *clusterpb.Peer { return &clusterpb.Peer{Id: id, NodeId: node} }
	tr.Send([]*clusterpb.RaftMessage{
		{RegionId: 4, FromPeer: peer(1, 1), ToPeer: peer(2, 2)}, // malformed: dropped
		{RegionId: 4, FromPeer: peer(1, 1), ToPeer: peer(2, 2), Hibernate: true, HibernateTerm: 3, HibernateCommit: 9},
		{RegionId: 5, FromPeer: peer(1, 1), ToPeer: peer(2, 2), IsTombstone: true},
	})
	deadline := time.Now().Add(10 * time.Second)
	for rec.count() < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	got := rec.snapshot()
	if len(got) != 2 || !got[0].GetHibernate() || got[0].GetHibernateCommit() != 9 || !got[1].GetIsTombstone() {
		t.Fatalf("delivered %v, want the hibernation notice and the tombstone answer", got)
	}
}
