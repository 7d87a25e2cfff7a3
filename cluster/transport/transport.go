package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/grpc"

	"github.com/strata-db/strata/cluster/certs"
	"github.com/strata-db/strata/cluster/clusterpb"
)

// Resolver maps a node id to the address its server listens on. It is asked
// again each time a connection to the node is (re)made, so a node that
// restarted elsewhere is found at its new address.
type Resolver interface {
	Resolve(nodeID uint64) (string, error)
}

// MapResolver is a Resolver over a map that may change while in use.
type MapResolver struct {
	mu    sync.RWMutex
	addrs map[uint64]string
}

// NewMapResolver returns a MapResolver knowing addrs (copied).
func NewMapResolver(addrs map[uint64]string) *MapResolver {
	r := &MapResolver{addrs: map[uint64]string{}}
	for id, a := range addrs {
		r.addrs[id] = a
	}
	return r
}

// Set records (or, with an empty addr, forgets) a node's address.
func (r *MapResolver) Set(nodeID uint64, addr string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if addr == "" {
		delete(r.addrs, nodeID)
	} else {
		r.addrs[nodeID] = addr
	}
}

// Resolve returns the node's address, or an error if it is not known.
func (r *MapResolver) Resolve(nodeID uint64) (string, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	a, ok := r.addrs[nodeID]
	if !ok {
		return "", fmt.Errorf("transport: no address known for node %d", nodeID)
	}
	return a, nil
}

// SnapshotSource gives the bytes of the snapshot a MsgSnap message carries
// (the raft store implements it over the snapshot's files). The transport
// streams what the reader returns in chunks and closes it.
type SnapshotSource interface {
	OpenSnapshot(msg *clusterpb.RaftMessage) (io.ReadCloser, error)
}

// Config configures a Transport. Zero limits take the defaults named.
type Config struct {
	// ClusterID is stamped on every message sent (the receiving server
	// refuses messages of another cluster).
	ClusterID uint64
	// NodeID is this node's id (for logs).
	NodeID uint64
	// Resolver finds peer nodes' addresses. Required.
	Resolver Resolver
	// TLS, if set, makes connections mutual TLS with these files (the
	// node's certificate serves as the client certificate).
	TLS *certs.Files

	// QueueMessages and QueueBytes bound each peer's queue of messages not
	// yet sent; a message that does not fit is dropped and counted.
	// Defaults 4096 messages and 64 MiB.
	QueueMessages int
	QueueBytes    int
	// MaxBatchBytes bounds one RaftMessageBatch (approximately: the sizes
	// of its messages' entries and keys); it must stay below the receiving
	// server's MaxMessageSize. A single message over it is still sent
	// alone. Default 4 MiB.
	MaxBatchBytes int
	// MaxMessageSize bounds one gRPC message sent or received. Default
	// 16 MiB (the server's default).
	MaxMessageSize int
	// DisableBatching sends every message as a batch of its own (for
	// comparison in benchmarks).
	DisableBatching bool

	// Snapshots, if set, provides the data of MsgSnap messages, which are
	// then streamed on Raft/Snapshot; if nil, a MsgSnap goes on the message
	// stream like any other message (its snapshot inline), reported
	// finished once sent and failed if dropped.
	Snapshots SnapshotSource
	// SnapshotChunkSize is the data size of one SnapshotChunk. Default 1 MiB.
	SnapshotChunkSize int
	// MaxConcurrentSnapshots bounds the snapshots being sent at once;
	// past it a snapshot fails at once (reported, Raft retries). Default 4.
	MaxConcurrentSnapshots int

	// Unreachable, if set, is told of every region and peer that had a
	// message for a node the transport could not reach (raft's
	// ReportUnreachable). It is called from the transport's goroutines and
	// must not block.
	Unreachable func(regionID, peerID uint64)
	// SnapshotStatus, if set, is told how each snapshot sent ended (raft's
	// ReportSnapshot): every MsgSnap given to Send while the transport is
	// open is reported once, finished or failed. It is called from the transport's goroutines and
	// must not block.
	SnapshotStatus func(regionID, peerID uint64, status raft.SnapshotStatus)

	// MinBackoff and MaxBackoff bound the wait before redialling a node
	// that failed (doubling, with jitter). Defaults 100ms and 5s.
	MinBackoff, MaxBackoff time.Duration
	// DialTimeout bounds establishing a stream to a node. Default 5s.
	DialTimeout time.Duration
	// Logger receives the transport's warnings; nil discards them.
	Logger *slog.Logger
}

