package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-db/strata/cluster/clusterpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// fakeCluster is a model cluster for the client's tests: one key-value map,
// regions with a leader each, and a gRPC server per node that answers as a
// real node would (NotLeader from a follower, EpochNotMatch for a stale epoch,
// KeyNotInRegion) but without Raft.
type fakeCluster struct {
	mu      sync.Mutex
	data    map[string][]byte
	regions []*clusterpb.Region // sorted, covering the key space
	leaders map[uint64]uint64   // region id → leader's node id
	nodes   []*fakeNode
	// writeDelay, when set, makes writes sleep before applying (to time
	// them out); writes counts every Write RPC that reached a node.
	writeDelay atomic.Int64 // nanoseconds
	// staleAnswers, while positive, makes GetRegion answer staleRegion
	// (and count down): a region map that lags a split.
	staleAnswers atomic.Int64
	staleRegion  *clusterpb.Region
	writes       atomic.Int64
	// unaryOnly makes the nodes refuse BatchCommands (Unimplemented), as
	// a node of an older version does: the client uses the unary RPCs.
	unaryOnly atomic.Bool
	// streamOpens counts BatchCommands streams opened; while holdStreams
	// is set, a new stream waits for the test's end before its first
	// message (a node that accepts but does not answer).
	streamOpens atomic.Int64
	streamItems atomic.Int64 // requests received on batch streams
	holdStreams atomic.Bool
	released    chan struct{}
}

type fakeNode struct {
	clusterpb.UnimplementedKVServer
	clusterpb.UnimplementedPDServer
	id   uint64
	c    *fakeCluster
	addr string
	srv  *grpc.Server
}

// newFakeCluster starts n nodes and regions split at the given keys, each
// region with a replica on every node and node 1 leading.
func newFakeCluster(t *testing.T, n int, splits ...string) *fakeCluster {
	t.Helper()
	c := &fakeCluster{data: map[string][]byte{}, leaders: map[uint64]uint64{}, released: make(chan struct{})}
	bounds := append([]string{""}, splits...)
	for i, start := range bounds {
		end := ""
		if i+1 < len(bounds) {
			end = bounds[i+1]
		}
		r := &clusterpb.Region{Id: uint64(i + 1), StartKey: []byte(start), EndKey: []byte(end),
			Epoch: &clusterpb.RegionEpoch{ConfVer: 1, Version: 1}}
		for node := 1; node <= n; node++ {
			r.Peers = append(r.Peers, &clusterpb.Peer{Id: uint64(100*(i+1) + node), NodeId: uint64(node)})
		}
		c.regions = append(c.regions, r)
		c.leaders[r.Id] = 1
	}
	for i := 1; i <= n; i++ {
		c.startNode(t, uint64(i), "127.0.0.1:0")
	}
	t.Cleanup(func() {
		close(c.released)
		for _, nd := range c.nodes {
			nd.srv.Stop()
		}
	})
	return c
}

