package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"

	"github.com/strata-db/strata/cluster/certs"
	"github.com/strata-db/strata/cluster/clusterpb"
)

// RaftHandler takes the Raft messages a server receives: the raft store's
// Step. It is called from the server's goroutines (one per incoming stream,
// messages of one stream in order) and should not block for long: a slow
// Step backs the sending node up through gRPC's flow control, and that
// node then drops messages (Raft retransmits them). An error is counted and
// logged; the stream goes on with the next message.
type RaftHandler interface {
	Step(msg *clusterpb.RaftMessage) error
}

// SnapshotReceiver takes the region snapshots a server receives. msg is the
// MsgSnap message (its snapshot's data is the SnapshotMeta), data the
// snapshot's bytes as the sender's SnapshotSource produced them, read chunk
// by chunk off the stream (only one chunk is held in memory). It returns once
// the snapshot is stored (and msg stepped) or has failed; the sender learns
// which (raft's ReportSnapshot).
type SnapshotReceiver interface {
	ReceiveSnapshot(ctx context.Context, msg *clusterpb.RaftMessage, data io.Reader) error
}

// KVHandler serves the client-facing KV service (the raft store's reads and
// writes). A region-level failure (not leader, stale epoch, …) is a
// response with RegionError set; an error return is a gRPC-level failure
// (a status error is passed on as is, anything else becomes Unknown).
type KVHandler interface {
	Get(ctx context.Context, req *clusterpb.GetRequest) (*clusterpb.GetResponse, error)
	Scan(ctx context.Context, req *clusterpb.ScanRequest) (*clusterpb.ScanResponse, error)
	Write(ctx context.Context, req *clusterpb.WriteRequest) (*clusterpb.WriteResponse, error)
}

// StoreKV is the raft store's client-facing methods, whose region-level
// failures are in their responses.
type StoreKV interface {
	Get(ctx context.Context, req *clusterpb.GetRequest) *clusterpb.GetResponse
	Scan(ctx context.Context, req *clusterpb.ScanRequest) *clusterpb.ScanResponse
	Write(ctx context.Context, req *clusterpb.WriteRequest) *clusterpb.WriteResponse
}

// KVFromStore adapts a StoreKV to a KVHandler that never fails at the gRPC
// level.
func KVFromStore(s StoreKV) KVHandler { return storeKV{s} }

type storeKV struct{ s StoreKV }

// Get passes the request to the store.
func (k storeKV) Get(ctx context.Context, req *clusterpb.GetRequest) (*clusterpb.GetResponse, error) {
	return k.s.Get(ctx, req), nil
}

// Scan passes the request to the store.
func (k storeKV) Scan(ctx context.Context, req *clusterpb.ScanRequest) (*clusterpb.ScanResponse, error) {
	return k.s.Scan(ctx, req), nil
}

// Write passes the request to the store.
func (k storeKV) Write(ctx context.Context, req *clusterpb.WriteRequest) (*clusterpb.WriteResponse, error) {
	return k.s.Write(ctx, req), nil
}

// PDHandler serves the placement driver's region lookups.
type PDHandler interface {
	GetRegion(ctx context.Context, req *clusterpb.GetRegionRequest) (*clusterpb.GetRegionResponse, error)
	ScanRegions(ctx context.Context, req *clusterpb.ScanRegionsRequest) (*clusterpb.ScanRegionsResponse, error)
}