func (c *Config) withDefaults() {
	if c.QueueMessages <= 0 {
		c.QueueMessages = 4096
	}
	if c.QueueBytes <= 0 {
		c.QueueBytes = 64 << 20
	}
	if c.MaxBatchBytes <= 0 {
		c.MaxBatchBytes = 4 << 20
	}
	if c.MaxMessageSize <= 0 {
		c.MaxMessageSize = 16 << 20
	}
	if c.SnapshotChunkSize <= 0 {
		c.SnapshotChunkSize = 1 << 20
	}
	if c.MaxConcurrentSnapshots <= 0 {
		c.MaxConcurrentSnapshots = 4
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = 100 * time.Millisecond
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = max(5*time.Second, c.MinBackoff)
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Stats counts what a Transport sent and dropped.
type Stats struct {
	Messages        uint64 // messages sent (handed to gRPC)
	Batches         uint64 // batches sent
	Dropped         uint64 // messages dropped: queue full, node unreachable, transport closed
	QueueFull       uint64 // of Dropped, those dropped because a queue was full
	Unreachable     uint64 // reports of an unreachable region peer
	Dials           uint64 // streams opened to peers
	SnapshotsSent   uint64 // snapshots the receiver acknowledged
	SnapshotsFailed uint64 // snapshots that failed
}

// String formats the counters for logs.
func (s Stats) String() string {
	return fmt.Sprintf("sent %d messages in %d batches, dropped %d (queue full %d), unreachable %d, dials %d, snapshots sent %d, failed %d",
		s.Messages, s.Batches, s.Dropped, s.QueueFull, s.Unreachable, s.Dials, s.SnapshotsSent, s.SnapshotsFailed)
}

// Transport sends a node's Raft messages to the other nodes: one gRPC
// stream per peer node, every message queued for it since the last send
// going as one RaftMessageBatch.
type Transport struct {
	cfg    Config
	ctx    context.Context // canceled by Close: ends every stream
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.RWMutex
	peers  map[uint64]*peer
	closed bool

	snapSem chan struct{}
	stats   struct {
		messages, batches, dropped, queueFull, unreachable, dials, snapsSent, snapsFailed atomic.Uint64
	}
}

// New returns a Transport. It dials nothing until a message is sent.
func New(cfg Config) (*Transport, error) {
	if cfg.Resolver == nil {
		return nil, errors.New("transport: Config.Resolver is required")
	}
	cfg.withDefaults()
	if cfg.TLS != nil {
		if _, err := cfg.TLS.ClientConfig(); err != nil {
			return nil, fmt.Errorf("transport: %w", err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Transport{
		cfg:     cfg,
		ctx:     ctx,
		cancel:  cancel,
		peers:   map[uint64]*peer{},
		snapSem: make(chan struct{}, cfg.MaxConcurrentSnapshots),
	}, nil
}

// Stats returns the transport's counters.
func (t *Transport) Stats() Stats {
	s := &t.stats
	return Stats{
		Messages: s.messages.Load(), Batches: s.batches.Load(), Dropped: s.dropped.Load(),
		QueueFull: s.queueFull.Load(), Unreachable: s.unreachable.Load(), Dials: s.dials.Load(),
		SnapshotsSent: s.snapsSent.Load(), SnapshotsFailed: s.snapsFailed.Load(),
	}
}

// Send queues msgs for their nodes (msg.ToPeer.NodeId) and returns at once:
// it never blocks on the network. It stamps each message with the cluster id
// and takes ownership of it (the caller must not change it afterwards). A
// message whose node's queue is full is dropped and counted; a message with
// no destination is dropped.
func (t *Transport) Send(msgs []*clusterpb.RaftMessage) {
	for _, m := range msgs {
		if m == nil || m.ToPeer == nil || (m.Message == nil && !controlMessage(m)) {
			t.stats.dropped.Add(1)
			continue
		}
		m.ClusterId = t.cfg.ClusterID
		p := t.peer(m.ToPeer.NodeId)
		if p == nil {
			t.drop(m, false)
			continue
		}
		if t.cfg.Snapshots != nil && m.Message.GetType() == raftpb.MessageType_MsgSnap {
			t.sendSnapshot(p, m)
			continue
		}
		p.enqueue(m)
	}
}

// peer returns the node's peer, starting it on first use; nil once closed.
func (t *Transport) peer(nodeID uint64) *peer {
	t.mu.RLock()
	p, closed := t.peers[nodeID], t.closed
	t.mu.RUnlock()
	if closed {
		return nil
	}
	if p != nil {
		return p
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	if p = t.peers[nodeID]; p == nil {
		p = &peer{t: t, nodeID: nodeID, queue: make(chan queued, t.cfg.QueueMessages), stop: make(chan struct{})}
		p.ctx, p.cancel = context.WithCancel(t.ctx)
		t.peers[nodeID] = p
		t.wg.Add(1)
		go p.run()
	}
	return p
}

// Close stops the transport: queued messages are dropped, streams are ended
// (what was sent is flushed for up to a second), connections are closed.
func (t *Transport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	for _, p := range t.peers {
		close(p.stop)
	}
	t.mu.Unlock()
	stop := time.AfterFunc(time.Second, t.cancel)
	t.wg.Wait()
	stop.Stop()
	t.cancel()
	return nil
}

// Forget stops sending to a node (one removed from the cluster): its queue
// is dropped, its stream ended (what was sent is flushed for up to a
// second) and its connection closed. A later message for the node starts
// afresh.
func (t *Transport) Forget(nodeID uint64) {
	t.mu.Lock()
	p := t.peers[nodeID]
	if p != nil && !t.closed {
		delete(t.peers, nodeID)
		close(p.stop)
		time.AfterFunc(time.Second, p.cancel)
	}
	t.mu.Unlock()
}

// dialOptions are the options of a connection to a peer node.
func (t *Transport) dialOptions() ([]grpc.DialOption, error) {
	return dialOptions(t.cfg.TLS, t.cfg.MaxMessageSize, t.cfg.MinBackoff, t.cfg.MaxBackoff, t.cfg.DialTimeout)
}

// messageSlack is the room left in MaxMessageSize for what msgSize does
// not count (the batch's and message's framing, peers, epochs).
const messageSlack = 4 << 10

// queued is a message in a peer's queue with its accounted size.
type queued struct {
	m    *clusterpb.RaftMessage
	size int
}

// msgSize estimates a message's encoded size cheaply (entries' data, the
// snapshot's data, keys, plus a fixed allowance per entry and message).
func msgSize(m *clusterpb.RaftMessage) int {
	n := 64 + len(m.StartKey) + len(m.EndKey) + len(m.Message.GetSnapshot().GetData())
	for _, e := range m.Message.GetEntries() {
		n += 24 + len(e.GetData())
	}
	return n
}

// peer is the sending side towards one node: its queue, its connection and
// the goroutine that drains the queue into a stream.
type peer struct {
	t      *Transport
	nodeID uint64
	queue  chan queued
	bytes  atomic.Int64  // bytes queued
	stop   chan struct{} // closed by Close or Forget: run returns
	ctx    context.Context
	cancel context.CancelFunc // ends the peer's streams

	mu     sync.Mutex // guards conn, addr and closed (shared with snapshot senders)
	conn   *grpc.ClientConn
	addr   string
	closed bool // run returned: no more connections
}

// shutdown closes the peer's connection for good.
func (p *peer) shutdown() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	if p.conn != nil {
		p.conn.Close()
		p.conn = nil
	}
}

// drop counts a message dropped; a snapshot sent inline that is dropped
// is reported failed (raft waits for every snapshot's report).
func (t *Transport) drop(m *clusterpb.RaftMessage, queueFull bool) {
	t.stats.dropped.Add(1)
	if queueFull {
		t.stats.queueFull.Add(1)
	}
	if m.Message.GetType() == raftpb.MessageType_MsgSnap {
		t.reportSnapshot(m, errors.New("dropped"))
	}
}

// reportSnapshot counts how a snapshot's sending ended and tells
// Config.SnapshotStatus.
func (t *Transport) reportSnapshot(m *clusterpb.RaftMessage, err error) {
	st := raft.SnapshotFinish
	if err != nil {
		st = raft.SnapshotFailure
		t.stats.snapsFailed.Add(1)
		t.cfg.Logger.Warn("transport: snapshot failed", "region", m.RegionId, "node", m.ToPeer.GetNodeId(), "err", err)
	} else {
		t.stats.snapsSent.Add(1)
	}
	if t.cfg.SnapshotStatus != nil {
		t.cfg.SnapshotStatus(m.RegionId, m.ToPeer.GetId(), st)
	}
}

// enqueue adds m to the queue, or drops it if the queue is full.
func (p *peer) enqueue(m *clusterpb.RaftMessage) {
	t := p.t
	size := msgSize(m)
	if size > t.cfg.MaxMessageSize-messageSlack {
		// It could never be sent: gRPC refuses it, and would break the
		// stream for every message behind it.
		t.drop(m, false)
		t.cfg.Logger.Warn("transport: message over MaxMessageSize dropped", "region", m.RegionId, "type", m.Message.GetType(), "bytes", size, "limit", t.cfg.MaxMessageSize)
		return
	}
	if p.bytes.Add(int64(size)) > int64(t.cfg.QueueBytes) {
		p.bytes.Add(-int64(size))
		t.drop(m, true)
		return
	}
	select {
	case p.queue <- queued{m, size}:
	default:
		p.bytes.Add(-int64(size))
		t.drop(m, true)
	}
}

// client returns a Raft client to the node, (re)making the connection if
// there is none or the node's address changed.
func (p *peer) client() (clusterpb.RaftClient, error) {
	addr, err := p.t.cfg.Resolver.Resolve(p.nodeID)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, fmt.Errorf("transport: node %d: transport closed or node forgotten", p.nodeID)
	}
	if p.conn != nil && p.addr == addr {
		return clusterpb.NewRaftClient(p.conn), nil
	}
	if p.conn != nil {
		p.conn.Close()
		p.conn = nil
	}
	opts, err := p.t.dialOptions()
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("transport: node %d at %s: %w", p.nodeID, addr, err)
	}
	p.conn, p.addr = conn, addr
	return clusterpb.NewRaftClient(conn), nil
}

// open opens a Send stream to the node, giving up after DialTimeout.
func (p *peer) open() (clusterpb.Raft_SendClient, context.CancelFunc, error) {
	c, err := p.client()
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(p.ctx)
	timer := time.AfterFunc(p.t.cfg.DialTimeout, cancel)
	s, err := c.Send(ctx)
	if !timer.Stop() && err == nil {
		err = fmt.Errorf("opening a stream took over %v", p.t.cfg.DialTimeout)
	}
	if err != nil {
		cancel()
		return nil, nil, fmt.Errorf("transport: node %d: %w", p.nodeID, err)
	}
	p.t.stats.dials.Add(1)
	return s, cancel, nil
}

// run drains the queue into the node's stream until the transport closes.
func (p *peer) run() {
	t := p.t
	defer t.wg.Done()
	var (
		stream   clusterpb.Raft_SendClient
		cancel   context.CancelFunc
		failures int
		batch    = &clusterpb.RaftMessageBatch{}
	)
	endStream := func() {
		if stream != nil {
			stream.CloseAndRecv()
			cancel()
			stream, cancel = nil, nil
		}
	}
	defer p.shutdown()
	defer endStream()
	for {
		var first queued
		select {
		case <-p.stop:
			return
		case first = <-p.queue:
		}
		p.collect(batch, first)
		err := error(nil)
		if stream == nil {
			stream, cancel, err = p.open()
		}
		if err == nil {
			if err = stream.Send(batch); err != nil {
				// Send reports io.EOF when the stream broke; the status
				// (why) comes from CloseAndRecv.
				if _, rerr := stream.CloseAndRecv(); rerr != nil {
					err = rerr
				}
				cancel()
				stream, cancel = nil, nil
			}
		}
		if err == nil {
			failures = 0
			t.stats.messages.Add(uint64(len(batch.Msgs)))
			t.stats.batches.Add(1)
			for _, m := range batch.Msgs {
				if m.Message.GetType() == raftpb.MessageType_MsgSnap {
					t.reportSnapshot(m, nil) // sent inline, whole
				}
			}
			clear(batch.Msgs)
			batch.Msgs = batch.Msgs[:0]
			continue
		}
		failures++
		t.cfg.Logger.Warn("transport: node unreachable", "node", p.nodeID, "from", t.cfg.NodeID, "err", err)
		p.fail(batch)
		if !p.sleep(failures) {
			return
		}
	}
}

// collect fills batch with first and, batching, whatever else is queued,
// up to MaxBatchBytes.
func (p *peer) collect(batch *clusterpb.RaftMessageBatch, first queued) {
	batch.Msgs = append(batch.Msgs[:0], first.m)
	size := first.size
	p.bytes.Add(-int64(first.size))
	if p.t.cfg.DisableBatching {
		return
	}
	for size < p.t.cfg.MaxBatchBytes {
		select {
		case q := <-p.queue:
			batch.Msgs = append(batch.Msgs, q.m)
			size += q.size
			p.bytes.Add(-int64(q.size))
		default:
			return
		}
	}
}

// fail drops the failed batch and everything queued behind it, and
// reports each region peer they were for as unreachable.
func (p *peer) fail(batch *clusterpb.RaftMessageBatch) {
	t := p.t
	type target struct{ region, peer uint64 }
	seen := map[target]bool{}
	drop := func(m *clusterpb.RaftMessage) {
		t.drop(m, false)
		seen[target{m.RegionId, m.ToPeer.GetId()}] = true
	}
	for _, m := range batch.Msgs {
		drop(m)
	}
	clear(batch.Msgs)
	batch.Msgs = batch.Msgs[:0]
	for drained := false; !drained; {
		select {
		case q := <-p.queue:
			p.bytes.Add(-int64(q.size))
			drop(q.m)
		default:
			drained = true
		}
	}
	for tg := range seen {
		t.stats.unreachable.Add(1)
		if t.cfg.Unreachable != nil {
			t.cfg.Unreachable(tg.region, tg.peer)
		}
	}
}

// sleep waits the backoff after the n-th consecutive failure; false if the
// transport closed meanwhile.
func (p *peer) sleep(n int) bool {
	d := p.t.cfg.MinBackoff << min(n-1, 16)
	if d > p.t.cfg.MaxBackoff || d <= 0 {
		d = p.t.cfg.MaxBackoff
	}
	d = d/2 + rand.N(d/2+1) // jitter: [d/2, d]
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-p.stop:
		return false
	case <-timer.C:
		return true
	}
}

// sendSnapshot streams m's snapshot to its node on a goroutine of its own,
// and reports how it ended.
func (t *Transport) sendSnapshot(p *peer, m *clusterpb.RaftMessage) {
	report := func(err error) { t.reportSnapshot(m, err) }
	select {
	case t.snapSem <- struct{}{}:
	default:
		report(fmt.Errorf("%d snapshots are being sent", cap(t.snapSem)))
		return
	}
	// The goroutine joins the WaitGroup only while the transport is open
	// (Close sets closed under the lock before it waits).
	t.mu.RLock()
	closed := t.closed
	if !closed {
		t.wg.Add(1)
	}
	t.mu.RUnlock()
	if closed {
		<-t.snapSem
		report(errors.New("transport closed"))
		return
	}
	go func() {
		defer t.wg.Done()
		defer func() { <-t.snapSem }()
		err := p.streamSnapshot(m)
		if err != nil && t.cfg.Unreachable != nil {
			t.stats.unreachable.Add(1)
			t.cfg.Unreachable(m.RegionId, m.ToPeer.GetId())
		}
		report(err)
	}()
}

// streamSnapshot sends the first chunk (the message) and then the
// snapshot's data in chunks, and waits for the receiver's answer.
func (p *peer) streamSnapshot(m *clusterpb.RaftMessage) error {
	t := p.t
	rc, err := t.cfg.Snapshots.OpenSnapshot(m)
	if err != nil {
		return fmt.Errorf("opening the snapshot: %w", err)
	}
	defer rc.Close()
	c, err := p.client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(p.ctx)
	defer cancel()
	stream, err := c.Snapshot(ctx)
	if err != nil {
		return err
	}
	if err := stream.Send(&clusterpb.SnapshotChunk{Message: m}); err != nil {
		_, err = stream.CloseAndRecv()
		return err
	}
	buf := make([]byte, t.cfg.SnapshotChunkSize)
	chunk := &clusterpb.SnapshotChunk{}
	for {
		n, rerr := io.ReadFull(rc, buf)
		if n > 0 {
			chunk.Data = buf[:n]
			if err := stream.Send(chunk); err != nil {
				_, err = stream.CloseAndRecv()
				return err
			}
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			return fmt.Errorf("reading the snapshot: %w", rerr)
		}
		select {
		case <-p.stop:
			return errors.New("transport closed or node forgotten")
		default:
		}
	}
	_, err = stream.CloseAndRecv()
	return err
}

// controlMessage reports whether m is one of the raft store's messages that
// carry no raft message: a leader telling a follower its region hibernates,
// or a tombstone answer telling a removed replica so.
func controlMessage(m *clusterpb.RaftMessage) bool {
	return m.GetHibernate() || m.GetIsTombstone()
}