// BatchCommands serves the batch stream the simple way: a goroutine per
// request, answers sent by one goroutine as they come.
func (nd *fakeNode) BatchCommands(st grpc.BidiStreamingServer[clusterpb.BatchRequest, clusterpb.BatchResponse]) error {
	if nd.c.unaryOnly.Load() {
		return status.Error(codes.Unimplemented, "no batch stream here")
	}
	nd.c.streamOpens.Add(1)
	if nd.c.holdStreams.Load() {
		select {
		case <-nd.c.released:
		case <-st.Context().Done():
		}
		return st.Context().Err()
	}
	if err := st.Send(&clusterpb.BatchResponse{}); err != nil {
		return err
	}
	answers := make(chan *clusterpb.BatchResponseItem)
	var wg sync.WaitGroup
	sent := make(chan error, 1)
	go func() {
		var err error
		for a := range answers {
			if err == nil {
				err = st.Send(&clusterpb.BatchResponse{Responses: []*clusterpb.BatchResponseItem{a}})
			}
		}
		sent <- err
	}()
	var err error
	for {
		var req *clusterpb.BatchRequest
		if req, err = st.Recv(); err != nil {
			break
		}
		for _, it := range req.GetRequests() {
			nd.c.streamItems.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				out := &clusterpb.BatchResponseItem{Id: it.GetId()}
				switch {
				case it.GetGet() != nil:
					r, _ := nd.Get(st.Context(), it.GetGet())
					out.Resp = &clusterpb.BatchResponseItem_Get{Get: r}
				case it.GetScan() != nil:
					r, _ := nd.Scan(st.Context(), it.GetScan())
					out.Resp = &clusterpb.BatchResponseItem_Scan{Scan: r}
				case it.GetWrite() != nil:
					r, _ := nd.Write(st.Context(), it.GetWrite())
					out.Resp = &clusterpb.BatchResponseItem_Write{Write: r}
				default:
					out.ErrorCode, out.Error = uint32(codes.InvalidArgument), "empty"
				}
				answers <- out
			}()
		}
	}
	wg.Wait()
	close(answers)
	if serr := <-sent; serr != nil {
		return serr
	}
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

func (c *fakeCluster) startNode(t *testing.T, id uint64, addr string) {
	t.Helper()
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	nd := &fakeNode{id: id, c: c, addr: lis.Addr().String(), srv: grpc.NewServer()}
	clusterpb.RegisterKVServer(nd.srv, nd)
	clusterpb.RegisterPDServer(nd.srv, nd)
	go func() { _ = nd.srv.Serve(lis) }()
	c.mu.Lock()
	if int(id) <= len(c.nodes) {
		c.nodes[id-1] = nd
	} else {
		c.nodes = append(c.nodes, nd)
	}
	c.mu.Unlock()
}

func (c *fakeCluster) addrs() []string {
	var out []string
	for _, nd := range c.nodes {
		out = append(out, nd.addr)
	}
	return out
}

// split cuts the region holding key at key (a new epoch version for both).
func (c *fakeCluster) split(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, r := range c.regions {
		if !(&regionInfo{region: r}).contains([]byte(key)) {
			continue
		}
		right := proto.Clone(r).(*clusterpb.Region)
		right.Id = uint64(len(c.regions) + 1)
		right.StartKey = []byte(key)
		for j, p := range right.Peers {
			p.Id = 100*right.Id + uint64(j+1)
		}
		r.EndKey = []byte(key)
		r.Epoch.Version++
		right.Epoch.Version = r.Epoch.Version
		c.leaders[right.Id] = c.leaders[r.Id]
		c.regions = append(c.regions[:i+1], append([]*clusterpb.Region{right}, c.regions[i+1:]...)...)
		return
	}
}

// check refuses a request the way a node does; the caller holds c.mu.
func (nd *fakeNode) check(rc *clusterpb.RequestContext, keys ...[]byte) (*clusterpb.Region, *clusterpb.RegionError) {
	var r *clusterpb.Region
	for _, x := range nd.c.regions {
		if x.Id == rc.GetRegionId() {
			r = x
		}
	}
	if r == nil {
		return nil, &clusterpb.RegionError{RegionNotFound: true}
	}
	if leader := nd.c.leaders[r.Id]; leader != nd.id {
		for _, p := range r.Peers {
			if p.NodeId == leader {
				return nil, &clusterpb.RegionError{NotLeader: &clusterpb.NotLeader{RegionId: r.Id, Leader: p}}
			}
		}
	}
	if !proto.Equal(rc.GetEpoch(), r.Epoch) {
		var overlapping []*clusterpb.Region
		for _, x := range nd.c.regions {
			overlapping = append(overlapping, x)
		}
		return nil, &clusterpb.RegionError{EpochNotMatch: &clusterpb.EpochNotMatch{Regions: overlapping}}
	}
	for _, k := range keys {
		if !(&regionInfo{region: r}).contains(k) {
			return nil, &clusterpb.RegionError{KeyNotInRegion: &clusterpb.KeyNotInRegion{Key: k, RegionId: r.Id}}
		}
	}
	return r, nil
}

