// Package client is the Go client of a Strata cluster: Get, Put, Delete, Scan
// with bounds and a limit, CompareAndSwap, and atomic batches within one
// region, over gRPC, with the same shape as the embedded engine's API where it
// can have it.
//
// The client keeps a cache of regions (key range, epoch, replicas, the leader
// it last saw) filled by asking any node (every node answers the placement
// driver's GetRegion). A request goes to the region's leader; a refusal that
// proves the request was not applied (not the leader, a stale epoch, the key
// outside the region, the server busy) corrects the cache and is retried. A
// write whose outcome cannot be known — the RPC failed or timed out after it
// may have reached the leader, or the leader lost its leadership with the
// command in flight — is never retried silently: it returns an error that
// wraps ErrUnknownResult. Reads are retried on any failure.
package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/strata-db/strata/cluster/clusterpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
)

// Errors the client returns (wrapped, with what and where: test with errors.Is).
var (
	// ErrNotFound is returned by Get for a key that does not exist.
	ErrNotFound = errors.New("cluster: key not found")
	// ErrUnknownResult means a write may or may not have been applied: its
	// request may have reached the leader but no answer came back. The
	// caller decides (read and check, or retry if the write is idempotent).
	ErrUnknownResult = errors.New("cluster: the write's outcome is unknown (it may or may not have been applied)")
	// ErrCrossRegion is returned by Write for a batch whose keys are not all
	// in one region (a batch is atomic only within a region).
	ErrCrossRegion = errors.New("cluster: a batch's keys span more than one region")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("cluster: client closed")
	// ErrNoNodes means no node could be reached to locate a region.
	ErrNoNodes = errors.New("cluster: no node answered")
)

// Options configures a Client. Only Addrs is required.
type Options struct {
	// Addrs are host:port addresses of some of the cluster's nodes; the
	// client learns the others from the regions' descriptors.
	Addrs []string
	// DialOptions are added to every connection (TLS credentials, for
	// example: grpc.WithTransportCredentials). Without a transport
	// credentials option the client connects in plaintext.
	DialOptions []grpc.DialOption
	// AttemptTimeout bounds one RPC (default 3 s).
	AttemptTimeout time.Duration
	// MaxAttempts bounds the attempts of one operation (default 40); the
	// context's deadline bounds them too.
	MaxAttempts int
	// ReadMode is how reads are served (default linearizable: ReadIndex).
	ReadMode clusterpb.ReadMode
}

// Client talks to a cluster. It is safe for concurrent use.
type Client struct {
	opts  Options
	cache regionCache

	mu     sync.Mutex
	closed bool
	conns  map[string]*grpc.ClientConn // by address
	kvs    map[string]*batchConn       // by address: the KV service (batch stream)
	nodes  map[uint64]string           // node id → address
}

// New returns a client for the cluster some of whose nodes are at
// opts.Addrs. It does not connect until the first request.
func New(opts Options) (*Client, error) {
	if len(opts.Addrs) == 0 {
		return nil, errors.New("cluster: client needs at least one node address")
	}
	if opts.AttemptTimeout <= 0 {
		opts.AttemptTimeout = 3 * time.Second
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 40
	}
	return &Client{opts: opts, conns: map[string]*grpc.ClientConn{}, kvs: map[string]*batchConn{}, nodes: map[uint64]string{}}, nil
}

// Close closes the client's connections.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	for _, kv := range c.kvs {
		kv.close()
	}
	var first error
	for _, cc := range c.conns {
		if err := cc.Close(); err != nil && first == nil {
			first = err
		}
	}
	c.conns = nil
	return first
}

// conn returns the connection to addr, creating it (without blocking).
func (c *Client) conn(addr string) (*grpc.ClientConn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	if cc := c.conns[addr]; cc != nil {
		return cc, nil
	}
	// Fixed flow-control windows, as the nodes use between themselves: with
	// gRPC's default, the connection estimates its bandwidth-delay product
	// with a ping (and the node's answer) per round trip of data, a write
	// and a read more on each side for every batch of answers.
	opts := append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithInitialWindowSize(1 << 20), grpc.WithInitialConnWindowSize(4 << 20)}, c.opts.DialOptions...)
	cc, err := grpc.NewClient(addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("cluster: connecting to %s: %w", addr, err)
	}
	c.conns[addr] = cc
	c.kvs[addr] = newBatchConn(cc)
	return cc, nil
}

// kv returns the KV service of the connection to addr (made by conn).
func (c *Client) kv(addr string) clusterpb.KVClient {
	c.mu.Lock()
	defer c.mu.Unlock()
	if kv := c.kvs[addr]; kv != nil {
		return kv
	}
	return nil
}

