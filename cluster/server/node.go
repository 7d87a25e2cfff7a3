// Package server is one node of a Strata cluster (`strata server`): a raft
// store holding the node's region replicas in one Strata database, the gRPC
// transport between nodes, the client-facing KV service, the placement
// driver's lookups (answered from the meta region), region and node
// heartbeats into the system key space, and metrics over HTTP in Prometheus's
// text format.
//
// A cluster starts from its initial nodes (Config.InitialCluster): each, on
// an empty directory, bootstraps the same two regions — the meta region
// [0xFF, ∞), which holds the placement driver's state, and the user region
// ["", 0xFF) — with one replica on every initial node. Later nodes join
// (Config.Join): they register in the meta region and receive replicas from
// the scheduler.
package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strata-db/strata/cluster/certs"
	"github.com/strata-db/strata/cluster/client"
	"github.com/strata-db/strata/cluster/clusterpb"
	"github.com/strata-db/strata/cluster/pd"
	"github.com/strata-db/strata/cluster/raftstore"
	"github.com/strata-db/strata/cluster/transport"
	"go.etcd.io/raft/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/proto"
)

// The first regions' and peers' ids. Ids the placement driver allocates
// later start at firstAllocatedID.
const (
	metaRegionID     = 1
	userRegionID     = 2
	firstAllocatedID = 1 << 10
)

// Config configures a node.
type Config struct {
	// NodeID is the node's id, non-zero and never reused in the cluster.
	NodeID uint64
	// ClusterID identifies the cluster: messages of another cluster are
	// refused. Every node of a cluster must have the same.
	ClusterID uint64
	// Dir holds the node's store.
	Dir string
	// Listen is the gRPC address (host:port; port 0 picks one).
	Listen string
	// Advertise is the address other nodes and clients reach this node at
	// (default: the address listened on).
	Advertise string
	// InitialCluster names the cluster's first nodes and their addresses.
	// A node listed in it with an empty store bootstraps the first regions.
	InitialCluster map[uint64]string
	// Join are addresses of running nodes, for a node not in
	// InitialCluster.
	Join []string
	// TLS, if set, makes every connection mutual TLS with these files.
	TLS *certs.Files
	// Insecure allows plaintext on a non-loopback address.
	Insecure bool
	// MetricsListen, if set, serves /metrics (Prometheus text format) on
	// this HTTP address.
	MetricsListen string
	// TickInterval is Raft's tick (default 100 ms); ElectionTicks its
	// election timeout in ticks (default 10).
	TickInterval  time.Duration
	ElectionTicks int
	// LeaseReads and LeaseClockDrift: see raftstore.Config (reads of mode
	// LEASE served under the leader's lease; every node should agree).
	LeaseReads      bool
	LeaseClockDrift time.Duration
	// LogGCThreshold and SnapshotTableSize tune the raft store's log
	// truncation and snapshots (raftstore.Config; 0: its defaults).
	LogGCThreshold    uint64
	SnapshotTableSize uint64
	// HeartbeatInterval is how often the node reports its regions and
	// itself to the placement driver (default 1 s).
	HeartbeatInterval time.Duration
	// Schedule tunes the placement driver's scheduler, which runs on the
	// node leading the meta region (default pd.DefaultConfig: three
	// replicas, a node silent for 30 s is down).
	Schedule pd.Config
	// ScheduleInterval is the period of the scheduler's rounds (default
	// 2 s).
	ScheduleInterval time.Duration
	// Logger receives the node's messages (nil: discarded).
	Logger *slog.Logger
}

// Node is a running cluster node.
type Node struct {
	cfg      Config
	log      *slog.Logger
	resolver *transport.MapResolver
	tr       *transport.Transport
	store    *raftstore.Store
	srv      *transport.Server
	internal *client.Client
	meta     *pd.Meta
	httpSrv  *http.Server
	httpLis  net.Listener

	pdLookups, pdErrors atomic.Uint64

	stop chan struct{}
	wg   sync.WaitGroup

	mu       sync.Mutex
	reported map[uint64]*clusterpb.Region          // region id → descriptor last recorded
	beats    map[uint64]*clusterpb.RegionHeartbeat // region id → heartbeat last recorded
	hbCount  uint64
}

