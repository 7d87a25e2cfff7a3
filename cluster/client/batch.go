package client

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/proto" // the codec batchCodec wraps
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/strata-db/strata/cluster/clusterpb"
)

// A connection's requests go on one KV.BatchCommands stream (TiKV's
// BatchCommands; the message layouts are in cluster.proto): callers queue
// their requests, one goroutine sends what is queued in one BatchRequest
// (at once when a single request waits: no timer, what piles up during a
// send goes in the next one), another receives the answers and hands each
// to its caller by id. A server that does not serve the stream (an older
// node: Unimplemented) is spoken to with the unary RPCs.
//
// Outcomes when a stream breaks: a request not yet handed to the stream is
// answered errNotSent (it was not sent: the caller may retry it, a write
// included); one sent and unanswered gets the stream's error, which for a
// write means its outcome is unknown (the caller returns ErrUnknownResult).

// errNotSent marks a request that was never sent (the stream broke or the
// caller gave up first): retrying it is safe.
var errNotSent = errors.New("request not sent")

// protoCodec is the name of gRPC's protobuf codec.
const protoCodec = "proto"

// maxStreamInflight bounds one stream's requests queued or awaiting their
// answer; more callers wait (within their contexts).
const maxStreamInflight = 4096

// maxRequestsPerMessage bounds the requests gathered into one BatchRequest.
const maxRequestsPerMessage = 256

// maxMessageBytes bounds the encoded requests gathered into one
// BatchRequest (a node refuses a message over its MaxMessageSize, 16 MiB
// by default, and that would break the stream under every request in
// it); a request larger than this goes alone as a unary RPC, which fails
// on its own if the node refuses it.
const maxMessageBytes = 1 << 20

// errLargeRequest sends a request over maxMessageBytes as a unary RPC.
var errLargeRequest = fmt.Errorf("%w: a request too large for the batch stream", errNotSent)

// maxAnswerBytes bounds a BatchResponse the client accepts: a node sends
// at most its MaxMessageSize (16 MiB by default) in one.
const maxAnswerBytes = 64 << 20

// batchConn is the KV service of one connection: a BatchCommands stream,
// opened on first use and reopened after it breaks, or the unary RPCs for a
// server without it. It implements clusterpb.KVClient.
type batchConn struct {
	cc    *grpc.ClientConn
	unary clusterpb.KVClient

	mu      sync.Mutex
	cur     *batchStream
	opening chan struct{} // closed when the open under way ends (nil: none)
	openErr error         // that open's error, for the callers that waited on it
	noStrm  bool          // the server does not serve BatchCommands
	closed  bool
}

func newBatchConn(cc *grpc.ClientConn) *batchConn {
	return &batchConn{cc: cc, unary: clusterpb.NewKVClient(cc)}
}

// close ends the stream (its unanswered requests fail) and refuses more.
func (b *batchConn) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	if b.cur != nil {
		b.cur.fail(ErrClosed)
	}
}

// stream returns the open stream, opening one if there is none (nil and
// no error: use the unary RPCs). One caller opens; the others wait for it
// (within their contexts) and share its outcome, so a node that does not
// answer costs each caller one wait, not one per caller before it. An
// error means nothing was sent.
func (b *batchConn) stream(ctx context.Context) (*batchStream, error) {
	b.mu.Lock()
	switch {
	case b.closed:
		b.mu.Unlock()
		return nil, fmt.Errorf("%w: %w", errNotSent, ErrClosed)
	case b.noStrm:
		b.mu.Unlock()
		return nil, nil
	case b.cur != nil && !b.cur.broken():
		bs := b.cur
		b.mu.Unlock()
		return bs, nil
	case b.opening != nil:
		ch := b.opening
		b.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: waiting for a batch stream: %w", errNotSent, ctx.Err())
		}
		b.mu.Lock()
		defer b.mu.Unlock()
		switch {
		case b.noStrm:
			return nil, nil
		case b.cur != nil && !b.cur.broken():
			return b.cur, nil
		case b.openErr != nil:
			return nil, b.openErr
		}
		return nil, fmt.Errorf("%w: the batch stream broke as it opened", errNotSent)
	}
	ch := make(chan struct{})
	b.opening = ch
	b.mu.Unlock()
	bs, noStrm, err := b.open(ctx)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.opening, b.openErr = nil, err
	close(ch)
	if noStrm {
		b.noStrm = true
	}
	if bs != nil {
		if b.closed {
			bs.fail(ErrClosed)
			return nil, fmt.Errorf("%w: %w", errNotSent, ErrClosed)
		}
		b.cur = bs
	}
	return bs, err
}