// ready waits (within ctx) until cc is connected. A write is sent only on a
// ready connection, so that a node that is down costs a retry, not an
// unknown outcome.
func ready(ctx context.Context, cc *grpc.ClientConn) bool {
	for {
		s := cc.GetState()
		switch s {
		case connectivity.Ready:
			return true
		case connectivity.TransientFailure, connectivity.Shutdown:
			return false // the last attempt to connect failed: try another replica
		case connectivity.Idle:
			cc.Connect()
		}
		if !cc.WaitForStateChange(ctx, s) {
			return false
		}
	}
}

// addresses returns the seed addresses followed by every known node's.
func (c *Client) addresses() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := map[string]bool{}
	var out []string
	for _, a := range c.opts.Addrs {
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	for _, a := range c.nodes {
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	return out
}

// locateRemote asks the nodes, in turn from a random one, for the region
// holding key (or, with prev, the keys just below key) and caches it.
func (c *Client) locateRemote(ctx context.Context, key []byte, prev bool) (*regionInfo, error) {
	addrs := c.addresses()
	start := rand.IntN(len(addrs))
	var errs []error
	for i := range addrs {
		addr := addrs[(start+i)%len(addrs)]
		cc, err := c.conn(addr)
		if err != nil {
			return nil, err
		}
		actx, cancel := context.WithTimeout(ctx, c.opts.AttemptTimeout)
		resp, err := clusterpb.NewPDClient(cc).GetRegion(actx, &clusterpb.GetRegionRequest{Key: key, Prev: prev})
		cancel()
		if err == nil && resp.GetError() != "" {
			err = errors.New(resp.GetError())
		}
		if err == nil && resp.GetRegion() == nil {
			err = errors.New("no region in the answer")
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", addr, err))
			if ctx.Err() != nil {
				break
			}
			continue
		}
		c.mu.Lock()
		for _, n := range resp.GetNodes() {
			if n.GetAddress() != "" {
				c.nodes[n.GetId()] = n.GetAddress()
			}
		}
		c.mu.Unlock()
		info := c.cache.insert(resp.GetRegion(), resp.GetLeader())
		// The cache keeps a newer descriptor of the same region over an
		// older answer (the region map lags a split until the leaders
		// report): that newer one may not hold key; ask again later.
		if (!prev && !info.contains(key)) || (prev && !info.containsPrev(key)) {
			return nil, fmt.Errorf("the region map has no region for %q yet (region %d is [%q, %q) at version %d)",
				key, info.region.GetId(), info.region.GetStartKey(), info.region.GetEndKey(), info.region.GetEpoch().GetVersion())
		}
		return info, nil
	}
	return nil, fmt.Errorf("%w: locating the region of %q: %w", ErrNoNodes, key, errors.Join(errs...))
}

// locate returns the region holding key (or the keys just below it), from
// the cache or the cluster.
func (c *Client) locate(ctx context.Context, key []byte, prev bool) (*regionInfo, error) {
	var info *regionInfo
	if prev {
		info = c.cache.findPrev(key)
	} else {
		info = c.cache.find(key)
	}
	if info != nil {
		return info, nil
	}
	return c.locateRemote(ctx, key, prev)
}

// target picks the replica to send to: the known leader, else a voter
// chosen by the attempt number.
func target(info *regionInfo, attempt int) *clusterpb.Peer {
	if l := info.leader.Load(); l != nil && l.GetId() != 0 {
		return l
	}
	var voters []*clusterpb.Peer
	for _, p := range info.region.GetPeers() {
		if p.GetRole() != clusterpb.PeerRole_LEARNER {
			voters = append(voters, p)
		}
	}
	if len(voters) == 0 {
		return nil
	}
	return voters[attempt%len(voters)]
}

// attemptFunc sends one request for the region info to kv, with rc routing
// it, and returns the response's region error.
type attemptFunc func(ctx context.Context, kv clusterpb.KVClient, info *regionInfo, rc *clusterpb.RequestContext) (*clusterpb.RegionError, error)

// do runs one region request with retries: it locates the region of key,
// sends to its leader and handles the refusals. A write (write=true) is
// retried only after a refusal that proves it was not applied.
func (c *Client) do(ctx context.Context, op string, key []byte, prev, write bool, fn attemptFunc) error {
	var last error
	for attempt := 0; attempt < c.opts.MaxAttempts; attempt++ {
		if attempt > 0 {
			if err := sleep(ctx, backoff(attempt)); err != nil {
				return fmt.Errorf("cluster: %s %q: %w (last: %v)", op, key, err, last)
			}
		}
		info, err := c.locate(ctx, key, prev)
		if err != nil {
			last = err
			continue
		}
		peer := target(info, attempt)
		if peer == nil {
			c.cache.invalidate(info.region.GetId())
			last = fmt.Errorf("region %d has no voters", info.region.GetId())
			continue
		}
		c.mu.Lock()
		addr, ok := c.nodes[peer.GetNodeId()]
		c.mu.Unlock()
		if !ok {
			c.cache.invalidate(info.region.GetId())
			last = fmt.Errorf("no address for node %d", peer.GetNodeId())
			continue
		}
		cc, err := c.conn(addr)
		if err != nil {
			return err
		}
		actx, cancel := context.WithTimeout(ctx, c.opts.AttemptTimeout)
		if write && !ready(actx, cc) {
			cancel()
			// Not sent: the node is unreachable; try another replica.
			c.cache.setLeader(info.region.GetId(), nil)
			last = fmt.Errorf("node %d at %s unreachable", peer.GetNodeId(), addr)
			continue
		}
		rc := &clusterpb.RequestContext{RegionId: info.region.GetId(), Epoch: info.region.GetEpoch(),
			Peer: peer, ReadMode: c.opts.ReadMode}
		kv := c.kv(addr)
		if kv == nil { // closed meanwhile
			cancel()
			return fmt.Errorf("cluster: %s %q: %w", op, key, ErrClosed)
		}
		rerr, err := fn(actx, kv, info, rc)
		cancel()
		if errors.Is(err, errCross) {
			return err // refused before sending
		}
		if errors.Is(err, errNotSent) {
			// Never sent (the node's stream broke or could not open, or
			// the attempt's time ran out first): safe to retry, a write
			// included.
			c.cache.setLeader(info.region.GetId(), nil)
			last = fmt.Errorf("node %d at %s: %w", peer.GetNodeId(), addr, err)
			continue
		}
		if err != nil {
			if write {
				return fmt.Errorf("%w: %s %q sent to node %d at %s: %v", ErrUnknownResult, op, key, peer.GetNodeId(), addr, err)
			}
			c.cache.setLeader(info.region.GetId(), nil)
			last = fmt.Errorf("node %d at %s: %w", peer.GetNodeId(), addr, err)
			continue
		}
		if rerr == nil {
			return nil
		}
		last = fmt.Errorf("node %d, region %d: %s", peer.GetNodeId(), info.region.GetId(), describe(rerr))
		switch {
		case rerr.GetNotLeader() != nil:
			c.cache.setLeader(info.region.GetId(), rerr.GetNotLeader().GetLeader())
		case rerr.GetEpochNotMatch() != nil:
			c.cache.invalidate(info.region.GetId())
			for _, r := range rerr.GetEpochNotMatch().GetRegions() {
				c.cache.insert(r, nil)
			}
		case rerr.GetKeyNotInRegion() != nil, rerr.GetRegionNotFound():
			c.cache.invalidate(info.region.GetId())
		case rerr.GetServerBusy():
		case rerr.GetStaleCommand():
			if write {
				return fmt.Errorf("%w: %s %q: %s", ErrUnknownResult, op, key, last)
			}
			c.cache.setLeader(info.region.GetId(), nil)
		default:
			if write {
				return fmt.Errorf("%w: %s %q: %s", ErrUnknownResult, op, key, last)
			}
			return fmt.Errorf("cluster: %s %q: %s", op, key, last)
		}
	}
	if last == nil {
		last = errors.New("no attempt made")
	}
	return fmt.Errorf("cluster: %s %q: gave up after %d attempts: %w", op, key, c.opts.MaxAttempts, last)
}

// describe renders a region error for messages.
func describe(e *clusterpb.RegionError) string {
	switch {
	case e.GetNotLeader() != nil:
		return fmt.Sprintf("not leader (leader: %v)", e.GetNotLeader().GetLeader())
	case e.GetEpochNotMatch() != nil:
		return "stale region epoch"
	case e.GetKeyNotInRegion() != nil:
		return fmt.Sprintf("key %q not in region", e.GetKeyNotInRegion().GetKey())
	case e.GetRegionNotFound():
		return "region not found"
	case e.GetServerBusy():
		return "server busy"
	case e.GetStaleCommand():
		return "command dropped by a leadership change"
	}
	return e.GetMessage()
}

// backoff is the wait before attempt n: exponential from 2 ms to 500 ms,
// jittered.
func backoff(n int) time.Duration {
	d := 2 * time.Millisecond << min(n, 8)
	d = min(d, 500*time.Millisecond)
	return d/2 + rand.N(d/2+1)
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Get returns the value of key, or an error wrapping ErrNotFound.
func (c *Client) Get(ctx context.Context, key []byte) ([]byte, error) {
	var value []byte
	found := false
	err := c.do(ctx, "get", key, false, false, func(ctx context.Context, kv clusterpb.KVClient, _ *regionInfo, rc *clusterpb.RequestContext) (*clusterpb.RegionError, error) {
		resp, err := kv.Get(ctx, &clusterpb.GetRequest{Context: rc, Key: key})
		if err != nil {
			return nil, err
		}
		value, found = resp.GetValue(), resp.GetFound()
		return resp.GetRegionError(), nil
	})
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, key)
	}
	return value, nil
}