// ServerConfig configures a Server. Zero limits take the defaults named.
type ServerConfig struct {
	// ClusterID is this node's cluster: a Raft message or snapshot whose
	// cluster_id differs is refused (the stream fails with
	// PermissionDenied).
	ClusterID uint64
	// NodeID is this node's id: a Raft message addressed to another node
	// (to_peer.node_id: the sender resolved a stale address) is refused
	// (FailedPrecondition), so that the sender looks the address up again.
	// 0 disables the check.
	NodeID uint64
	// Listen is the TCP address to listen on ("127.0.0.1:0" picks a port).
	Listen string
	// TLS, if set, makes the server require mutual TLS with these files.
	TLS *certs.Files
	// Insecure allows plaintext on a non-loopback address; without it,
	// NewServer refuses to listen there without TLS.
	Insecure bool

	Raft      RaftHandler      // nil: the Raft service is refused (Unimplemented)
	Snapshots SnapshotReceiver // nil: snapshots are refused (Unimplemented)
	KV        KVHandler        // nil: the KV service is refused (Unimplemented)
	PD        PDHandler        // nil: the PD service is refused (Unimplemented)
	// Admin serves the administration service as is (nil: refused).
	Admin clusterpb.AdminServer

	// MaxMessageSize bounds one gRPC message (a Raft batch, a snapshot chunk,
	// a KV request), in bytes; larger ones are refused with
	// ResourceExhausted before they are decoded. Default 16 MiB.
	MaxMessageSize int
	// MaxKeySize bounds every key of a KV request. Default 64 KiB (the
	// engine's default MaxKeySize).
	MaxKeySize int
	// MaxValueSize bounds every value of a KV request. Default 8 MiB.
	MaxValueSize int
	// MaxConcurrentStreams bounds the requests and streams one connection
	// has open at once (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS): a client
	// that wants more waits (backpressure). Default 64.
	MaxConcurrentStreams uint32
	// MaxInflightRequests bounds the KV and PD requests being served at
	// once over all connections; past it a request is refused at once with
	// ResourceExhausted ("server busy"), so that a flood costs no memory
	// beyond the bound. Default 4096.
	MaxInflightRequests int
	// MaxStreamRequests bounds the requests of one BatchCommands stream
	// served at once (and their encoded bytes, by MaxMessageSize); past it
	// the server stops reading the stream until answers are sent. Default
	// 1024.
	MaxStreamRequests int
	// MaxConnections bounds the open connections; the next ones wait in the
	// listen backlog. Default 1024. With MaxConcurrentStreams and
	// MaxMessageSize it bounds the memory requests in flight can hold.
	MaxConnections int
	// MaxConcurrentSnapshots bounds the snapshots received at once; more
	// are refused with ResourceExhausted (the sender retries later).
	// Default 4.
	MaxConcurrentSnapshots int
	// HandshakeTimeout bounds a new connection's TLS and HTTP/2 handshake.
	// Default 10s.
	HandshakeTimeout time.Duration
	// Logger receives the server's warnings; nil discards them.
	Logger *slog.Logger
}