// open opens a stream and waits (within ctx, at most 3 s without a
// deadline) for the server's first message. noStrm reports a server
// without BatchCommands.
func (b *batchConn) open(ctx context.Context) (bs *batchStream, noStrm bool, err error) {
	sctx, cancel := context.WithCancel(context.Background())
	st, err := b.unary.BatchCommands(sctx, grpc.ForceCodecV2(batchCodec{encoding.GetCodecV2(protoCodec)}),
		grpc.MaxCallRecvMsgSize(maxAnswerBytes))
	if err != nil {
		cancel()
		return nil, false, fmt.Errorf("%w: opening a batch stream: %w", errNotSent, err)
	}
	// The server's first message (empty) says it serves the stream.
	t := time.AfterFunc(time.Until(deadlineOr(ctx, 3*time.Second)), cancel)
	_, err = st.Recv()
	stopped := t.Stop()
	if status.Code(err) == codes.Unimplemented {
		cancel()
		return nil, true, nil
	}
	if err != nil || !stopped {
		cancel()
		if err == nil {
			err = context.DeadlineExceeded
		}
		return nil, false, fmt.Errorf("%w: opening a batch stream: %w", errNotSent, err)
	}
	bs = &batchStream{st: st, cancel: cancel, queue: make(chan *call, maxStreamInflight),
		slots: make(chan struct{}, maxStreamInflight), pending: map[uint64]*call{}, done: make(chan struct{})}
	go bs.sendLoop()
	go bs.recvLoop()
	return bs, false, nil
}

// deadlineOr returns ctx's deadline, or d from now if it has none.
func deadlineOr(ctx context.Context, d time.Duration) time.Time {
	if dl, ok := ctx.Deadline(); ok {
		return dl
	}
	return time.Now().Add(d)
}

// do sends one request on the stream (or unary) and returns its answer.
func (b *batchConn) do(ctx context.Context, item *clusterpb.BatchRequestItem) (*clusterpb.BatchResponseItem, error) {
	bs, err := b.stream(ctx)
	if err != nil {
		return nil, err
	}
	if bs == nil {
		return b.doUnary(ctx, item)
	}
	r, err := bs.do(ctx, item)
	if errors.Is(err, errLargeRequest) {
		return b.doUnary(ctx, item)
	}
	return r, err
}

// doUnary sends one request as a unary RPC.
func (b *batchConn) doUnary(ctx context.Context, item *clusterpb.BatchRequestItem) (*clusterpb.BatchResponseItem, error) {
	out := &clusterpb.BatchResponseItem{Id: item.GetId()}
	switch cmd := item.GetCmd().(type) {
	case *clusterpb.BatchRequestItem_Get:
		r, err := b.unary.Get(ctx, cmd.Get)
		if err != nil {
			return nil, err
		}
		out.Resp = &clusterpb.BatchResponseItem_Get{Get: r}
	case *clusterpb.BatchRequestItem_Scan:
		r, err := b.unary.Scan(ctx, cmd.Scan)
		if err != nil {
			return nil, err
		}
		out.Resp = &clusterpb.BatchResponseItem_Scan{Scan: r}
	case *clusterpb.BatchRequestItem_Write:
		r, err := b.unary.Write(ctx, cmd.Write)
		if err != nil {
			return nil, err
		}
		out.Resp = &clusterpb.BatchResponseItem_Write{Write: r}
	default:
		return nil, fmt.Errorf("%w: empty request", errNotSent)
	}
	return out, nil
}

// Get implements clusterpb.KVClient over the stream.
func (b *batchConn) Get(ctx context.Context, req *clusterpb.GetRequest, _ ...grpc.CallOption) (*clusterpb.GetResponse, error) {
	r, err := b.do(ctx, &clusterpb.BatchRequestItem{Cmd: &clusterpb.BatchRequestItem_Get{Get: req}})
	if err != nil {
		return nil, err
	}
	if r.GetGet() == nil {
		return nil, status.Error(codes.Internal, "batch stream: a get answered without a get response")
	}
	return r.GetGet(), nil
}

