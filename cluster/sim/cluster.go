package sim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strata-db/strata"
	"github.com/strata-db/strata/cluster/clusterpb"
	"github.com/strata-db/strata/cluster/raftstore"
)

// ClusterOptions configure a simulated cluster.
type ClusterOptions struct {
	// Nodes is how many stores (default 3); their node ids are 1..Nodes.
	Nodes int
	// Regions is how many regions to bootstrap (default 1): region i+1
	// holds [r%06d of i, r%06d of i+1), the first from the start of the
	// key space, the last to its end.
	Regions int
	// RegionNodes is how many of them (the first ones) hold a replica of
	// the first region (default all); the others start empty, to be
	// added by membership changes.
	RegionNodes int
	// Dir, if set, holds each node's store on disk (Dir/node<id>);
	// otherwise each node has its own in-memory file system, kept across
	// Stop and Start.
	Dir string
	// Seed drives the network's faults.
	Seed uint64
	// Faults are the network's faults from the start.
	Faults Faults
	// Config, if set, adjusts each store's configuration (NodeID, Dir,
	// DBOptions.FS, Transport and AllocID are set already).
	Config func(*raftstore.Config)
	// ReadMode is how the clients' gets and scans read (default
	// LINEARIZABLE).
	ReadMode clusterpb.ReadMode
}

// Cluster is a set of raft stores on one simulated network, with regions
// bootstrapped on them (by default one: id 1, the whole key space, peer i
// on node i).
type Cluster struct {
	Net    *Network
	opts   ClusterOptions
	nextID atomic.Uint64

	mu     sync.Mutex
	stores map[uint64]*raftstore.Store
	fss    map[uint64]strata.FS
}

// NewCluster starts a cluster.
func NewCluster(o ClusterOptions) (*Cluster, error) {
	if o.Nodes <= 0 {
		o.Nodes = 3
	}
	c := &Cluster{Net: NewNetwork(o.Seed, o.Faults), opts: o, stores: map[uint64]*raftstore.Store{}, fss: map[uint64]strata.FS{}}
	c.nextID.Store(1000)
	if o.RegionNodes <= 0 || o.RegionNodes > o.Nodes {
		o.RegionNodes = o.Nodes
	}
	if o.Regions <= 0 {
		o.Regions = 1
	}
	var regions []*clusterpb.Region
	for i := range o.Regions {
		region := &clusterpb.Region{Id: uint64(i + 1), Epoch: &clusterpb.RegionEpoch{ConfVer: 1, Version: 1}}
		if i > 0 {
			region.StartKey = fmt.Appendf(nil, "r%06d", i)
		}
		if i < o.Regions-1 {
			region.EndKey = fmt.Appendf(nil, "r%06d", i+1)
		}
		for id := uint64(1); id <= uint64(o.RegionNodes); id++ {
			peer := id
			if i > 0 {
				peer = c.nextID.Add(1)
			}
			region.Peers = append(region.Peers, &clusterpb.Peer{Id: peer, NodeId: id})
		}
		regions = append(regions, region)
	}
	// Every replica is bootstrapped before any node is on the network: a
	// message from a peer already running would create an empty replica
	// where the bootstrap is to go.
	for id := uint64(1); id <= uint64(o.Nodes); id++ {
		if err := c.start(id, false); err != nil {
			c.Close()
			return nil, err
		}
		if id > uint64(o.RegionNodes) {
			continue
		}
		for _, region := range regions {
			if err := c.Store(id).Bootstrap(region); err != nil {
				c.Close()
				return nil, err
			}
		}
	}
	for id := uint64(1); id <= uint64(o.Nodes); id++ {
		c.Net.Attach(id, c.Store(id))
	}
	return c, nil
}

// Nodes returns the node ids.
func (c *Cluster) Nodes() []uint64 {
	var out []uint64
	for id := uint64(1); id <= uint64(c.opts.Nodes); id++ {
		out = append(out, id)
	}
	return out
}

// Store returns node's store, nil while it is stopped.
func (c *Cluster) Store(node uint64) *raftstore.Store {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stores[node]
}

// Start opens node's store from its directory and attaches it.
func (c *Cluster) Start(node uint64) error { return c.start(node, true) }

