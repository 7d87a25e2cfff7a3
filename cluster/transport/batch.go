package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/strata-db/strata/cluster/clusterpb"
)

// The KV service's BatchCommands stream (TiKV's BatchCommands): one
// long-lived stream per client connection carries that client's requests in
// batches (BatchRequest, each item with its own id, region, epoch and
// timeout) and their answers (BatchResponse), each answered as soon as it is
// done, out of order, the answers that pile up meanwhile sent in one
// message. Against one unary RPC per request it saves, per request, an
// HTTP/2 stream (headers both ways, its frames, a flush each way), a
// server goroutine's stream bookkeeping and a context per RPC. The message
// layouts are in cluster.proto beside the messages.
//
// Bounds: a stream has at most MaxStreamRequests requests being served and
// MaxMessageSize bytes of their encoded requests held at once; while it
// is full the server stops reading the stream, and HTTP/2 flow control
// holds the client back (its window fills). Answers wait to be sent in a
// queue of at most MaxStreamRequests items (each slot is released only
// once its answer is sent), so a client that does not read its answers
// stops the server from reading its requests. Every request also takes a
// slot of MaxInflightRequests (shared with the unary RPCs); without one it
// is answered "server busy" (ResourceExhausted) at once, as a unary call is.

// AsyncWriter is implemented by a KVHandler that can answer a write
// without a goroutine waiting for it (the raft store's WriteAsync): it
// calls done exactly once, from any goroutine, without blocking in it, and
// answers a write still waiting after timeout with an error (its outcome
// unknown). A batch stream hands such a handler its writes directly (no
// worker, no context per request), and the answer goes from the handler's
// goroutine straight to the stream's sender.
type AsyncWriter interface {
	WriteAsync(req *clusterpb.WriteRequest, timeout time.Duration, done func(*clusterpb.WriteResponse, error))
}

// maxBatchTimeout bounds a batched request's timeout (and is the timeout
// of one that names none).
const maxBatchTimeout = time.Minute

// maxResponsesPerMessage bounds the answers gathered into one BatchResponse.
const maxResponsesPerMessage = 256

// streamLimit bounds one stream's requests in flight, by count and by
// encoded bytes. Only the stream's receive loop acquires, so one wake-up
// channel is enough.
type streamLimit struct {
	maxItems int
	maxBytes int

	mu    sync.Mutex
	items int
	bytes int
	wake  chan struct{} // a release happened (buffered 1)
}

func newStreamLimit(maxItems, maxBytes int) *streamLimit {
	return &streamLimit{maxItems: maxItems, maxBytes: maxBytes, wake: make(chan struct{}, 1)}
}

