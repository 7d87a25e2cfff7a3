package client

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/strata-db/strata/cluster/clusterpb"
)

// batchConnOf returns the client's batch connection to addr.
func batchConnOf(cl *Client, addr string) *batchConn {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.kvs[addr]
}

func TestClientUsesBatchStream(t *testing.T) {
	for _, unary := range []bool{false, true} {
		t.Run(fmt.Sprintf("unaryOnly=%v", unary), func(t *testing.T) {
			c := newFakeCluster(t, 3, "m")
			c.unaryOnly.Store(unary)
			cl := newTestClient(t, c, time.Second)
			ctx := context.Background()
			var wg sync.WaitGroup
			for i := range 32 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					k := []byte(fmt.Sprintf("%c%02d", 'a'+i%26, i))
					if err := cl.Put(ctx, k, k); err != nil {
						t.Errorf("put %s: %v", k, err)
						return
					}
					if v, err := cl.Get(ctx, k); err != nil || string(v) != string(k) {
						t.Errorf("get %s: %q %v", k, v, err)
					}
				}()
			}
			wg.Wait()
			kvs, err := cl.Scan(ctx, nil, nil, ScanOptions{})
			if err != nil || len(kvs) != 32 {
				t.Fatalf("scan: %d pairs, %v", len(kvs), err)
			}
			bc := batchConnOf(cl, c.nodes[0].addr)
			bc.mu.Lock()
			gotStream, gotUnary := bc.cur != nil, bc.noStrm
			bc.mu.Unlock()
			if gotStream == unary || gotUnary != unary {
				t.Fatalf("stream open %v, unary fallback %v; want the stream only if the node serves it", gotStream, gotUnary)
			}
		})
	}
}

// TestBatchStreamBreaksWithWritesInFlight: a node dies with sent writes
// waiting on it: each returns ErrUnknownResult (never a silent retry), and
// a write sent afterwards goes to the new leader.
func TestBatchStreamBreaksWithWritesInFlight(t *testing.T) {
	c := newFakeCluster(t, 3)
	cl := newTestClient(t, c, 5*time.Second)
	ctx := context.Background()
	if err := cl.Put(ctx, []byte("warm"), []byte("1")); err != nil {
		t.Fatal(err)
	}
	c.writeDelay.Store(int64(time.Second))
	before := c.writes.Load()
	const n = 16
	errs := make(chan error, n)
	for i := range n {
		go func() { errs <- cl.Put(ctx, []byte(fmt.Sprintf("k%02d", i)), []byte("v")) }()
	}
	for c.writes.Load()-before < n { // every write reached the node
		time.Sleep(time.Millisecond)
	}
	c.nodes[0].srv.Stop()
	for range n {
		if err := <-errs; !errors.Is(err, ErrUnknownResult) {
			t.Errorf("a write in flight when its stream broke: %v, want ErrUnknownResult", err)
		}
	}
	if got := c.writes.Load() - before; got != n {
		t.Fatalf("%d writes reached nodes, want %d (none retried)", got, n)
	}
	c.writeDelay.Store(0)
	c.mu.Lock()
	c.leaders[1] = 2
	c.mu.Unlock()
	if err := cl.Put(ctx, []byte("after"), []byte("1")); err != nil {
		t.Fatalf("write after the break: %v", err)
	}
}

// fakeBidi is a BatchCommands client stream whose Send blocks until gate
// closes and then fails, and whose Recv fails when recvFail closes.
type fakeBidi struct {
	grpc.ClientStream
	gate     chan struct{}
	recvFail chan struct{}
	mu       sync.Mutex
	sent     []*clusterpb.BatchRequest
	sending  chan struct{} // closed at the first Send
	once     sync.Once
	// late makes SendMsg read the message only once gate closes (as a
	// transport may, after its caller has returned), and succeed.
	late bool
}

func (f *fakeBidi) Send(m *clusterpb.BatchRequest) error { return f.SendMsg(m) }

func (f *fakeBidi) SendMsg(m any) error {
	if f.late {
		f.once.Do(func() { close(f.sending) })
		<-f.gate
	}
	enc, err := batchCodec{encoding.GetCodecV2(protoCodec)}.Marshal(m)
	if err != nil {
		return err
	}
	req := &clusterpb.BatchRequest{}
	if err := proto.Unmarshal(enc.Materialize(), req); err != nil {
		return err
	}
	f.mu.Lock()
	f.sent = append(f.sent, req)
	f.mu.Unlock()
	if f.late {
		return nil
	}
	f.once.Do(func() { close(f.sending) })
	<-f.gate
	return errors.New("connection reset")
}

func (f *fakeBidi) Recv() (*clusterpb.BatchResponse, error) {
	<-f.recvFail
	return nil, errors.New("connection reset")
}

func (f *fakeBidi) Header() (metadata.MD, error) { return nil, nil }
func (f *fakeBidi) CloseSend() error             { return nil }