func (c *Cluster) start(node uint64, attach bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stores[node] != nil {
		return nil
	}
	fs := c.fss[node]
	dir := fmt.Sprintf("/node%d", node)
	if c.opts.Dir != "" {
		fs = strata.OSFS()
		dir = fs.PathJoin(c.opts.Dir, fmt.Sprintf("node%d", node))
	} else if fs == nil {
		fs = strata.NewMemFS()
		c.fss[node] = fs
	}
	cfg := raftstore.Config{
		NodeID:    node,
		Dir:       dir,
		DBOptions: &strata.Options{FS: fs},
		Transport: c.Net.Endpoint(node),
		AllocID:   func() (uint64, error) { return c.nextID.Add(1), nil },
	}
	if c.opts.Config != nil {
		c.opts.Config(&cfg)
	}
	s, err := raftstore.Open(cfg)
	if err != nil {
		return err
	}
	c.stores[node] = s
	if attach {
		c.Net.Attach(node, s)
	}
	return nil
}

// Stop detaches node and closes its store (what a killed process leaves:
// its database as written).
func (c *Cluster) Stop(node uint64) error {
	c.mu.Lock()
	s := c.stores[node]
	delete(c.stores, node)
	c.mu.Unlock()
	c.Net.Detach(node)
	if s == nil {
		return nil
	}
	return s.Close()
}

// Crash kills node as a power cut would: it is cut off from the network at
// once, and when it starts again its file system holds only what it had
// synced (in-memory clusters only; on disk, Crash is Stop).
func (c *Cluster) Crash(node uint64) error {
	c.Net.Kill(node)
	c.mu.Lock()
	if fs := c.fss[node]; fs != nil && c.opts.Dir == "" {
		c.fss[node] = crashClone(fs)
	}
	c.mu.Unlock()
	return c.Stop(node)
}

// crashClone returns what a power cut would leave of an in-memory file
// system (strata.NewMemFS's CrashClone, reached by reflection: its type is
// internal to the engine).
func crashClone(fs strata.FS) strata.FS {
	m := reflect.ValueOf(fs).MethodByName("CrashClone")
	if !m.IsValid() {
		return fs
	}
	return m.Call(nil)[0].Interface().(strata.FS)
}

// Close stops every node and the network.
func (c *Cluster) Close() error {
	var errs []error
	for _, id := range c.Nodes() {
		errs = append(errs, c.Stop(id))
	}
	c.Net.Close()
	return errors.Join(errs...)
}

// Regions returns, for each region any running store knows, the
// descriptor with the highest epoch and the node of its leader if a
// store says it leads it (0 otherwise), ordered by start key.
func (c *Cluster) Regions() []RegionInfo {
	best := map[uint64]*RegionInfo{}
	for _, id := range c.Nodes() {
		s := c.Store(id)
		if s == nil {
			continue
		}
		sts, err := s.Regions()
		if err != nil {
			continue
		}
		for _, st := range sts {
			if !st.Initialized {
				continue
			}
			b := best[st.Region.GetId()]
			if b == nil || epochLess(b.Region.GetEpoch(), st.Region.GetEpoch()) {
				lead := uint64(0)
				if b != nil {
					lead = b.Leader
				}
				b = &RegionInfo{Region: st.Region, Leader: lead}
				best[st.Region.GetId()] = b
			}
			if st.IsLeader {
				b.Leader = id
			}
		}
	}
	var out []RegionInfo
	for _, b := range best {
		out = append(out, *b)
	}
	slices.SortFunc(out, func(a, b RegionInfo) int { return bytes.Compare(a.Region.GetStartKey(), b.Region.GetStartKey()) })
	return out
}

// RegionInfo is a region and the node of its leader (0: unknown).
type RegionInfo struct {
	Region *clusterpb.Region
	Leader uint64
}

func epochLess(a, b *clusterpb.RegionEpoch) bool {
	return a.GetVersion() < b.GetVersion() || (a.GetVersion() == b.GetVersion() && a.GetConfVer() < b.GetConfVer())
}

// Client routes requests to region leaders and retries where that is
// safe: on NotLeader, EpochNotMatch, KeyNotInRegion, RegionNotFound,
// ServerBusy, StaleCommand (never applied) and stopped stores. A write
// whose outcome cannot be known returns an error wrapping
// raftstore.ErrUnknownResult and is never retried.
type Client struct {
	c  *Cluster
	mu sync.Mutex
	rs []RegionInfo
	// writes counts the writes: every other one goes through the store's
	// WriteAsync (the gRPC batch stream's path), the others through Write.
	writes atomic.Uint64
}

// Client returns a new client of the cluster.
func (c *Cluster) Client() *Client { return &Client{c: c} }

func (cl *Client) refresh() {
	rs := cl.c.Regions()
	cl.mu.Lock()
	cl.rs = rs
	cl.mu.Unlock()
}