// Start starts a node: opens its store, listens, bootstraps the first
// regions if it is an initial node with an empty store, and starts reporting
// to the placement driver.
func Start(cfg Config) (*Node, error) {
	if cfg.NodeID == 0 {
		return nil, errors.New("server: the node id must be non-zero")
	}
	if cfg.Dir == "" {
		return nil, errors.New("server: no directory")
	}
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = time.Second
	}
	if cfg.ScheduleInterval <= 0 {
		cfg.ScheduleInterval = 2 * time.Second
	}
	if cfg.Schedule.Replicas == 0 {
		cfg.Schedule = pd.DefaultConfig()
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("node", cfg.NodeID)
	n := &Node{cfg: cfg, log: log, stop: make(chan struct{}),
		reported: map[uint64]*clusterpb.Region{}, beats: map[uint64]*clusterpb.RegionHeartbeat{}}
	n.resolver = transport.NewMapResolver(cfg.InitialCluster)
	var err error
	// The transport streams snapshots' files from the store and reports to
	// it how each snapshot ended and which peers it could not reach; the
	// store, opened after it, is reached through storeRef.
	ref := &storeRef{}
	n.tr, err = transport.New(transport.Config{ClusterID: cfg.ClusterID, NodeID: cfg.NodeID,
		Resolver: n.resolver, TLS: cfg.TLS, Logger: log,
		Snapshots: ref, SnapshotStatus: ref.reportSnapshot, Unreachable: ref.reportUnreachable})
	if err != nil {
		return nil, err
	}
	n.store, err = raftstore.Open(raftstore.Config{NodeID: cfg.NodeID, ClusterID: cfg.ClusterID, Dir: cfg.Dir,
		Transport: n.tr, TickInterval: cfg.TickInterval, ElectionTicks: cfg.ElectionTicks,
		LeaseReads: cfg.LeaseReads, LeaseClockDrift: cfg.LeaseClockDrift,
		LogGCThreshold: cfg.LogGCThreshold, SnapshotTableSize: cfg.SnapshotTableSize,
		AllocID: n.allocID, Logger: log})
	if err != nil {
		n.tr.Close()
		return nil, err
	}
	ref.s.Store(n.store)
	n.srv, err = transport.NewServer(transport.ServerConfig{ClusterID: cfg.ClusterID, NodeID: cfg.NodeID, Listen: cfg.Listen,
		TLS: cfg.TLS, Insecure: cfg.Insecure, Raft: n.store, KV: n.store, Snapshots: n.store, PD: n, Admin: adminService{n: n}, Logger: log})
	if err != nil {
		n.closeStore()
		return nil, err
	}
	if n.cfg.Advertise == "" {
		n.cfg.Advertise = n.srv.Addr()
	}
	n.resolver.Set(cfg.NodeID, n.cfg.Advertise)
	if err := n.bootstrap(); err != nil {
		n.Close()
		return nil, err
	}
	seeds := []string{n.cfg.Advertise}
	for _, a := range cfg.InitialCluster {
		seeds = append(seeds, a)
	}
	seeds = append(seeds, cfg.Join...)
	var dial []grpc.DialOption
	if cfg.TLS != nil {
		tlsCfg, err := cfg.TLS.ClientConfig()
		if err != nil {
			n.Close()
			return nil, err
		}
		dial = append(dial, grpc.WithTransportCredentials(credentials.NewTLS(tlsCfg)))
	}
	n.internal, err = client.New(client.Options{Addrs: seeds, DialOptions: dial, AttemptTimeout: 2 * time.Second})
	if err != nil {
		n.Close()
		return nil, err
	}
	n.meta = pd.NewMeta(n.internal)
	if cfg.MetricsListen != "" {
		if err := n.serveMetrics(); err != nil {
			n.Close()
			return nil, err
		}
	}
	n.wg.Add(2)
	go n.heartbeatLoop()
	go n.scheduleLoop()
	return n, nil
}

// storeRef gives the transport the node's store once it is open: the
// snapshots it streams (transport.SnapshotSource) and the reports it makes.
type storeRef struct {
	s atomic.Pointer[raftstore.Store]
}

// OpenSnapshot implements transport.SnapshotSource.
func (r *storeRef) OpenSnapshot(msg *clusterpb.RaftMessage) (io.ReadCloser, error) {
	s := r.s.Load()
	if s == nil {
		return nil, errors.New("server: the store is not open yet")
	}
	return s.OpenSnapshot(msg)
}

