package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	"github.com/strata-db/strata/cluster/clusterpb"
)

// streamGatedKV holds every write until gate closes, tracking how many it holds.
type streamGatedKV struct {
	fakeKV
	gate     chan struct{}
	cur, max atomic.Int64
}

func (g *streamGatedKV) Write(ctx context.Context, req *clusterpb.WriteRequest) (*clusterpb.WriteResponse, error) {
	g.hold()
	defer g.cur.Add(-1)
	<-g.gate
	return g.fakeKV.Write(ctx, req)
}

// hold counts one more write held.
func (g *streamGatedKV) hold() {
	n := g.cur.Add(1)
	for {
		m := g.max.Load()
		if n <= m || g.max.CompareAndSwap(m, n) {
			break
		}
	}
}

// asyncGatedKV is streamGatedKV answering its writes through AsyncWriter:
// each is answered, from another goroutine, once gate closes.
type asyncGatedKV struct{ *streamGatedKV }

func (g asyncGatedKV) WriteAsync(req *clusterpb.WriteRequest, timeout time.Duration, done func(*clusterpb.WriteResponse, error)) {
	g.hold()
	go func() {
		<-g.gate
		// Released before done: done frees the stream's slot, and the
		// next request may be held before this goroutine runs again.
		g.cur.Add(-1)
		done(&clusterpb.WriteResponse{Succeeded: true}, nil)
	}()
}

// TestBatchStreamFloodIsBounded: a client floods one stream with requests
// the node is slow to serve: the server serves at most MaxStreamRequests of
// them at once (it stops reading the stream meanwhile), and once the node
// catches up every request is answered exactly once. Served by workers
// (Write) and handed to an AsyncWriter.
func TestBatchStreamFloodIsBounded(t *testing.T) {
	t.Run("workers", func(t *testing.T) {
		kv := &streamGatedKV{gate: make(chan struct{})}
		floodBounded(t, kv, kv)
	})
	t.Run("async", func(t *testing.T) {
		kv := &streamGatedKV{gate: make(chan struct{})}
		floodBounded(t, kv, asyncGatedKV{kv})
	})
}