// route returns the region holding key (the newest descriptor) and the node
// to ask: its leader if known, else the attempt-th of its nodes.
func (cl *Client) route(key []byte, attempt int) (*clusterpb.Region, uint64) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	var best *RegionInfo
	for i := range cl.rs {
		r := &cl.rs[i]
		if bytes.Compare(key, r.Region.GetStartKey()) >= 0 && (len(r.Region.GetEndKey()) == 0 || bytes.Compare(key, r.Region.GetEndKey()) < 0) {
			if best == nil || epochLess(best.Region.GetEpoch(), r.Region.GetEpoch()) {
				best = r
			}
		}
	}
	if best == nil {
		return nil, 0
	}
	if best.Leader != 0 && attempt%3 != 2 {
		return best.Region, best.Leader
	}
	peers := best.Region.GetPeers()
	return best.Region, peers[attempt%len(peers)].GetNodeId()
}

func (cl *Client) setLeader(regionID, node uint64) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	for i := range cl.rs {
		if cl.rs[i].Region.GetId() == regionID {
			cl.rs[i].Leader = node
		}
	}
}

// do runs fn against the replica that should serve key until it gets an
// answer that is not a retryable RegionError.
func (cl *Client) do(ctx context.Context, key []byte, mode clusterpb.ReadMode, fn func(*raftstore.Store, *clusterpb.RequestContext, *clusterpb.Region) (*clusterpb.RegionError, error)) error {
	backoff := time.Millisecond
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 50*time.Millisecond)
		}
		r, node := cl.route(key, attempt)
		if r == nil {
			cl.refresh()
			continue
		}
		s := cl.c.Store(node)
		if s == nil {
			cl.setLeader(r.GetId(), 0)
			continue
		}
		rerr, err := fn(s, &clusterpb.RequestContext{RegionId: r.GetId(), Epoch: r.GetEpoch(), ReadMode: mode}, r)
		if err != nil {
			if errors.Is(err, raftstore.ErrUnknownResult) || ctx.Err() != nil {
				return err
			}
			cl.setLeader(r.GetId(), 0)
			continue // the store closed before proposing, or a read failed
		}
		switch {
		case rerr == nil:
			return nil
		case rerr.GetNotLeader() != nil:
			cl.setLeader(r.GetId(), rerr.GetNotLeader().GetLeader().GetNodeId())
		case rerr.GetEpochNotMatch() != nil, rerr.GetKeyNotInRegion() != nil, rerr.GetRegionNotFound():
			cl.refresh()
		case rerr.GetServerBusy(), rerr.GetStaleCommand():
		default:
			return fmt.Errorf("sim: region %d: %s", r.GetId(), rerr.GetMessage())
		}
	}
}

// Get reads key in the cluster's ReadMode (default: linearizably).
func (cl *Client) Get(ctx context.Context, key []byte) (value []byte, found bool, err error) {
	err = cl.do(ctx, key, cl.c.opts.ReadMode, func(s *raftstore.Store, rc *clusterpb.RequestContext, r *clusterpb.Region) (*clusterpb.RegionError, error) {
		resp, err := s.Get(ctx, &clusterpb.GetRequest{Context: rc, Key: key})
		if err != nil {
			return nil, err
		}
		value, found = resp.GetValue(), resp.GetFound()
		return resp.GetRegionError(), nil
	})
	return value, found, err
}

// Write applies mutations if conditions hold (all keys in one region,
// routed by key).
func (cl *Client) Write(ctx context.Context, key []byte, conds []*clusterpb.Condition, muts []*clusterpb.Mutation) (*clusterpb.WriteResponse, error) {
	var out *clusterpb.WriteResponse
	async := cl.writes.Add(1)%2 == 0
	err := cl.do(ctx, key, clusterpb.ReadMode_LINEARIZABLE, func(s *raftstore.Store, rc *clusterpb.RequestContext, r *clusterpb.Region) (*clusterpb.RegionError, error) {
		req := &clusterpb.WriteRequest{Context: rc, Conditions: conds, Mutations: muts}
		write := s.Write
		if async {
			write = func(ctx context.Context, req *clusterpb.WriteRequest) (*clusterpb.WriteResponse, error) {
				return writeAsync(ctx, s, req)
			}
		}
		resp, err := write(ctx, req)
		if err != nil {
			return nil, err
		}
		out = resp
		return resp.GetRegionError(), nil
	})
	return out, err
}

// writeAsync is s.Write through s.WriteAsync: the context's deadline is
// its timeout, and a context that ends first leaves the outcome unknown.
func writeAsync(ctx context.Context, s *raftstore.Store, req *clusterpb.WriteRequest) (*clusterpb.WriteResponse, error) {
	timeout := time.Minute
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	type answer struct {
		resp *clusterpb.WriteResponse
		err  error
	}
	ch := make(chan answer, 1)
	s.WriteAsync(req, timeout, func(resp *clusterpb.WriteResponse, err error) { ch <- answer{resp, err} })
	select {
	case a := <-ch:
		return a.resp, a.err
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", raftstore.ErrUnknownResult, context.Cause(ctx))
	}
}