func (c *ServerConfig) withDefaults() {
	if c.MaxMessageSize <= 0 {
		c.MaxMessageSize = 16 << 20
	}
	if c.MaxKeySize <= 0 {
		c.MaxKeySize = 64 << 10
	}
	if c.MaxValueSize <= 0 {
		c.MaxValueSize = 8 << 20
	}
	if c.MaxConcurrentStreams == 0 {
		c.MaxConcurrentStreams = 64
	}
	if c.MaxInflightRequests <= 0 {
		c.MaxInflightRequests = 4096
	}
	if c.MaxStreamRequests <= 0 {
		c.MaxStreamRequests = 1024
	}
	if c.MaxConnections <= 0 {
		c.MaxConnections = 1024
	}
	if c.MaxConcurrentSnapshots <= 0 {
		c.MaxConcurrentSnapshots = 4
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// ServerStats counts what a Server received and refused.
type ServerStats struct {
	Batches     uint64 // Raft message batches received
	Messages    uint64 // Raft messages passed to Step
	StepErrors  uint64 // of those, the ones Step returned an error for
	Snapshots   uint64 // snapshots received whole
	Refused     uint64 // Raft streams and snapshots refused (cluster id, malformed, busy)
	KVRefused   uint64 // KV requests refused (over a size limit, malformed)
	KVRequests  uint64 // KV requests passed to the KVHandler
	Busy        uint64 // KV and PD requests refused over MaxInflightRequests
	Connections uint64 // connections accepted
	OpenConns   int64  // connections open now
	RaftStreams int64  // Raft streams open now
	KVBatches   uint64 // BatchRequest messages received on BatchCommands streams
	KVStreams   int64  // BatchCommands streams open now
	// KVAnswerMessages counts BatchResponse messages sent (answers
	// gathered per message: the batched part of KVRequests over it).
	KVAnswerMessages uint64
}

// Server serves the Raft, KV and PD services of one node over gRPC.
type Server struct {
	cfg  ServerConfig
	lis  *limitListener
	grpc *grpc.Server
	done chan struct{}
	err  error // Serve's return, once done is closed

	snapSem chan struct{}
	reqSem  chan struct{} // KV and PD requests in flight
	stats   struct {
		batches, messages, stepErrors, snapshots, refused, kvRefused, kvRequests, busy, kvBatches, kvAnswers atomic.Uint64
		streams, batchStreams                                                                                atomic.Int64
	}
}

// NewServer listens on cfg.Listen and serves until Close. It refuses a
// plaintext server on a non-loopback address unless cfg.Insecure.
func NewServer(cfg ServerConfig) (*Server, error) {
	cfg.withDefaults()
	if cfg.TLS == nil && !cfg.Insecure {
		loop, err := isLoopback(cfg.Listen)
		if err != nil {
			return nil, err
		}
		if !loop {
			return nil, fmt.Errorf("transport: refusing to listen on %s without TLS: configure certificate files, or set Insecure to allow plaintext on a non-loopback address", cfg.Listen)
		}
	}
	s := &Server{
		cfg:     cfg,
		done:    make(chan struct{}),
		snapSem: make(chan struct{}, cfg.MaxConcurrentSnapshots),
		reqSem:  make(chan struct{}, cfg.MaxInflightRequests),
	}
	opts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(cfg.MaxMessageSize),
		grpc.MaxSendMsgSize(cfg.MaxMessageSize),
		grpc.MaxConcurrentStreams(cfg.MaxConcurrentStreams),
		grpc.UnaryInterceptor(s.limitRequests),
		grpc.ConnectionTimeout(cfg.HandshakeTimeout),
		// Fixed windows: a connection buffers at most this much unread data
		// (no BDP growth to 16 MiB per stream).
		grpc.InitialWindowSize(1 << 20),
		grpc.InitialConnWindowSize(4 << 20),
		grpc.SharedWriteBuffer(true),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 30 * time.Second, Timeout: 10 * time.Second}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
	}
	if cfg.TLS != nil {
		tc, err := cfg.TLS.ServerConfig()
		if err != nil {
			return nil, fmt.Errorf("transport: %w", err)
		}
		opts = append(opts, grpc.Creds(credentials.NewTLS(tc)))
	}
	lis, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("transport: %w", err)
	}
	s.lis = newLimitListener(lis, cfg.MaxConnections)
	s.grpc = grpc.NewServer(opts...)
	clusterpb.RegisterRaftServer(s.grpc, raftService{s: s})
	clusterpb.RegisterKVServer(s.grpc, kvService{s: s})
	clusterpb.RegisterPDServer(s.grpc, pdService{s: s})
	if cfg.Admin != nil {
		clusterpb.RegisterAdminServer(s.grpc, cfg.Admin)
	}
	go func() {
		s.err = s.grpc.Serve(s.lis)
		close(s.done)
	}()
	return s, nil
}

// limitRequests refuses a unary request (KV, PD) while MaxInflightRequests
// are being served.
func (s *Server) limitRequests(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	select {
	case s.reqSem <- struct{}{}:
		defer func() { <-s.reqSem }()
	default:
		s.stats.busy.Add(1)
		return nil, status.Errorf(codes.ResourceExhausted, "server busy: %d requests in flight", cap(s.reqSem))
	}
	return handler(ctx, req)
}

// isLoopback says whether a listen address is on a loopback interface only.
func isLoopback(addr string) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, fmt.Errorf("transport: listen address %q: %w", addr, err)
	}
	if host == "localhost" {
		return true, nil
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback(), nil
}

// Addr returns the address the server listens on.
func (s *Server) Addr() string { return s.lis.Addr().String() }

// Stats returns the server's counters.
func (s *Server) Stats() ServerStats {
	return ServerStats{
		Batches:     s.stats.batches.Load(),
		Messages:    s.stats.messages.Load(),
		StepErrors:  s.stats.stepErrors.Load(),
		Snapshots:   s.stats.snapshots.Load(),
		Refused:     s.stats.refused.Load(),
		KVRefused:   s.stats.kvRefused.Load(),
		KVRequests:  s.stats.kvRequests.Load(),
		Busy:        s.stats.busy.Load(),
		Connections: s.lis.accepted.Load(),
		OpenConns:   s.lis.open.Load(),
		RaftStreams: s.stats.streams.Load(),
		KVBatches:   s.stats.kvBatches.Load(),
		KVStreams:   s.stats.batchStreams.Load(),

		KVAnswerMessages: s.stats.kvAnswers.Load(),
	}
}