// Put sets key to value.
func (c *Client) Put(ctx context.Context, key, value []byte) error {
	b := &Batch{}
	b.Put(key, value)
	_, err := c.write(ctx, "put", b)
	return err
}

// Delete removes key (deleting an absent key is not an error).
func (c *Client) Delete(ctx context.Context, key []byte) error {
	b := &Batch{}
	b.Delete(key)
	_, err := c.write(ctx, "delete", b)
	return err
}

// CompareAndSwap sets key to new if its current value is old, where a nil old
// means the key must be absent (an empty non-nil old means the empty value).
// It reports whether it swapped.
func (c *Client) CompareAndSwap(ctx context.Context, key, old, new []byte) (bool, error) {
	b := &Batch{}
	if old == nil {
		b.RequireAbsent(key)
	} else {
		b.Require(key, old)
	}
	b.Put(key, new)
	res, err := c.write(ctx, "cas", b)
	return res.Succeeded, err
}

// Batch is a set of writes applied atomically within one region, if every
// condition it requires holds.
type Batch struct {
	conds []*clusterpb.Condition
	muts  []*clusterpb.Mutation
}

// Put adds a write of key.
func (b *Batch) Put(key, value []byte) {
	b.muts = append(b.muts, &clusterpb.Mutation{Op: clusterpb.Mutation_PUT, Key: key, Value: value})
}