// Scan implements clusterpb.KVClient over the stream.
func (b *batchConn) Scan(ctx context.Context, req *clusterpb.ScanRequest, _ ...grpc.CallOption) (*clusterpb.ScanResponse, error) {
	r, err := b.do(ctx, &clusterpb.BatchRequestItem{Cmd: &clusterpb.BatchRequestItem_Scan{Scan: req}})
	if err != nil {
		return nil, err
	}
	if r.GetScan() == nil {
		return nil, status.Error(codes.Internal, "batch stream: a scan answered without a scan response")
	}
	return r.GetScan(), nil
}

// Write implements clusterpb.KVClient over the stream.
func (b *batchConn) Write(ctx context.Context, req *clusterpb.WriteRequest, _ ...grpc.CallOption) (*clusterpb.WriteResponse, error) {
	r, err := b.do(ctx, &clusterpb.BatchRequestItem{Cmd: &clusterpb.BatchRequestItem_Write{Write: req}})
	if err != nil {
		return nil, err
	}
	if r.GetWrite() == nil {
		return nil, status.Error(codes.Internal, "batch stream: a write answered without a write response")
	}
	return r.GetWrite(), nil
}

// BatchCommands opens a raw stream (clusterpb.KVClient).
func (b *batchConn) BatchCommands(ctx context.Context, opts ...grpc.CallOption) (grpc.BidiStreamingClient[clusterpb.BatchRequest, clusterpb.BatchResponse], error) {
	return b.unary.BatchCommands(ctx, opts...)
}

// Call states: queued (waiting for the sender), sent (handed to the
// stream), abandoned (its caller gave up before it was sent: never sent).
const (
	callQueued int32 = iota
	callSent
	callAbandoned
)

// call is one request on a stream: its BatchRequestItem encoded by its
// caller (so that nothing reads the caller's keys and values once it has
// returned: a caller that gives up may reuse them at once).
type call struct {
	id     uint64
	enc    []byte
	state  atomic.Int32
	answer chan callResult // exactly one answer once sent (buffered)
}

type callResult struct {
	item *clusterpb.BatchResponseItem
	err  error
}

// batchStream is one open BatchCommands stream.
type batchStream struct {
	st     grpc.BidiStreamingClient[clusterpb.BatchRequest, clusterpb.BatchResponse]
	cancel context.CancelFunc
	queue  chan *call    // to the sender; never full (slots bound it)
	slots  chan struct{} // one per call queued or awaiting its answer
	nextID atomic.Uint64

	mu      sync.Mutex
	pending map[uint64]*call // sent, unanswered
	err     error            // why the stream broke; set once
	done    chan struct{}    // closed when it broke
}

// broken says whether the stream has failed.
func (bs *batchStream) broken() bool {
	select {
	case <-bs.done:
		return true
	default:
		return false
	}
}

// do sends item and waits for its answer, ctx's end or the stream's.
func (bs *batchStream) do(ctx context.Context, item *clusterpb.BatchRequestItem) (*clusterpb.BatchResponseItem, error) {
	select {
	case bs.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", errNotSent, ctx.Err())
	case <-bs.done:
		return nil, fmt.Errorf("%w: %w", errNotSent, bs.err)
	}
	defer func() { <-bs.slots }()
	item.Id = bs.nextID.Add(1)
	item.TimeoutMicros = uint64(max(time.Until(deadlineOr(ctx, time.Minute)), time.Microsecond) / time.Microsecond)
	enc, err := proto.Marshal(item)
	if err != nil {
		return nil, fmt.Errorf("%w: encoding the request: %w", errNotSent, err)
	}
	if len(enc) > maxMessageBytes {
		return nil, errLargeRequest
	}
	c := &call{id: item.Id, enc: enc, answer: make(chan callResult, 1)}
	bs.queue <- c // never blocks: a slot is held
	var r callResult
	select {
	case r = <-c.answer:
	case <-ctx.Done():
		if c.state.CompareAndSwap(callQueued, callAbandoned) {
			return nil, fmt.Errorf("%w: %w", errNotSent, ctx.Err())
		}
		bs.mu.Lock()
		delete(bs.pending, c.id)
		bs.mu.Unlock()
		return nil, ctx.Err() // sent: the outcome is unknown
	case <-bs.done:
		if c.state.CompareAndSwap(callQueued, callAbandoned) {
			return nil, fmt.Errorf("%w: %w", errNotSent, bs.err)
		}
		r = <-c.answer // sent (or being sent): fail or the sender answers it
	}
	if r.err != nil {
		return nil, r.err
	}
	if code := codes.Code(r.item.GetErrorCode()); code != codes.OK {
		return nil, status.Error(code, r.item.GetError())
	}
	return r.item, nil
}