// Close stops the server: it stops accepting, lets running requests finish
// for up to grace, then closes every connection. It returns nil once the
// server has stopped.
func (s *Server) Close(grace time.Duration) error {
	stopped := make(chan struct{})
	go func() {
		s.grpc.GracefulStop()
		close(stopped)
	}()
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-stopped:
	case <-t.C:
		s.grpc.Stop()
		<-stopped
	}
	<-s.done
	if s.err != nil && !errors.Is(s.err, grpc.ErrServerStopped) {
		return fmt.Errorf("transport: serving %s: %w", s.Addr(), s.err)
	}
	return nil
}

// refuse counts a refused Raft stream and returns its status error.
func (s *Server) refuse(c codes.Code, format string, args ...any) error {
	s.stats.refused.Add(1)
	err := status.Errorf(c, format, args...)
	s.cfg.Logger.Warn("transport: refused raft traffic", "err", err)
	return err
}

// checkRaftMessage refuses a message of another cluster or one the store
// could not route (no peers, no raft message).
func (s *Server) checkRaftMessage(m *clusterpb.RaftMessage) error {
	if m.GetClusterId() != s.cfg.ClusterID {
		return s.refuse(codes.PermissionDenied, "raft message of cluster %d refused: this node belongs to cluster %d", m.GetClusterId(), s.cfg.ClusterID)
	}
	if (m.Message == nil && !controlMessage(m)) || m.FromPeer == nil || m.ToPeer == nil {
		return s.refuse(codes.InvalidArgument, "malformed raft message for region %d: missing message, from_peer or to_peer", m.RegionId)
	}
	if s.cfg.NodeID != 0 && m.ToPeer.NodeId != s.cfg.NodeID {
		return s.refuse(codes.FailedPrecondition, "raft message for node %d delivered to node %d (a stale address?)", m.ToPeer.NodeId, s.cfg.NodeID)
	}
	return nil
}

// stepBatch checks every message of a batch and passes it to Step. A
// refused message fails the whole stream.
func (s *Server) stepBatch(b *clusterpb.RaftMessageBatch) error {
	s.stats.batches.Add(1)
	for _, m := range b.Msgs {
		if err := s.checkRaftMessage(m); err != nil {
			return err
		}
	}
	for _, m := range b.Msgs {
		s.stats.messages.Add(1)
		if err := s.cfg.Raft.Step(m); err != nil {
			s.stats.stepErrors.Add(1)
			s.cfg.Logger.Debug("transport: step", "region", m.RegionId, "to", m.ToPeer.GetId(), "err", err)
		}
	}
	return nil
}

// raftService serves Raft/Send and Raft/Snapshot.
type raftService struct {
	clusterpb.UnimplementedRaftServer
	s *Server
}

// Send receives a node's stream of batches until the sender ends it.
func (r raftService) Send(stream clusterpb.Raft_SendServer) error {
	s := r.s
	if s.cfg.Raft == nil {
		return status.Error(codes.Unimplemented, "this node serves no raft messages")
	}
	s.stats.streams.Add(1)
	defer s.stats.streams.Add(-1)
	for {
		b, err := stream.Recv()
		if err == io.EOF {
			return stream.SendAndClose(&clusterpb.Done{})
		}
		if err != nil {
			return err
		}
		if err := s.stepBatch(b); err != nil {
			return err
		}
	}
}

// Snapshot receives one snapshot: a first chunk with the MsgSnap message,
// then its data.
func (r raftService) Snapshot(stream clusterpb.Raft_SnapshotServer) error {
	s := r.s
	if s.cfg.Snapshots == nil {
		return status.Error(codes.Unimplemented, "this node receives no snapshots")
	}
	select {
	case s.snapSem <- struct{}{}:
		defer func() { <-s.snapSem }()
	default:
		return s.refuse(codes.ResourceExhausted, "snapshot refused: %d snapshots are being received", cap(s.snapSem))
	}
	first, err := stream.Recv()
	if err != nil {
		if err == io.EOF {
			return s.refuse(codes.InvalidArgument, "empty snapshot stream")
		}
		return err
	}
	m := first.Message
	if m == nil {
		return s.refuse(codes.InvalidArgument, "snapshot stream: the first chunk carries no message")
	}
	if err := s.checkRaftMessage(m); err != nil {
		return err
	}
	if m.Message.GetType() != raftpb.MessageType_MsgSnap {
		return s.refuse(codes.InvalidArgument, "snapshot stream for region %d carries a %s, not a MsgSnap", m.RegionId, m.Message.GetType())
	}
	cr := &chunkReader{stream: stream, pending: first.Data}
	if err := s.cfg.Snapshots.ReceiveSnapshot(stream.Context(), m, cr); err != nil {
		if _, ok := status.FromError(err); ok {
			return err
		}
		return status.Errorf(codes.Aborted, "snapshot of region %d: %v", m.RegionId, err)
	}
	// Whatever the receiver did not read is drained, so that a stream that
	// carries extra chunks is still checked and ended.
	if _, err := io.Copy(io.Discard, cr); err != nil {
		return status.Errorf(codes.Aborted, "snapshot of region %d: %v", m.RegionId, err)
	}
	s.stats.snapshots.Add(1)
	return stream.SendAndClose(&clusterpb.Done{})
}