// Delete adds a deletion of key.
func (b *Batch) Delete(key []byte) {
	b.muts = append(b.muts, &clusterpb.Mutation{Op: clusterpb.Mutation_DELETE, Key: key})
}

// DeleteRange adds a deletion of every key in [start, end), which must lie in
// the batch's region.
func (b *Batch) DeleteRange(start, end []byte) {
	b.muts = append(b.muts, &clusterpb.Mutation{Op: clusterpb.Mutation_DELETE_RANGE, Key: start, EndKey: end})
}

// Require makes the batch conditional on key's value being value.
func (b *Batch) Require(key, value []byte) {
	b.conds = append(b.conds, &clusterpb.Condition{Key: key, Exists: true, Value: value})
}

// RequireAbsent makes the batch conditional on key being absent.
func (b *Batch) RequireAbsent(key []byte) {
	b.conds = append(b.conds, &clusterpb.Condition{Key: key})
}

// Conditions returns the batch's conditions in the order they were added
// (for implementations of batch writes other than Client's).
func (b *Batch) Conditions() []*clusterpb.Condition { return b.conds }

// Mutations returns the batch's writes in the order they were added.
func (b *Batch) Mutations() []*clusterpb.Mutation { return b.muts }

// WriteResult is the outcome of a conditional batch.
type WriteResult struct {
	// Succeeded is false when a condition failed; nothing was written then.
	Succeeded bool
	// FailedCondition is the index of the first condition that failed.
	FailedCondition int
	// Current is that condition's key's value (nil if absent: see Exists).
	Current []byte
	// Exists says whether that key exists.
	Exists bool
}

// Write applies b atomically. Every key of b must be in one region
// (ErrCrossRegion otherwise).
func (c *Client) Write(ctx context.Context, b *Batch) (WriteResult, error) {
	return c.write(ctx, "write", b)
}

// keys returns the keys b touches (range starts and last keys included).
func (b *Batch) keys() [][]byte {
	var ks [][]byte
	for _, m := range b.muts {
		ks = append(ks, m.GetKey())
	}
	for _, k := range b.conds {
		ks = append(ks, k.GetKey())
	}
	return ks
}