func (r *storeRef) reportSnapshot(regionID, peerID uint64, status raft.SnapshotStatus) {
	if s := r.s.Load(); s != nil {
		s.ReportSnapshot(regionID, peerID, status)
	}
}

func (r *storeRef) reportUnreachable(regionID, peerID uint64) {
	if s := r.s.Load(); s != nil {
		s.ReportUnreachable(regionID, peerID)
	}
}

// Addr returns the address the node serves gRPC on.
func (n *Node) Addr() string { return n.srv.Addr() }

// MetricsAddr returns the address of the metrics endpoint ("" without one).
func (n *Node) MetricsAddr() string {
	if n.httpLis == nil {
		return ""
	}
	return n.httpLis.Addr().String()
}

// Store returns the node's raft store (for tests and tools).
func (n *Node) Store() *raftstore.Store { return n.store }

// Close stops the node: the heartbeats, the server (running requests get a
// moment to finish), the transport and the store.
func (n *Node) Close() error {
	select {
	case <-n.stop:
		return nil
	default:
	}
	close(n.stop)
	n.wg.Wait()
	if n.httpSrv != nil {
		_ = n.httpSrv.Close()
	}
	if n.internal != nil {
		_ = n.internal.Close()
	}
	var err error
	if n.srv != nil {
		err = n.srv.Close(time.Second)
		st := n.srv.Stats()
		rs, ts := n.store.Stats(), n.tr.Stats()
		n.log.Info("client requests served", "kv_requests", st.KVRequests, "batch_messages", st.KVBatches, "answer_messages", st.KVAnswerMessages,
			"raft_rounds", rs.ReadyRounds, "synced_writes", rs.SyncedWrites, "raft_messages_sent", ts.Messages, "raft_batches_sent", ts.Batches)
	}
	if cerr := n.closeStore(); err == nil {
		err = cerr
	}
	return err
}

func (n *Node) closeStore() error {
	err := n.store.Close()
	n.tr.Close()
	return err
}

// bootstrap creates the first regions on an initial node whose store is
// empty: the meta region and the user region, each with a replica on every
// initial node (peer id = region id × 1000 + node id... kept below
// firstAllocatedID by limiting initial clusters to 7 nodes per region).
func (n *Node) bootstrap() error {
	if _, ok := n.cfg.InitialCluster[n.cfg.NodeID]; !ok {
		return nil
	}
	regions, err := n.store.Regions()
	if err != nil {
		return err
	}
	if len(regions) > 0 {
		return nil
	}
	for _, r := range initialRegions(n.cfg.InitialCluster) {
		if err := n.store.Bootstrap(r); err != nil {
			return fmt.Errorf("server: bootstrapping region %d: %w", r.GetId(), err)
		}
	}
	n.log.Info("bootstrapped the first regions", "nodes", len(n.cfg.InitialCluster))
	return nil
}