// acquire waits until a request of n bytes fits (one always fits when none
// is in flight) or ctx ends.
func (l *streamLimit) acquire(ctx context.Context, n int) error {
	for {
		l.mu.Lock()
		if l.items == 0 || (l.items < l.maxItems && l.bytes+n <= l.maxBytes) {
			l.items++
			l.bytes += n
			l.mu.Unlock()
			return nil
		}
		l.mu.Unlock()
		select {
		case <-l.wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// release returns a request's slot and bytes.
func (l *streamLimit) release(n int) {
	l.mu.Lock()
	l.items--
	l.bytes -= n
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// inFlight returns the requests in flight (for tests).
func (l *streamLimit) inFlight() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.items
}

// answered is one answer waiting to be sent, with the size its request
// holds of the stream's limit.
type answered struct {
	item *clusterpb.BatchResponseItem
	size int
}

// BatchCommands serves one client connection's stream of batched requests.
func (k kvService) BatchCommands(stream clusterpb.KV_BatchCommandsServer) error {
	s := k.s
	if s.cfg.KV == nil {
		return errNoKV
	}
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	// The first message says the stream is served (a server without
	// BatchCommands answers Unimplemented instead).
	if err := stream.Send(&clusterpb.BatchResponse{}); err != nil {
		return err
	}
	lim := newStreamLimit(s.cfg.MaxStreamRequests, s.cfg.MaxMessageSize)
	s.stats.batchStreams.Add(1)
	defer s.stats.batchStreams.Add(-1)
	b := &batchServer{s: s, lim: lim, out: make(chan answered, s.cfg.MaxStreamRequests),
		work: make(chan job), quit: make(chan struct{}), cancels: map[uint64]context.CancelFunc{}}
	aw, _ := s.cfg.KV.(AsyncWriter)
	defer close(b.quit) // idle workers exit
	senderDone := make(chan error, 1)
	go func() {
		err := b.sendAnswers(stream)
		if err != nil {
			b.cancelAll()
			cancel()
		}
		senderDone <- err
	}()
	var recvErr error
recv:
	for {
		req, err := stream.Recv()
		if err != nil {
			recvErr = err
			break
		}
		s.stats.kvBatches.Add(1)
		for _, it := range req.GetRequests() {
			n := proto.Size(it)
			if err := lim.acquire(ctx, n); err != nil {
				recvErr = err
				break recv
			}
			if aw != nil && it.GetWrite() != nil {
				b.writeAsync(aw, job{it, n})
				continue
			}
			b.dispatch(job{it, n})
		}
	}
	// The client closed its side (io.EOF) or the stream failed: answer
	// what is in flight (a broken stream's requests are cancelled and
	// their answers dropped; its asynchronous writes are not waited for,
	// their answers go nowhere), then end the stream.
	if !errors.Is(recvErr, io.EOF) {
		b.cancelAll()
	} else {
		b.async.Wait()
	}
	b.wg.Wait()
	b.outMu.Lock()
	b.outClosed = true
	close(b.out)
	b.outMu.Unlock()
	if err := <-senderDone; err != nil {
		return err
	}
	if !errors.Is(recvErr, io.EOF) {
		return recvErr
	}
	return nil
}

// batchServer is one BatchCommands stream's state.
type batchServer struct {
	s    *Server
	lim  *streamLimit
	out  chan answered // never blocks: at most MaxStreamRequests in flight
	wg   sync.WaitGroup
	work chan job      // to an idle worker (unbuffered)
	quit chan struct{} // closed when the stream ends: idle workers exit

	// Each request's context has its own deadline and no parent (a child
	// of the stream's context would cost a registration in the parent's
	// map of children, keyed by interface, per request); the stream's end
	// cancels them through cancels instead.
	mu      sync.Mutex
	seq     uint64
	cancels map[uint64]context.CancelFunc
	broken  bool

	// async counts the writes handed to an AsyncWriter and not answered
	// yet; their answers are queued under outMu, unless out is closed.
	async     sync.WaitGroup
	outMu     sync.Mutex
	outClosed bool
}

// job is one request to serve and the bytes it holds of the limit.
type job struct {
	it   *clusterpb.BatchRequestItem
	size int
}

// dispatch hands j to an idle worker, or to a new one. Workers live as
// long as the stream (at most as many as requests were ever in flight at
// once, which MaxStreamRequests bounds), so their stacks are grown once
// rather than per request.
func (b *batchServer) dispatch(j job) {
	b.wg.Add(1)
	select {
	case b.work <- j:
	default:
		go b.worker(j)
	}
}

// worker serves j, then whatever it is handed next, until the stream ends.
func (b *batchServer) worker(j job) {
	for {
		b.serve(j)
		select {
		case j = <-b.work:
		case <-b.quit:
			return
		}
	}
}

// itemTimeout is a batched request's timeout: its own, at most (and by
// default) maxBatchTimeout.
func itemTimeout(it *clusterpb.BatchRequestItem) time.Duration {
	if t := time.Duration(min(it.GetTimeoutMicros(), uint64(maxBatchTimeout/time.Microsecond))) * time.Microsecond; t > 0 {
		return t
	}
	return maxBatchTimeout
}

// writeAsync hands a write to aw; its answer is queued by the callback.
// It takes a slot of MaxInflightRequests as serveItem does, and refuses the
// write at once without one.
func (b *batchServer) writeAsync(aw AsyncWriter, j job) {
	s := b.s
	resp := &clusterpb.BatchResponseItem{Id: j.it.GetId()}
	select {
	case s.reqSem <- struct{}{}:
	default:
		s.stats.busy.Add(1)
		b.out <- answered{failItem(resp, status.Errorf(codes.ResourceExhausted, "server busy: %d requests in flight", cap(s.reqSem))), j.size}
		return
	}
	w := j.it.GetWrite()
	if err := s.checkWrite(w); err != nil {
		<-s.reqSem
		b.out <- answered{failItem(resp, err), j.size}
		return
	}
	s.stats.kvRequests.Add(1)
	b.async.Add(1)
	aw.WriteAsync(w, itemTimeout(j.it), func(r *clusterpb.WriteResponse, err error) {
		<-s.reqSem
		if r, err = respond(r, err, "write"); err != nil {
			failItem(resp, err)
		} else {
			resp.Resp = &clusterpb.BatchResponseItem_Write{Write: r}
		}
		b.outMu.Lock()
		if !b.outClosed {
			b.out <- answered{resp, j.size} // never blocks: see out
		}
		b.outMu.Unlock()
		b.async.Done()
	})
}

// failItem sets resp's error from err (a status, or Unknown) and returns it.
func failItem(resp *clusterpb.BatchResponseItem, err error) *clusterpb.BatchResponseItem {
	st := status.Convert(err)
	resp.ErrorCode, resp.Error = uint32(st.Code()), st.Message()
	return resp
}

// serve answers one request of a batch and queues its answer.
func (b *batchServer) serve(j job) {
	defer b.wg.Done()
	ctx, cancel := context.WithTimeout(context.Background(), itemTimeout(j.it))
	b.mu.Lock()
	b.seq++
	id := b.seq
	if b.broken {
		cancel()
	} else {
		b.cancels[id] = cancel
	}
	b.mu.Unlock()
	a := answered{b.s.serveItem(ctx, j.it), j.size}
	b.mu.Lock()
	delete(b.cancels, id)
	b.mu.Unlock()
	cancel()
	b.out <- a
}

// cancelAll cancels the requests being served and those to come.
func (b *batchServer) cancelAll() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.broken = true
	for id, c := range b.cancels {
		c()
		delete(b.cancels, id)
	}
}

// serveItem checks and serves one batched request, as the unary methods
// do (ctx carries its deadline), and returns its answer.
func (s *Server) serveItem(ctx context.Context, it *clusterpb.BatchRequestItem) *clusterpb.BatchResponseItem {
	resp := &clusterpb.BatchResponseItem{Id: it.GetId()}
	fail := func(err error) *clusterpb.BatchResponseItem { return failItem(resp, err) }
	select {
	case s.reqSem <- struct{}{}:
		defer func() { <-s.reqSem }()
	default:
		s.stats.busy.Add(1)
		return fail(status.Errorf(codes.ResourceExhausted, "server busy: %d requests in flight", cap(s.reqSem)))
	}
	switch cmd := it.GetCmd().(type) {
	case *clusterpb.BatchRequestItem_Get:
		if err := s.checkGet(cmd.Get); err != nil {
			return fail(err)
		}
		s.stats.kvRequests.Add(1)
		r, err := s.cfg.KV.Get(ctx, cmd.Get)
		r, err = respond(r, err, "get")
		if err != nil {
			return fail(err)
		}
		resp.Resp = &clusterpb.BatchResponseItem_Get{Get: r}
	case *clusterpb.BatchRequestItem_Scan:
		if err := s.checkScan(cmd.Scan); err != nil {
			return fail(err)
		}
		s.stats.kvRequests.Add(1)
		r, err := s.cfg.KV.Scan(ctx, cmd.Scan)
		r, err = respond(r, err, "scan")
		if err != nil {
			return fail(err)
		}
		resp.Resp = &clusterpb.BatchResponseItem_Scan{Scan: r}
	case *clusterpb.BatchRequestItem_Write:
		if err := s.checkWrite(cmd.Write); err != nil {
			return fail(err)
		}
		s.stats.kvRequests.Add(1)
		r, err := s.cfg.KV.Write(ctx, cmd.Write)
		r, err = respond(r, err, "write")
		if err != nil {
			return fail(err)
		}
		resp.Resp = &clusterpb.BatchResponseItem_Write{Write: r}
	default:
		s.stats.kvRefused.Add(1)
		return fail(status.Error(codes.InvalidArgument, "batch: a request with no get, scan or write"))
	}
	return resp
}

// maxAnswerMessageBytes bounds the encoded answers gathered into one
// BatchResponse (the first one always goes, up to MaxMessageSize).
const maxAnswerMessageBytes = 1 << 20

// fitAnswer returns a's answer and its encoded size, or, for an answer
// over MaxMessageSize (which the stream could not carry, breaking it under
// every request in flight), a ResourceExhausted error in its place: one
// request fails, as a unary call's would.
func (b *batchServer) fitAnswer(a *clusterpb.BatchResponseItem) (*clusterpb.BatchResponseItem, int) {
	n := proto.Size(a)
	if n <= b.s.cfg.MaxMessageSize-64 {
		return a, n
	}
	a = &clusterpb.BatchResponseItem{Id: a.GetId(), ErrorCode: uint32(codes.ResourceExhausted),
		Error: fmt.Sprintf("an answer of %d bytes is over the message limit of %d bytes", n, b.s.cfg.MaxMessageSize)}
	return a, proto.Size(a)
}

// sendAnswers sends the answers as they come, every answer queued
// meanwhile in the same message (up to maxAnswerMessageBytes), until out
// is closed. After a failed send it only releases their slots (and
// cancels the requests).
func (b *batchServer) sendAnswers(stream clusterpb.KV_BatchCommandsServer) error {
	var sendErr error
	msg := &clusterpb.BatchResponse{}
	var carry *answered // the answer that did not fit the previous message
	for {
		var a answered
		if carry != nil {
			a, carry = *carry, nil
		} else {
			var ok bool
			if a, ok = <-b.out; !ok {
				return sendErr
			}
		}
		item, bytes := b.fitAnswer(a.item)
		msg.Responses = append(msg.Responses[:0], item)
		sizes := a.size
		yielded := false
	gather:
		for len(msg.Responses) < maxResponsesPerMessage {
			select {
			case more, ok := <-b.out:
				if !ok {
					break gather
				}
				item, n := b.fitAnswer(more.item)
				if bytes+n > maxAnswerMessageBytes {
					more.item = item
					carry = &more
					break gather
				}
				msg.Responses = append(msg.Responses, item)
				bytes += n
				sizes += more.size
			default:
				// The store answers a round's requests together, waking
				// their goroutines one by one: when more requests are in
				// flight, let those already woken queue their answers
				// (once; no timer) before sending.
				if !yielded && b.lim.inFlight() > len(msg.Responses) {
					yielded = true
					runtime.Gosched()
					continue
				}
				break gather
			}
		}
		if sendErr == nil {
			b.s.stats.kvAnswers.Add(1)
			if err := stream.Send(msg); err != nil {
				sendErr = fmt.Errorf("transport: batch stream: sending answers: %w", err)
				b.cancelAll()
			}
		}
		// One release for the whole message: the limit only counts.
		for range len(msg.Responses) - 1 {
			b.lim.release(0)
		}
		b.lim.release(sizes)
	}
}