func (c *Client) write(ctx context.Context, op string, b *Batch) (WriteResult, error) {
	var res WriteResult
	keys := b.keys()
	if len(keys) == 0 {
		return WriteResult{Succeeded: true}, nil
	}
	err := c.do(ctx, op, keys[0], false, true, func(ctx context.Context, kv clusterpb.KVClient, info *regionInfo, rc *clusterpb.RequestContext) (*clusterpb.RegionError, error) {
		for _, k := range keys {
			if !info.contains(k) {
				// Regions only split, so a cached (possibly stale, larger)
				// region that misses a key proves the keys span regions.
				return nil, errCross
			}
		}
		for _, m := range b.muts {
			if m.GetOp() == clusterpb.Mutation_DELETE_RANGE && len(info.region.GetEndKey()) > 0 &&
				(len(m.GetEndKey()) == 0 || bytes.Compare(m.GetEndKey(), info.region.GetEndKey()) > 0) {
				return nil, errCross
			}
		}
		resp, err := kv.Write(ctx, &clusterpb.WriteRequest{Context: rc, Conditions: b.conds, Mutations: b.muts})
		if err != nil {
			return nil, err
		}
		res = WriteResult{Succeeded: resp.GetSucceeded(), FailedCondition: int(resp.GetFailedCondition()),
			Current: resp.GetCurrentValue(), Exists: resp.GetCurrentExists()}
		return resp.GetRegionError(), nil
	})
	if errors.Is(err, errCross) {
		return WriteResult{}, fmt.Errorf("%w (%s of %d mutations)", ErrCrossRegion, op, len(b.muts))
	}
	return res, err
}

// errCross is the attempt function's signal that a batch spans regions; it
// is returned before anything is sent.
var errCross = errors.New("cross-region batch")

// KV is a key and its value.
type KV struct {
	Key, Value []byte
}

// ScanOptions shape a Scan. The zero value scans forward without a limit.
type ScanOptions struct {
	// Limit is the most pairs returned (0: no limit).
	Limit int
	// Reverse returns the pairs from the end of the range backward.
	Reverse bool
	// KeysOnly leaves values out.
	KeysOnly bool
}

// SystemStart is the first key of the cluster's system key space (keys from
// 0xFF up hold the placement driver's state; users' keys sort below).
var SystemStart = []byte{0xff}

// Scan returns the pairs with keys in [start, end) (end nil: to the end of
// the user key space, SystemStart), across regions, in key order (or
// reverse). Each region's part is read consistently; the scan as a whole is
// not one snapshot when it spans regions.
func (c *Client) Scan(ctx context.Context, start, end []byte, o ScanOptions) ([]KV, error) {
	var out []KV
	if end == nil {
		end = SystemStart
	}
	if end != nil && bytes.Compare(start, end) >= 0 {
		return nil, nil
	}
	cur := start
	if o.Reverse {
		cur = end
	}
	for {
		left := 0
		if o.Limit > 0 {
			left = o.Limit - len(out)
			if left <= 0 {
				return out, nil
			}
		}
		var region *clusterpb.Region
		var pairs []*clusterpb.KvPair
		err := c.do(ctx, "scan", cur, o.Reverse, false, func(ctx context.Context, kv clusterpb.KVClient, info *regionInfo, rc *clusterpb.RequestContext) (*clusterpb.RegionError, error) {
			req := &clusterpb.ScanRequest{Context: rc, Limit: uint32(left), Reverse: o.Reverse, KeysOnly: o.KeysOnly}
			rs, re := info.region.GetStartKey(), info.region.GetEndKey()
			if o.Reverse {
				req.StartKey = maxKey(start, rs)
				req.EndKey = cur
				if cur == nil {
					req.EndKey = re
				}
			} else {
				req.StartKey = cur
				req.EndKey = minEnd(end, re)
			}
			resp, err := kv.Scan(ctx, req)
			if err != nil {
				return nil, err
			}
			region, pairs = info.region, resp.GetPairs()
			return resp.GetRegionError(), nil
		})
		if err != nil {
			return out, err
		}
		for _, p := range pairs {
			out = append(out, KV{Key: p.GetKey(), Value: p.GetValue()})
		}
		if o.Reverse {
			rs := region.GetStartKey()
			if len(rs) == 0 || bytes.Compare(rs, start) <= 0 {
				return out, nil
			}
			cur = rs
		} else {
			re := region.GetEndKey()
			if len(re) == 0 || (end != nil && bytes.Compare(re, end) >= 0) {
				return out, nil
			}
			cur = re
		}
	}
}

// maxKey returns the larger of two start keys.
func maxKey(a, b []byte) []byte {
	if bytes.Compare(a, b) >= 0 {
		return a
	}
	return b
}

// minEnd returns the smaller of two end keys, where nil or empty is the end
// of the key space.
func minEnd(a, b []byte) []byte {
	switch {
	case len(a) == 0:
		return b
	case len(b) == 0:
		return a
	case bytes.Compare(a, b) <= 0:
		return a
	}
	return b
}