// initialRegions are the first regions of a cluster whose initial nodes are
// nodes: the meta region [0xFF, ∞) and the user region ["", 0xFF), each with
// a voter on every initial node (peer id: region id × 100 + the node's rank).
func initialRegions(nodes map[uint64]string) []*clusterpb.Region {
	ids := make([]uint64, 0, len(nodes))
	for id := range nodes {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	mk := func(id uint64, start, end []byte) *clusterpb.Region {
		r := &clusterpb.Region{Id: id, StartKey: start, EndKey: end, Epoch: &clusterpb.RegionEpoch{ConfVer: 1, Version: 1}}
		for i, node := range ids {
			r.Peers = append(r.Peers, &clusterpb.Peer{Id: id*100 + uint64(i) + 1, NodeId: node})
		}
		return r
	}
	return []*clusterpb.Region{mk(metaRegionID, client.SystemStart, nil), mk(userRegionID, nil, client.SystemStart)}
}

// allocID gives the raft store ids for the regions and peers a split
// creates, from the placement driver's counter.
func (n *Node) allocID() (uint64, error) {
	if n.meta == nil {
		return 0, errors.New("server: the placement driver is not reachable yet")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.meta.SetIDFloor(ctx, firstAllocatedID); err != nil {
		return 0, err
	}
	return n.meta.AllocIDs(ctx, 1)
}

// isSystemLookup reports whether a region lookup is for the system key space
// (the meta region), which every node answers from what it knows locally.
func isSystemLookup(key []byte, prev bool) bool {
	if prev {
		return len(key) == 0 || bytes.Compare(key, client.SystemStart) > 0
	}
	return bytes.Compare(key, client.SystemStart) >= 0
}

// GetRegion answers the placement driver's lookup: the meta region from the
// node's own replica (or an error, so that the client asks another node),
// other regions from the region map in the meta region.
func (n *Node) GetRegion(ctx context.Context, req *clusterpb.GetRegionRequest) (*clusterpb.GetRegionResponse, error) {
	n.pdLookups.Add(1)
	var r *clusterpb.Region
	var leader *clusterpb.Peer
	if isSystemLookup(req.GetKey(), req.GetPrev()) {
		st, err := n.store.Regions()
		if err != nil {
			return &clusterpb.GetRegionResponse{Error: err.Error()}, nil
		}
		for _, s := range st {
			if s.Region.GetId() == metaRegionID && s.Initialized {
				r = s.Region
				for _, p := range r.GetPeers() {
					if p.GetId() == s.Leader {
						leader = p
					}
				}
			}
		}
		if r == nil {
			n.pdErrors.Add(1)
			return &clusterpb.GetRegionResponse{Error: fmt.Sprintf("node %d holds no replica of the meta region", n.cfg.NodeID)}, nil
		}
	} else {
		var err error
		r, err = n.meta.GetRegion(ctx, req.GetKey(), req.GetPrev())
		if err != nil {
			n.pdErrors.Add(1)
			return &clusterpb.GetRegionResponse{Error: err.Error()}, nil
		}
		leader = n.cachedLeader(r)
	}
	return &clusterpb.GetRegionResponse{Region: r, Leader: leader, Nodes: n.nodesOf(r)}, nil
}

// cachedLeader returns the leader of r recorded by its heartbeat, if this
// node knows it (it does for regions it leads).
func (n *Node) cachedLeader(r *clusterpb.Region) *clusterpb.Peer {
	n.mu.Lock()
	defer n.mu.Unlock()
	if hb := n.beats[r.GetId()]; hb != nil {
		for _, p := range r.GetPeers() {
			if p.GetId() == hb.GetLeader() {
				return p
			}
		}
	}
	return nil
}

// nodesOf returns the addresses of r's peers' nodes that this node knows.
func (n *Node) nodesOf(r *clusterpb.Region) []*clusterpb.Node {
	var out []*clusterpb.Node
	for _, p := range r.GetPeers() {
		if addr, err := n.resolver.Resolve(p.GetNodeId()); err == nil {
			out = append(out, &clusterpb.Node{Id: p.GetNodeId(), Address: addr})
		}
	}
	return out
}

// ScanRegions lists the regions overlapping the range, from the region map.
func (n *Node) ScanRegions(ctx context.Context, req *clusterpb.ScanRegionsRequest) (*clusterpb.ScanRegionsResponse, error) {
	rs, err := n.meta.ScanRegions(ctx, req.GetStartKey(), req.GetEndKey(), int(req.GetLimit()))
	if err != nil {
		return &clusterpb.ScanRegionsResponse{Error: err.Error()}, nil
	}
	resp := &clusterpb.ScanRegionsResponse{}
	for _, r := range rs {
		resp.Regions = append(resp.Regions, &clusterpb.GetRegionResponse{Region: r, Leader: n.cachedLeader(r), Nodes: n.nodesOf(r)})
	}
	return resp, nil
}

// heartbeatLoop reports, every HeartbeatInterval, the node itself and every
// region it leads whose descriptor or leadership changed since it last
// recorded them, and refreshes the node addresses it knows.
func (n *Node) heartbeatLoop() {
	defer n.wg.Done()
	t := time.NewTicker(n.cfg.HeartbeatInterval)
	defer t.Stop()
	registered := false
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*n.cfg.HeartbeatInterval)
		if !registered {
			err := n.register(ctx)
			registered = err == nil
			if err != nil {
				n.log.Debug("registering the node", "err", err)
			}
		}
		n.hbCount++
		if err := n.meta.Heartbeat(ctx, n.cfg.NodeID, n.hbCount); err != nil {
			n.log.Debug("heartbeat", "err", err)
		}
		if err := n.reportRegions(ctx); err != nil {
			n.log.Debug("reporting regions", "err", err)
		}
		if err := n.refreshNodes(ctx); err != nil {
			n.log.Debug("refreshing node addresses", "err", err)
		}
		cancel()
	}
}