// fail breaks the stream: every sent, unanswered call gets err (its
// outcome unknown); queued ones are answered errNotSent by their callers.
func (bs *batchStream) fail(err error) {
	bs.mu.Lock()
	if bs.err != nil {
		bs.mu.Unlock()
		return
	}
	bs.err = err
	pending := bs.pending
	bs.pending = nil
	close(bs.done)
	bs.mu.Unlock()
	bs.cancel()
	for _, c := range pending {
		c.answer <- callResult{err: fmt.Errorf("batch stream broke with the request in flight: %w", err)}
	}
}

// sendLoop sends the queued calls, all those queued by the time it gets to
// them in one message, until the stream breaks.
func (bs *batchStream) sendLoop() {
	var batch []*call
	var carry *call // the call that did not fit the previous message
	for {
		batch = batch[:0]
		bytes := 0
		if carry != nil {
			batch, bytes, carry = append(batch, carry), len(carry.enc), nil
		} else {
			select {
			case c := <-bs.queue:
				batch, bytes = append(batch, c), len(c.enc)
			case <-bs.done:
				return
			}
		}
		yielded := false
	gather:
		for len(batch) < maxRequestsPerMessage {
			select {
			case c := <-bs.queue:
				if bytes+len(c.enc) > maxMessageBytes {
					carry = c
					break gather
				}
				batch, bytes = append(batch, c), bytes+len(c.enc)
			default:
				// Callers an answer message just woke queue their next
				// requests one by one: when other requests are in flight,
				// let those already running queue theirs (once; no timer:
				// a lone request goes at once).
				if !yielded && len(bs.slots) > len(batch) {
					yielded = true
					runtime.Gosched()
					continue
				}
				break gather
			}
		}
		// The BatchRequest's encoding is its items' encodings, each as
		// field 1, length-delimited (see cluster.proto).
		size := 0
		for _, c := range batch {
			size += 1 + protowire.SizeVarint(uint64(len(c.enc))) + len(c.enc)
		}
		msg := make(preEncoded, 0, size)
		bs.mu.Lock()
		if bs.err != nil {
			bs.mu.Unlock()
			for _, c := range batch {
				if c.state.CompareAndSwap(callQueued, callAbandoned) {
					c.answer <- callResult{err: fmt.Errorf("%w: %w", errNotSent, bs.err)}
				}
			}
			return
		}
		for _, c := range batch {
			if !c.state.CompareAndSwap(callQueued, callSent) {
				continue // its caller gave up
			}
			bs.pending[c.id] = c
			msg = protowire.AppendTag(msg, 1, protowire.BytesType)
			msg = protowire.AppendBytes(msg, c.enc)
		}
		bs.mu.Unlock()
		if len(msg) == 0 {
			continue
		}
		if err := bs.st.SendMsg(&msg); err != nil {
			bs.fail(fmt.Errorf("sending: %w", err))
			return
		}
	}
}

// preEncoded is a message already in its wire form, which batchCodec
// passes through (the stream's requests are encoded by their callers).
type preEncoded []byte

// batchCodec is the BatchCommands stream's codec on the client: gRPC's
// protobuf codec, except that a *preEncoded is sent as is. Its name is
// "proto", so the server decodes with its protobuf codec as usual.
type batchCodec struct{ encoding.CodecV2 }

// Marshal passes a *preEncoded through and encodes anything else.
func (c batchCodec) Marshal(v any) (mem.BufferSlice, error) {
	if b, ok := v.(*preEncoded); ok {
		return mem.BufferSlice{mem.SliceBuffer(*b)}, nil
	}
	return c.CodecV2.Marshal(v)
}

// recvLoop hands each answer to its call until the stream breaks.
func (bs *batchStream) recvLoop() {
	for {
		msg, err := bs.st.Recv()
		if err != nil {
			bs.fail(fmt.Errorf("receiving: %w", err))
			return
		}
		for _, it := range msg.GetResponses() {
			bs.mu.Lock()
			c := bs.pending[it.GetId()]
			delete(bs.pending, it.GetId())
			bs.mu.Unlock()
			if c != nil {
				c.answer <- callResult{item: it}
			}
		}
	}
}