func floodBounded(t *testing.T, kv *streamGatedKV, handler KVHandler) {
	const limit, total = 8, 400
	s := startServer(t, ServerConfig{KV: handler, MaxStreamRequests: limit})
	cc, err := grpc.NewClient(s.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := clusterpb.NewKVClient(cc).BatchCommands(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if hello, err := st.Recv(); err != nil || len(hello.GetResponses()) != 0 {
		t.Fatalf("first message: %v %v, want an empty one", hello, err)
	}
	sendErr := make(chan error, 1)
	go func() {
		id := uint64(0)
		for range total / 10 {
			b := &clusterpb.BatchRequest{}
			for range 10 {
				id++
				b.Requests = append(b.Requests, &clusterpb.BatchRequestItem{Id: id, Cmd: &clusterpb.BatchRequestItem_Write{
					Write: &clusterpb.WriteRequest{Mutations: []*clusterpb.Mutation{{Key: []byte("k"), Value: []byte("v")}}}}})
			}
			if err := st.Send(b); err != nil {
				sendErr <- err
				return
			}
		}
		sendErr <- st.CloseSend()
	}()
	waitFor(t, "the stream's limit to fill", func() bool { return kv.cur.Load() == limit })
	if err := <-sendErr; err != nil { // the requests fit the HTTP/2 windows
		t.Fatal(err)
	}
	if got := s.Stats().KVRequests; got > limit {
		t.Fatalf("%d requests passed to the handler with %d held, want at most %d", got, limit, limit)
	}
	close(kv.gate)
	answers := map[uint64]int{}
	var mu sync.Mutex
	for {
		msg, err := st.Recv()
		if err != nil {
			break // io.EOF once everything is answered
		}
		mu.Lock()
		for _, a := range msg.GetResponses() {
			if a.GetWrite() == nil || !a.GetWrite().GetSucceeded() {
				t.Errorf("answer %v", a)
			}
			answers[a.GetId()]++
		}
		mu.Unlock()
	}
	if len(answers) != total {
		t.Fatalf("%d requests answered, want %d", len(answers), total)
	}
	for id, n := range answers {
		if n != 1 {
			t.Fatalf("request %d answered %d times", id, n)
		}
	}
	if m := kv.max.Load(); m > limit {
		t.Fatalf("the handler held %d requests at once, over the stream's limit of %d", m, limit)
	}
}

// bigKV answers every get with a value of the size its key names
// ("n:<bytes>").
type bigKV struct{ fakeKV }

func (bigKV) Get(ctx context.Context, req *clusterpb.GetRequest) (*clusterpb.GetResponse, error) {
	var n int
	fmt.Sscanf(string(req.Key), "n:%d", &n)
	return &clusterpb.GetResponse{Found: true, Value: make([]byte, n)}, nil
}

// TestBatchStreamLargeAnswers: answers are gathered into messages of at
// most about maxAnswerMessageBytes, and an answer over MaxMessageSize
// fails alone (ResourceExhausted) rather than breaking the stream.
func TestBatchStreamLargeAnswers(t *testing.T) {
	const limit = 4 << 20
	s := startServer(t, ServerConfig{KV: bigKV{}, MaxMessageSize: limit})
	cc, err := grpc.NewClient(s.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	st, err := clusterpb.NewKVClient(cc).BatchCommands(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Recv(); err != nil {
		t.Fatal(err)
	}
	sizes := map[uint64]int{1: 600 << 10, 2: 600 << 10, 3: 600 << 10, 4: limit + 1, 5: 10, 6: 600 << 10}
	b := &clusterpb.BatchRequest{}
	for id := range uint64(len(sizes)) {
		b.Requests = append(b.Requests, &clusterpb.BatchRequestItem{Id: id + 1, Cmd: &clusterpb.BatchRequestItem_Get{
			Get: &clusterpb.GetRequest{Key: fmt.Appendf(nil, "n:%d", sizes[id+1])}}})
	}
	if err := st.Send(b); err != nil {
		t.Fatal(err)
	}
	if err := st.CloseSend(); err != nil {
		t.Fatal(err)
	}
	got := map[uint64]*clusterpb.BatchResponseItem{}
	for {
		msg, err := st.Recv()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("the stream broke: %v", err)
			}
			break
		}
		if n := proto.Size(msg); n > maxAnswerMessageBytes+(700<<10) {
			t.Errorf("a message of %d bytes", n)
		}
		for _, a := range msg.GetResponses() {
			got[a.GetId()] = a
		}
	}
	for id, n := range sizes {
		a := got[id]
		switch {
		case a == nil:
			t.Errorf("request %d not answered", id)
		case n > limit:
			if codes.Code(a.GetErrorCode()) != codes.ResourceExhausted {
				t.Errorf("request %d (a %d-byte answer over the limit): %v, want ResourceExhausted", id, n, a)
			}
		case len(a.GetGet().GetValue()) != n:
			t.Errorf("request %d: %d bytes, want %d (%v)", id, len(a.GetGet().GetValue()), n, a.GetError())
		}
	}
}

// TestBatchStreamBrokenAsync: a client whose stream breaks while the
// AsyncWriter holds its writes: the stream ends without waiting for them,
// their answers, when they come, go nowhere (no send on the closed queue),
// their MaxInflightRequests slots are given back, and the server serves a
// new stream.
func TestBatchStreamBrokenAsync(t *testing.T) {
	kv := &streamGatedKV{gate: make(chan struct{})}
	s := startServer(t, ServerConfig{KV: asyncGatedKV{kv}, MaxInflightRequests: 8})
	cc, err := grpc.NewClient(s.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithCancel(context.Background())
	st, err := clusterpb.NewKVClient(cc).BatchCommands(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Recv(); err != nil {
		t.Fatal(err)
	}
	b := &clusterpb.BatchRequest{}
	for id := range uint64(5) {
		b.Requests = append(b.Requests, &clusterpb.BatchRequestItem{Id: id + 1, Cmd: &clusterpb.BatchRequestItem_Write{
			Write: &clusterpb.WriteRequest{Mutations: []*clusterpb.Mutation{{Key: []byte("k"), Value: []byte("v")}}}}})
	}
	if err := st.Send(b); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the writes to be held", func() bool { return kv.cur.Load() == 5 })
	cancel()
	waitFor(t, "the broken stream to end on the server", func() bool { return s.Stats().KVStreams == 0 })
	close(kv.gate) // the held writes are answered now
	waitFor(t, "the held writes' answers", func() bool { return kv.cur.Load() == 0 })
	// All 8 slots are free again: 8 writes on a new stream are served.
	st, err = clusterpb.NewKVClient(cc).BatchCommands(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Recv(); err != nil {
		t.Fatal(err)
	}
	b = &clusterpb.BatchRequest{}
	for id := range uint64(8) {
		b.Requests = append(b.Requests, &clusterpb.BatchRequestItem{Id: id + 1, Cmd: &clusterpb.BatchRequestItem_Write{
			Write: &clusterpb.WriteRequest{Mutations: []*clusterpb.Mutation{{Key: []byte("k"), Value: []byte("v")}}}}})
	}
	if err := st.Send(b); err != nil {
		t.Fatal(err)
	}
	if err := st.CloseSend(); err != nil {
		t.Fatal(err)
	}
	answered := 0
	for {
		msg, err := st.Recv()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatal(err)
			}
			break
		}
		for _, a := range msg.GetResponses() {
			if !a.GetWrite().GetSucceeded() {
				t.Errorf("answer %v", a)
			}
			answered++
		}
	}
	if answered != 8 {
		t.Fatalf("%d of 8 answered", answered)
	}
}