// chunkReader reads a snapshot's data chunks off its stream.
type chunkReader struct {
	stream  clusterpb.Raft_SnapshotServer
	pending []byte
	n       int // chunks read
	err     error
}

// Read returns the data of the chunks in order, io.EOF at the stream's end.
func (c *chunkReader) Read(p []byte) (int, error) {
	for len(c.pending) == 0 {
		if c.err != nil {
			return 0, c.err
		}
		ch, err := c.stream.Recv()
		if err != nil {
			c.err = err // io.EOF at the stream's end
			continue
		}
		c.n++
		if ch.Message != nil {
			c.err = fmt.Errorf("snapshot data chunk %d carries a message", c.n)
			continue
		}
		c.pending = ch.Data
	}
	n := copy(p, c.pending)
	c.pending = c.pending[n:]
	return n, nil
}

// kvService serves KV, checking every request's sizes first.
type kvService struct {
	clusterpb.UnimplementedKVServer
	s *Server
}

// errNoKV is the status of a KV request to a server without a KVHandler.
var errNoKV = status.Error(codes.Unimplemented, "this node serves no KV requests")

// checkBytes refuses a key or value over its limit.
func (s *Server) checkBytes(b []byte, limit int, what string) error {
	if len(b) > limit {
		s.stats.kvRefused.Add(1)
		return status.Errorf(codes.InvalidArgument, "%s of %d bytes is over the limit of %d bytes", what, len(b), limit)
	}
	return nil
}

// checkGet checks a GetRequest's sizes.
func (s *Server) checkGet(req *clusterpb.GetRequest) error {
	return s.checkBytes(req.Key, s.cfg.MaxKeySize, "get: key")
}

// checkScan checks a ScanRequest's sizes.
func (s *Server) checkScan(req *clusterpb.ScanRequest) error {
	if err := s.checkBytes(req.StartKey, s.cfg.MaxKeySize, "scan: start key"); err != nil {
		return err
	}
	return s.checkBytes(req.EndKey, s.cfg.MaxKeySize, "scan: end key")
}

// checkWrite checks a WriteRequest's sizes.
func (s *Server) checkWrite(req *clusterpb.WriteRequest) error {
	for i, c := range req.Conditions {
		if c == nil {
			continue
		}
		if err := s.checkBytes(c.Key, s.cfg.MaxKeySize, fmt.Sprintf("write: condition %d: key", i)); err != nil {
			return err
		}
		if err := s.checkBytes(c.Value, s.cfg.MaxValueSize, fmt.Sprintf("write: condition %d: value", i)); err != nil {
			return err
		}
	}
	if len(req.Mutations) == 0 {
		s.stats.kvRefused.Add(1)
		return status.Error(codes.InvalidArgument, "write: no mutations")
	}
	for i, m := range req.Mutations {
		if m == nil {
			s.stats.kvRefused.Add(1)
			return status.Errorf(codes.InvalidArgument, "write: mutation %d is empty", i)
		}
		if err := s.checkBytes(m.Key, s.cfg.MaxKeySize, fmt.Sprintf("write: mutation %d: key", i)); err != nil {
			return err
		}
		if err := s.checkBytes(m.EndKey, s.cfg.MaxKeySize, fmt.Sprintf("write: mutation %d: end key", i)); err != nil {
			return err
		}
		if err := s.checkBytes(m.Value, s.cfg.MaxValueSize, fmt.Sprintf("write: mutation %d: value", i)); err != nil {
			return err
		}
	}
	return nil
}