// reportRegions records the regions this node leads in the region map.
func (n *Node) reportRegions(ctx context.Context) error {
	st, err := n.store.Regions()
	if err != nil {
		return err
	}
	var errs []error
	for _, s := range st {
		if !s.IsLeader || !s.Initialized {
			continue
		}
		id := s.Region.GetId()
		n.mu.Lock()
		last := n.reported[id]
		n.mu.Unlock()
		if last == nil || !proto.Equal(last, s.Region) {
			if _, err := n.meta.PutRegions(ctx, s.Region); err != nil {
				errs = append(errs, fmt.Errorf("region %d: %w", id, err))
				continue
			}
			n.mu.Lock()
			n.reported[id] = proto.Clone(s.Region).(*clusterpb.Region)
			n.mu.Unlock()
		}
		// Who leads and which peers lag: for the scheduler, and for the
		// lookups this node answers.
		hb := &clusterpb.RegionHeartbeat{RegionId: id, Leader: s.PeerID, Term: s.Term, Pending: s.Pending, Down: s.Down,
			SilenceUnknown: s.SilenceUnknown}
		n.mu.Lock()
		same := proto.Equal(n.beats[id], hb)
		n.mu.Unlock()
		if !same {
			if err := n.meta.PutRegionHeartbeat(ctx, hb); err != nil {
				errs = append(errs, err)
				continue
			}
			n.mu.Lock()
			n.beats[id] = hb
			n.mu.Unlock()
		}
	}
	return errors.Join(errs...)
}

// refreshNodes learns the addresses of the nodes registered in the meta
// region (a node that joined, or moved).
func (n *Node) refreshNodes(ctx context.Context) error {
	nodes, err := n.meta.Nodes(ctx)
	if err != nil {
		return err
	}
	for _, nd := range nodes {
		if nd.GetId() != n.cfg.NodeID && nd.GetAddress() != "" {
			n.resolver.Set(nd.GetId(), nd.GetAddress())
		}
	}
	return nil
}