func (nd *fakeNode) Get(_ context.Context, req *clusterpb.GetRequest) (*clusterpb.GetResponse, error) {
	nd.c.mu.Lock()
	defer nd.c.mu.Unlock()
	if _, rerr := nd.check(req.GetContext(), req.GetKey()); rerr != nil {
		return &clusterpb.GetResponse{RegionError: rerr}, nil
	}
	v, ok := nd.c.data[string(req.GetKey())]
	return &clusterpb.GetResponse{Found: ok, Value: v}, nil
}

func (nd *fakeNode) Scan(_ context.Context, req *clusterpb.ScanRequest) (*clusterpb.ScanResponse, error) {
	nd.c.mu.Lock()
	defer nd.c.mu.Unlock()
	r, rerr := nd.check(req.GetContext())
	if rerr != nil {
		return &clusterpb.ScanResponse{RegionError: rerr}, nil
	}
	end := req.GetEndKey()
	if len(end) == 0 {
		end = r.EndKey
	}
	var keys []string
	for k := range nd.c.data {
		if bytes.Compare([]byte(k), maxKey(req.GetStartKey(), r.StartKey)) >= 0 && (len(end) == 0 || k < string(end)) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	if req.GetReverse() {
		for i, j := 0, len(keys)-1; i < j; i, j = i+1, j-1 {
			keys[i], keys[j] = keys[j], keys[i]
		}
	}
	if req.GetLimit() > 0 && len(keys) > int(req.GetLimit()) {
		keys = keys[:req.GetLimit()]
	}
	resp := &clusterpb.ScanResponse{}
	for _, k := range keys {
		resp.Pairs = append(resp.Pairs, &clusterpb.KvPair{Key: []byte(k), Value: nd.c.data[k]})
	}
	return resp, nil
}

func (nd *fakeNode) Write(ctx context.Context, req *clusterpb.WriteRequest) (*clusterpb.WriteResponse, error) {
	nd.c.writes.Add(1)
	if d := nd.c.writeDelay.Load(); d > 0 {
		time.Sleep(time.Duration(d))
	}
	nd.c.mu.Lock()
	defer nd.c.mu.Unlock()
	var keys [][]byte
	for _, m := range req.GetMutations() {
		keys = append(keys, m.GetKey())
	}
	if _, rerr := nd.check(req.GetContext(), keys...); rerr != nil {
		return &clusterpb.WriteResponse{RegionError: rerr}, nil
	}
	for i, cond := range req.GetConditions() {
		v, ok := nd.c.data[string(cond.GetKey())]
		if ok != cond.GetExists() || (ok && !bytes.Equal(v, cond.GetValue())) {
			return &clusterpb.WriteResponse{FailedCondition: int32(i), CurrentValue: v, CurrentExists: ok}, nil
		}
	}
	for _, m := range req.GetMutations() {
		switch m.GetOp() {
		case clusterpb.Mutation_PUT:
			nd.c.data[string(m.GetKey())] = m.GetValue()
		case clusterpb.Mutation_DELETE:
			delete(nd.c.data, string(m.GetKey()))
		}
	}
	return &clusterpb.WriteResponse{Succeeded: true}, nil
}

func (nd *fakeNode) GetRegion(_ context.Context, req *clusterpb.GetRegionRequest) (*clusterpb.GetRegionResponse, error) {
	nd.c.mu.Lock()
	defer nd.c.mu.Unlock()
	if nd.c.staleAnswers.Add(-1) >= 0 && nd.c.staleRegion != nil {
		resp := &clusterpb.GetRegionResponse{Region: nd.c.staleRegion}
		for _, n := range nd.c.nodes {
			resp.Nodes = append(resp.Nodes, &clusterpb.Node{Id: n.id, Address: n.addr})
		}
		return resp, nil
	}
	for _, r := range nd.c.regions {
		info := &regionInfo{region: r}
		if (!req.GetPrev() && info.contains(req.GetKey())) || (req.GetPrev() && info.containsPrev(req.GetKey())) {
			resp := &clusterpb.GetRegionResponse{Region: r}
			for _, n := range nd.c.nodes {
				resp.Nodes = append(resp.Nodes, &clusterpb.Node{Id: n.id, Address: n.addr})
			}
			return resp, nil
		}
	}
	return &clusterpb.GetRegionResponse{Error: "no region"}, nil
}

func newTestClient(t *testing.T, c *fakeCluster, timeout time.Duration) *Client {
	t.Helper()
	cl, err := New(Options{Addrs: c.addrs()[:1], AttemptTimeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	return cl
}

func TestClientRoutesAcrossRegions(t *testing.T) {
	c := newFakeCluster(t, 3, "g", "p")
	cl := newTestClient(t, c, 2*time.Second)
	ctx := context.Background()
	var want []string
	for ch := 'a'; ch <= 'z'; ch++ {
		k := string(ch) + "1"
		if err := cl.Put(ctx, []byte(k), []byte("v"+k)); err != nil {
			t.Fatalf("put %s: %v", k, err)
		}
		want = append(want, k)
	}
	for _, k := range want {
		v, err := cl.Get(ctx, []byte(k))
		if err != nil || string(v) != "v"+k {
			t.Fatalf("get %s = %q, %v", k, v, err)
		}
	}
	if _, err := cl.Get(ctx, []byte("zz")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get missing: %v", err)
	}
	if err := cl.Delete(ctx, []byte("q1")); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		start, end string
		opts       ScanOptions
		want       string
	}{
		{"", "", ScanOptions{}, "a1 b1 c1 d1 e1 f1 g1 h1 i1 j1 k1 l1 m1 n1 o1 p1 r1 s1 t1 u1 v1 w1 x1 y1 z1"},
		{"e", "i", ScanOptions{}, "e1 f1 g1 h1"},
		{"e", "", ScanOptions{Limit: 4}, "e1 f1 g1 h1"},
		{"f", "t", ScanOptions{Reverse: true}, "s1 r1 p1 o1 n1 m1 l1 k1 j1 i1 h1 g1 f1"},
		{"", "", ScanOptions{Reverse: true, Limit: 3}, "z1 y1 x1"},
		{"", "h", ScanOptions{Reverse: true, Limit: 3}, "g1 f1 e1"},
		{"o", "r", ScanOptions{KeysOnly: true}, "o1 p1"},
		{"x", "b", ScanOptions{}, ""},
	}
	for _, tc := range cases {
		var end []byte
		if tc.end != "" {
			end = []byte(tc.end)
		}
		got, err := cl.Scan(ctx, []byte(tc.start), end, tc.opts)
		if err != nil {
			t.Fatalf("scan %+v: %v", tc, err)
		}
		var ks []string
		for _, kv := range got {
			ks = append(ks, string(kv.Key))
		}
		if s := fmt.Sprint(ks); s != "["+tc.want+"]" {
			t.Errorf("scan [%q,%q) %+v = %s, want [%s]", tc.start, tc.end, tc.opts, s, tc.want)
		}
	}
	if n := len(cl.cache.all()); n != 3 {
		t.Errorf("cache holds %d regions, want 3", n)
	}
}

func TestClientFollowsLeaderAndSplits(t *testing.T) {
	c := newFakeCluster(t, 3, "m")
	cl := newTestClient(t, c, 2*time.Second)
	ctx := context.Background()
	if err := cl.Put(ctx, []byte("a"), []byte("1")); err != nil {
		t.Fatal(err)
	}
	// The leader moves: the client is told by the old leader and follows.
	c.mu.Lock()
	c.leaders[1] = 3
	c.mu.Unlock()
	if err := cl.Put(ctx, []byte("b"), []byte("2")); err != nil {
		t.Fatal(err)
	}
	if l := cl.cache.find([]byte("b")).leader.Load(); l.GetNodeId() != 3 {
		t.Fatalf("cached leader %v, want node 3", l)
	}
	// The region splits: the stale epoch is refused with the new regions.
	c.split("c")
	if err := cl.Put(ctx, []byte("d"), []byte("3")); err != nil {
		t.Fatal(err)
	}
	if r := cl.cache.find([]byte("d")).region; string(r.StartKey) != "c" || r.Epoch.Version != 2 {
		t.Fatalf("cache after split: %v", r)
	}
	got, err := cl.Scan(ctx, nil, nil, ScanOptions{})
	if err != nil || len(got) != 3 {
		t.Fatalf("scan after split: %v, %v", got, err)
	}
}

func TestClientCompareAndSwapAndBatches(t *testing.T) {
	c := newFakeCluster(t, 3, "m")
	cl := newTestClient(t, c, 2*time.Second)
	ctx := context.Background()
	ok, err := cl.CompareAndSwap(ctx, []byte("k"), nil, []byte("1"))
	if err != nil || !ok {
		t.Fatalf("cas absent->1: %v %v", ok, err)
	}
	ok, err = cl.CompareAndSwap(ctx, []byte("k"), nil, []byte("2"))
	if err != nil || ok {
		t.Fatalf("cas absent->2 on a present key: %v %v", ok, err)
	}
	ok, err = cl.CompareAndSwap(ctx, []byte("k"), []byte("1"), []byte("2"))
	if err != nil || !ok {
		t.Fatalf("cas 1->2: %v %v", ok, err)
	}
	b := &Batch{}
	b.Require([]byte("k"), []byte("1"))
	b.Put([]byte("j"), []byte("x"))
	res, err := cl.Write(ctx, b)
	if err != nil || res.Succeeded || !res.Exists || string(res.Current) != "2" {
		t.Fatalf("failed condition: %+v %v", res, err)
	}
	b = &Batch{}
	b.Put([]byte("a"), []byte("x"))
	b.Put([]byte("z"), []byte("x"))
	if _, err := cl.Write(ctx, b); !errors.Is(err, ErrCrossRegion) {
		t.Fatalf("cross-region batch: %v", err)
	}
}

func TestClientUnknownResultIsNotRetried(t *testing.T) {
	c := newFakeCluster(t, 3)
	cl := newTestClient(t, c, 100*time.Millisecond)
	ctx := context.Background()
	if err := cl.Put(ctx, []byte("warm"), []byte("1")); err != nil {
		t.Fatal(err)
	}
	c.writeDelay.Store(int64(300 * time.Millisecond))
	before := c.writes.Load()
	err := cl.Put(ctx, []byte("k"), []byte("1"))
	if !errors.Is(err, ErrUnknownResult) {
		t.Fatalf("timed-out write: %v, want ErrUnknownResult", err)
	}
	if n := c.writes.Load() - before; n != 1 {
		t.Fatalf("the timed-out write was sent %d times, want once", n)
	}
	c.writeDelay.Store(0)
	// Reads are retried freely, and the write did apply here (late).
	time.Sleep(400 * time.Millisecond)
	if v, err := cl.Get(ctx, []byte("k")); err != nil || string(v) != "1" {
		t.Fatalf("get after the unknown write: %q %v", v, err)
	}
}

func TestClientSkipsDownNodeForWrites(t *testing.T) {
	c := newFakeCluster(t, 3)
	cl := newTestClient(t, c, time.Second)
	ctx := context.Background()
	if err := cl.Put(ctx, []byte("a"), []byte("1")); err != nil {
		t.Fatal(err)
	}
	// Node 1 (the leader) dies and node 2 takes over: the write is not sent
	// to the dead node, so its outcome is known.
	c.nodes[0].srv.Stop()
	// Once the client's connection has seen the node go (a write sent on a
	// connection that breaks under it has an unknown outcome: the node may
	// have read it).
	cl.mu.Lock()
	cc := cl.conns[c.nodes[0].addr]
	cl.mu.Unlock()
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	for cc.GetState() == connectivity.Ready && cc.WaitForStateChange(wctx, connectivity.Ready) {
	}
	cancel()
	c.mu.Lock()
	c.leaders[1] = 2
	c.mu.Unlock()
	before := c.writes.Load()
	if err := cl.Put(ctx, []byte("b"), []byte("2")); err != nil {
		t.Fatalf("write with the old leader down: %v", err)
	}
	if n := c.writes.Load() - before; n > 2 {
		t.Fatalf("%d write RPCs reached nodes", n)
	}
	if v, err := cl.Get(ctx, []byte("b")); err != nil || string(v) != "2" {
		t.Fatalf("get: %q %v", v, err)
	}
}

func TestRegionCache(t *testing.T) {
	var c regionCache
	mk := func(id uint64, start, end string, ver uint64) *clusterpb.Region {
		return &clusterpb.Region{Id: id, StartKey: []byte(start), EndKey: []byte(end),
			Epoch: &clusterpb.RegionEpoch{ConfVer: 1, Version: ver}}
	}
	c.insert(mk(1, "", "m", 1), nil)
	c.insert(mk(2, "m", "", 1), nil)
	if r := c.find([]byte("a")); r == nil || r.region.Id != 1 {
		t.Fatalf("find a: %v", r)
	}
	if r := c.findPrev([]byte("m")); r == nil || r.region.Id != 1 {
		t.Fatalf("findPrev m: %v", r)
	}
	if r := c.findPrev(nil); r == nil || r.region.Id != 2 {
		t.Fatalf("findPrev end: %v", r)
	}
	// A split of region 1 replaces it.
	c.insert(mk(1, "", "f", 2), nil)
	c.insert(mk(3, "f", "m", 2), nil)
	if r := c.find([]byte("g")); r == nil || r.region.Id != 3 {
		t.Fatalf("find g after split: %v", r)
	}
	// An older descriptor of region 1 does not replace the newer one.
	c.insert(mk(1, "", "m", 1), nil)
	if r := c.find([]byte("g")); r == nil || r.region.Id != 3 {
		t.Fatalf("stale insert replaced a newer region: %v", r)
	}
	if n := len(c.all()); n != 3 {
		t.Fatalf("%d regions cached, want 3", n)
	}
	c.invalidate(3)
	if r := c.find([]byte("g")); r != nil {
		t.Fatalf("find g after invalidate: %v", r)
	}
}

// TestClientStaleMapAnswer: after a split the region map may still answer
// with the old, larger descriptor of a region the client already knows in
// its newer, smaller form; the client must not route a key by the newer
// descriptor that does not hold it (a one-key write then looked like a
// cross-region batch), but ask again until the map catches up.
func TestClientStaleMapAnswer(t *testing.T) {
	c := newFakeCluster(t, 3)
	cl := newTestClient(t, c, time.Second)
	ctx := context.Background()
	if err := cl.Put(ctx, []byte("a"), []byte("1")); err != nil {
		t.Fatal(err)
	}
	// The client learns region 1's new shape [, m) from the split...
	c.split("m")
	if err := cl.Put(ctx, []byte("b"), []byte("2")); err != nil {
		t.Fatal(err)
	}
	// ...while the map still answers with the old descriptor for a while.
	c.mu.Lock()
	stale := proto.Clone(c.regions[0]).(*clusterpb.Region)
	stale.EndKey, stale.Epoch.Version = nil, 1
	c.staleAnswers.Store(3)
	c.staleRegion = stale
	c.mu.Unlock()
	cl.cache.invalidate(2)
	if err := cl.Put(ctx, []byte("x"), []byte("3")); err != nil {
		t.Fatalf("put after a stale map answer: %v", err)
	}
	if v, err := cl.Get(ctx, []byte("x")); err != nil || string(v) != "3" {
		t.Fatalf("get: %q %v", v, err)
	}
}