// respond passes a handler's answer on, refusing a nil response.
func respond[T any](resp *T, err error, what string) (*T, error) {
	if err != nil {
		return nil, err
	}
	if resp == nil {
		return nil, status.Errorf(codes.Internal, "%s: the handler returned no response", what)
	}
	return resp, nil
}

// Get checks and serves a GetRequest.
func (k kvService) Get(ctx context.Context, req *clusterpb.GetRequest) (*clusterpb.GetResponse, error) {
	if k.s.cfg.KV == nil {
		return nil, errNoKV
	}
	if err := k.s.checkGet(req); err != nil {
		return nil, err
	}
	k.s.stats.kvRequests.Add(1)
	resp, err := k.s.cfg.KV.Get(ctx, req)
	return respond(resp, err, "get")
}

// Scan checks and serves a ScanRequest.
func (k kvService) Scan(ctx context.Context, req *clusterpb.ScanRequest) (*clusterpb.ScanResponse, error) {
	if k.s.cfg.KV == nil {
		return nil, errNoKV
	}
	if err := k.s.checkScan(req); err != nil {
		return nil, err
	}
	k.s.stats.kvRequests.Add(1)
	resp, err := k.s.cfg.KV.Scan(ctx, req)
	return respond(resp, err, "scan")
}

// Write checks and serves a WriteRequest.
func (k kvService) Write(ctx context.Context, req *clusterpb.WriteRequest) (*clusterpb.WriteResponse, error) {
	if k.s.cfg.KV == nil {
		return nil, errNoKV
	}
	if err := k.s.checkWrite(req); err != nil {
		return nil, err
	}
	k.s.stats.kvRequests.Add(1)
	resp, err := k.s.cfg.KV.Write(ctx, req)
	return respond(resp, err, "write")
}

// pdService serves PD.
type pdService struct {
	clusterpb.UnimplementedPDServer
	s *Server
}

// errNoPD is the status of a PD request to a server without a PDHandler.
var errNoPD = status.Error(codes.Unimplemented, "this node serves no placement driver requests")

// GetRegion serves a GetRegionRequest.
func (p pdService) GetRegion(ctx context.Context, req *clusterpb.GetRegionRequest) (*clusterpb.GetRegionResponse, error) {
	if p.s.cfg.PD == nil {
		return nil, errNoPD
	}
	if err := p.s.checkBytes(req.Key, p.s.cfg.MaxKeySize, "get region: key"); err != nil {
		return nil, err
	}
	resp, err := p.s.cfg.PD.GetRegion(ctx, req)
	return respond(resp, err, "get region")
}

// ScanRegions serves a ScanRegionsRequest.
func (p pdService) ScanRegions(ctx context.Context, req *clusterpb.ScanRegionsRequest) (*clusterpb.ScanRegionsResponse, error) {
	if p.s.cfg.PD == nil {
		return nil, errNoPD
	}
	if err := p.s.checkBytes(req.StartKey, p.s.cfg.MaxKeySize, "scan regions: start key"); err != nil {
		return nil, err
	}
	if err := p.s.checkBytes(req.EndKey, p.s.cfg.MaxKeySize, "scan regions: end key"); err != nil {
		return nil, err
	}
	resp, err := p.s.cfg.PD.ScanRegions(ctx, req)
	return respond(resp, err, "scan regions")
}

// limitListener bounds the connections open at once: Accept waits while
// max are open.
type limitListener struct {
	net.Listener
	sem      chan struct{}
	closed   chan struct{}
	once     sync.Once
	accepted atomic.Uint64
	open     atomic.Int64
}

func newLimitListener(l net.Listener, max int) *limitListener {
	return &limitListener{Listener: l, sem: make(chan struct{}, max), closed: make(chan struct{})}
}

// Close closes the listener and wakes an Accept waiting for a slot.
func (l *limitListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// Accept waits for a free connection slot, then for a connection.
func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.closed:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	l.accepted.Add(1)
	l.open.Add(1)
	return &limitConn{Conn: c, l: l}, nil
}

// limitConn frees its slot once closed.
type limitConn struct {
	net.Conn
	l    *limitListener
	once sync.Once
}

// Close closes the connection and frees its slot (once).
func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.open.Add(-1)
		<-c.l.sem
	})
	return err
}