// knownNodes returns the nodes whose addresses this node knows, by id.
func (n *Node) knownNodes() []*clusterpb.Node {
	// MapResolver has no listing: look up the ids the initial cluster and
	// the regions mention.
	var out []*clusterpb.Node
	seen := map[uint64]bool{}
	add := func(id uint64) {
		if seen[id] {
			return
		}
		seen[id] = true
		if addr, err := n.resolver.Resolve(id); err == nil {
			out = append(out, &clusterpb.Node{Id: id, Address: addr})
		}
	}
	for id := range n.cfg.InitialCluster {
		add(id)
	}
	add(n.cfg.NodeID)
	if st, err := n.store.Regions(); err == nil {
		for _, s := range st {
			for _, p := range s.Region.GetPeers() {
				add(p.GetNodeId())
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetId() < out[j].GetId() })
	return out
}

// adminService serves `strata cluster status|regions|split`.
type adminService struct {
	clusterpb.UnimplementedAdminServer
	n *Node
}

func (a adminService) Status(ctx context.Context, _ *clusterpb.StatusRequest) (*clusterpb.StatusResponse, error) {
	st, err := a.n.store.Regions()
	if err != nil {
		return nil, err
	}
	resp := &clusterpb.StatusResponse{ClusterId: a.n.cfg.ClusterID,
		Node: &clusterpb.Node{Id: a.n.cfg.NodeID, Address: a.n.cfg.Advertise}, Nodes: a.n.knownNodes()}
	for _, s := range st {
		resp.Replicas = append(resp.Replicas, &clusterpb.ReplicaStatus{Region: s.Region, PeerId: s.PeerID,
			Leader: s.Leader, IsLeader: s.IsLeader, Term: s.Term, Applied: s.Applied, Hibernating: s.Hibernating})
	}
	return resp, nil
}

func (a adminService) Split(ctx context.Context, req *clusterpb.SplitRegionRequest) (*clusterpb.SplitRegionResponse, error) {
	key := req.GetSplitKey()
	if len(key) == 0 || bytes.Compare(key, client.SystemStart) >= 0 {
		return &clusterpb.SplitRegionResponse{Error: fmt.Sprintf("split key %q: must be a non-empty user key (below 0xFF)", key)}, nil
	}
	st, err := a.n.store.Regions()
	if err != nil {
		return nil, err
	}
	for _, s := range st {
		r := s.Region
		if bytes.Compare(key, r.GetStartKey()) < 0 || (len(r.GetEndKey()) > 0 && bytes.Compare(key, r.GetEndKey()) >= 0) {
			continue
		}
		if bytes.Equal(key, r.GetStartKey()) {
			return &clusterpb.SplitRegionResponse{Error: fmt.Sprintf("region %d already starts at %q", r.GetId(), key)}, nil
		}
		left, right, err := a.n.store.Split(ctx, r.GetId(), r.GetEpoch(), key)
		if err != nil {
			var re *raftstore.RegionErr
			if errors.As(err, &re) {
				return &clusterpb.SplitRegionResponse{Error: err.Error(), RegionError: re.Err}, nil
			}
			return &clusterpb.SplitRegionResponse{Error: err.Error()}, nil
		}
		return &clusterpb.SplitRegionResponse{Left: left, Right: right}, nil
	}
	return &clusterpb.SplitRegionResponse{Error: fmt.Sprintf("node %d holds no replica of the region of %q", a.n.cfg.NodeID, key)}, nil
}

// serveMetrics serves /metrics in Prometheus's text exposition format.
func (n *Node) serveMetrics() error {
	lis, err := net.Listen("tcp", n.cfg.MetricsListen)
	if err != nil {
		return fmt.Errorf("server: metrics listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", n.writeMetrics)
	n.httpLis = lis
	n.httpSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = n.httpSrv.Serve(lis) }()
	return nil
}

// writeMetrics writes the node's counters and gauges (each with HELP and
// TYPE lines, as the Prometheus text format wants).
func (n *Node) writeMetrics(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	metric := func(name, kind, help string, v uint64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n%s %s\n", name, help, name, kind, name, strconv.FormatUint(v, 10))
	}
	st := n.store.Stats()
	metric("strata_raft_ready_rounds_total", "counter", "Rounds of Ready handling (at most one synced write each).", st.ReadyRounds)
	metric("strata_raft_synced_writes_total", "counter", "Rounds whose Raft state was written with sync.", st.SyncedWrites)
	metric("strata_raft_ticks_total", "counter", "Region ticks processed (hibernating regions cost none).", st.Ticks)
	metric("strata_raft_snapshots_generated_total", "counter", "Region snapshots built for lagging replicas.", st.SnapshotsGenerated)
	metric("strata_raft_snapshots_applied_total", "counter", "Region snapshots ingested.", st.SnapshotsApplied)
	metric("strata_raft_snapshots_refused_total", "counter", "Region snapshots received and refused (bad files, ingest failed).", st.SnapshotsRefused)
	metric("strata_raft_splits_total", "counter", "Region splits applied.", st.Splits)
	metric("strata_raft_log_compactions_total", "counter", "Raft log truncations applied.", st.LogCompactions)
	if n.srv != nil {
		ts := n.srv.Stats()
		metric("strata_kv_requests_total", "counter", "Client requests (get, scan, write) passed to the store, unary or batched.", ts.KVRequests)
		metric("strata_kv_batch_messages_total", "counter", "BatchRequest messages received on BatchCommands streams.", ts.KVBatches)
		metric("strata_kv_answer_messages_total", "counter", "BatchResponse messages sent on BatchCommands streams.", ts.KVAnswerMessages)
	}
	metric("strata_pd_lookups_total", "counter", "Region lookups answered.", n.pdLookups.Load())
	metric("strata_pd_lookup_errors_total", "counter", "Region lookups that failed.", n.pdErrors.Load())
	if regions, err := n.store.Regions(); err == nil {
		var leaders, hibernating uint64
		for _, s := range regions {
			if s.IsLeader {
				leaders++
			}
			if s.Hibernating {
				hibernating++
			}
		}
		metric("strata_regions", "gauge", "Region replicas hosted.", uint64(len(regions)))
		metric("strata_region_leaders", "gauge", "Regions this node leads.", leaders)
		metric("strata_regions_hibernating", "gauge", "Replicas hibernating.", hibernating)
	}
}