// TestBatchStreamOutcomesOnBreak: when a stream breaks, a request being
// sent gets the stream's error (its outcome unknown), requests still queued
// behind it errNotSent (safe to retry).
func TestBatchStreamOutcomesOnBreak(t *testing.T) {
	f := &fakeBidi{gate: make(chan struct{}), recvFail: make(chan struct{}), sending: make(chan struct{})}
	bs := &batchStream{st: f, cancel: func() {}, queue: make(chan *call, 16), slots: make(chan struct{}, 16),
		pending: map[uint64]*call{}, done: make(chan struct{})}
	go bs.sendLoop()
	go bs.recvLoop()
	write := func() *clusterpb.BatchRequestItem {
		return &clusterpb.BatchRequestItem{Cmd: &clusterpb.BatchRequestItem_Write{Write: &clusterpb.WriteRequest{}}}
	}
	first := make(chan error, 1)
	go func() { _, err := bs.do(context.Background(), write()); first <- err }()
	<-f.sending // the first request is in Send
	const queued = 5
	rest := make(chan error, queued)
	for range queued {
		go func() { _, err := bs.do(context.Background(), write()); rest <- err }()
	}
	for len(bs.queue) < queued { // wait until they are queued behind it
		time.Sleep(time.Millisecond)
	}
	close(f.recvFail) // the stream breaks
	close(f.gate)
	if err := <-first; err == nil || errors.Is(err, errNotSent) {
		t.Fatalf("the request being sent: %v, want an error that is not errNotSent (outcome unknown)", err)
	}
	for range queued {
		if err := <-rest; !errors.Is(err, errNotSent) {
			t.Fatalf("a request queued behind the break: %v, want errNotSent", err)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.sent) != 1 || len(f.sent[0].Requests) != 1 {
		t.Fatalf("sent %v, want one message with the first request", f.sent)
	}
}

// TestBatchStreamOpenShared: callers of a connection whose node accepts
// the stream but never answers share one attempt to open it, and each
// gets "not sent" (their requests are safe to retry elsewhere).
func TestBatchStreamOpenShared(t *testing.T) {
	c := newFakeCluster(t, 1)
	c.holdStreams.Store(true)
	cl := newTestClient(t, c, time.Second)
	cc, err := cl.conn(c.nodes[0].addr)
	if err != nil {
		t.Fatal(err)
	}
	if !ready(context.Background(), cc) {
		t.Fatal("connection not ready")
	}
	bc := batchConnOf(cl, c.nodes[0].addr)
	const callers = 16
	errs := make(chan error, callers)
	for range callers {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			_, err := bc.Write(ctx, &clusterpb.WriteRequest{})
			errs <- err
		}()
	}
	for range callers {
		if err := <-errs; !errors.Is(err, errNotSent) {
			t.Fatalf("a write on a stream that never opened: %v, want errNotSent", err)
		}
	}
	if n := c.streamOpens.Load(); n >= callers/2 {
		t.Fatalf("%d streams opened for %d callers, want them to share the attempt", n, callers)
	}
}

// TestBatchStreamCallerBuffersReleased: a caller that gives up on a sent
// write may reuse its value at once; what goes on the wire is what it
// asked for (the request is encoded before the caller can return).
func TestBatchStreamCallerBuffersReleased(t *testing.T) {
	f := &fakeBidi{gate: make(chan struct{}), recvFail: make(chan struct{}), sending: make(chan struct{}), late: true}
	defer close(f.recvFail)
	bs := &batchStream{st: f, cancel: func() {}, queue: make(chan *call, 4), slots: make(chan struct{}, 4),
		pending: map[uint64]*call{}, done: make(chan struct{})}
	go bs.sendLoop()
	go bs.recvLoop()
	value := []byte("first")
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := bs.do(ctx, &clusterpb.BatchRequestItem{Cmd: &clusterpb.BatchRequestItem_Write{Write: &clusterpb.WriteRequest{
			Mutations: []*clusterpb.Mutation{{Key: []byte("k"), Value: value}}}}})
		errc <- err
	}()
	<-f.sending // handed to the stream
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) || errors.Is(err, errNotSent) {
		t.Fatalf("a sent write given up: %v, want the context's error (outcome unknown)", err)
	}
	copy(value, "XXXXX") // the caller reuses its buffer
	close(f.gate)
	waitSent := func() []*clusterpb.BatchRequest {
		for {
			f.mu.Lock()
			sent := slices.Clone(f.sent)
			f.mu.Unlock()
			if len(sent) > 0 {
				return sent
			}
			time.Sleep(time.Millisecond)
		}
	}
	sent := waitSent()
	if got := sent[0].GetRequests()[0].GetWrite().GetMutations()[0].GetValue(); string(got) != "first" {
		t.Fatalf("the wire carried %q, want %q", got, "first")
	}
}

// TestLargeRequestGoesUnary: a request too large for the batch stream's
// messages goes as a unary RPC (a node refusing an oversized stream
// message would break the stream under every request in it).
func TestLargeRequestGoesUnary(t *testing.T) {
	c := newFakeCluster(t, 1)
	cl := newTestClient(t, c, 5*time.Second)
	ctx := context.Background()
	if err := cl.Put(ctx, []byte("small"), []byte("1")); err != nil {
		t.Fatal(err)
	}
	before := c.streamItems.Load()
	if before == 0 {
		t.Fatal("the small put did not go on the stream")
	}
	big := make([]byte, 2*maxMessageBytes)
	if err := cl.Put(ctx, []byte("big"), big); err != nil {
		t.Fatal(err)
	}
	if n := c.streamItems.Load() - before; n != 0 {
		t.Fatalf("%d large requests went on the stream, want 0 (unary)", n)
	}
	if v, err := cl.Get(ctx, []byte("big")); err != nil || len(v) != len(big) {
		t.Fatalf("get big: %d bytes, %v", len(v), err)
	}
}