// Put writes key.
func (cl *Client) Put(ctx context.Context, key, value []byte) error {
	_, err := cl.Write(ctx, key, nil, []*clusterpb.Mutation{{Op: clusterpb.Mutation_PUT, Key: key, Value: value}})
	return err
}

// CompareAndSwap sets key to value if its current value is old (oldExists)
// or it is absent (!oldExists).
func (cl *Client) CompareAndSwap(ctx context.Context, key, old []byte, oldExists bool, value []byte) (bool, error) {
	resp, err := cl.Write(ctx, key, []*clusterpb.Condition{{Key: key, Exists: oldExists, Value: old}},
		[]*clusterpb.Mutation{{Op: clusterpb.Mutation_PUT, Key: key, Value: value}})
	if err != nil {
		return false, err
	}
	return resp.GetSucceeded(), nil
}

// Scan reads [start, end) (end nil: to the end) across regions, at most
// limit pairs (0: all). Each region is read linearizably, but the regions
// one after the other: the scan as a whole is not one snapshot.
func (cl *Client) Scan(ctx context.Context, start, end []byte, limit int) ([]*clusterpb.KvPair, error) {
	var out []*clusterpb.KvPair
	for {
		var regionEnd []byte
		err := cl.do(ctx, start, cl.c.opts.ReadMode, func(s *raftstore.Store, rc *clusterpb.RequestContext, r *clusterpb.Region) (*clusterpb.RegionError, error) {
			e := end
			if len(r.GetEndKey()) > 0 && (len(e) == 0 || bytes.Compare(e, r.GetEndKey()) > 0) {
				e = r.GetEndKey()
			}
			resp, err := s.Scan(ctx, &clusterpb.ScanRequest{Context: rc, StartKey: start, EndKey: e, Limit: uint32(max(0, limit-len(out)))})
			if err != nil {
				return nil, err
			}
			if resp.GetRegionError() == nil {
				out = append(out, resp.GetPairs()...)
				regionEnd = r.GetEndKey()
			}
			return resp.GetRegionError(), nil
		})
		if err != nil {
			return out, err
		}
		if len(regionEnd) == 0 || (len(end) > 0 && bytes.Compare(regionEnd, end) >= 0) || (limit > 0 && len(out) >= limit) {
			return out, nil
		}
		start = regionEnd
	}
}

// Split splits the region holding key at key through its leader, retrying
// until ctx ends while the leader is unknown or changes.
func (cl *Client) Split(ctx context.Context, key []byte) (left, right *clusterpb.Region, err error) {
	err = cl.do(ctx, key, clusterpb.ReadMode_LINEARIZABLE, func(s *raftstore.Store, rc *clusterpb.RequestContext, r *clusterpb.Region) (*clusterpb.RegionError, error) {
		if bytes.Equal(r.GetStartKey(), key) {
			left, right = nil, r // already split there
			return nil, nil
		}
		left, right, err = s.Split(ctx, r.GetId(), r.GetEpoch(), key)
		var re *raftstore.RegionErr
		if errors.As(err, &re) {
			return re.Err, nil
		}
		return nil, err
	})
	cl.refresh()
	return left, right, err
}

// NewID allocates an id (for peers added by tests).
func (c *Cluster) NewID() uint64 { return c.nextID.Add(1) }

// ChangePeer applies one membership change to the region holding key
// through its leader, retrying while the leader is unknown or busy.
func (cl *Client) ChangePeer(ctx context.Context, key []byte, change *clusterpb.ChangePeer) (region *clusterpb.Region, err error) {
	return cl.ChangePeers(ctx, key, change)
}

// ChangePeers applies membership changes at once (several: through a joint
// configuration) to the region holding key through its leader, retrying
// while the leader is unknown or busy. It returns once they applied (a
// joint configuration is left afterwards, by itself).
func (cl *Client) ChangePeers(ctx context.Context, key []byte, changes ...*clusterpb.ChangePeer) (region *clusterpb.Region, err error) {
	err = cl.do(ctx, key, clusterpb.ReadMode_LINEARIZABLE, func(s *raftstore.Store, rc *clusterpb.RequestContext, r *clusterpb.Region) (*clusterpb.RegionError, error) {
		region, err = s.ChangePeers(ctx, r.GetId(), r.GetEpoch(), changes)
		var re *raftstore.RegionErr
		if errors.As(err, &re) {
			return re.Err, nil
		}
		return nil, err
	})
	cl.refresh()
	return region, err
}
