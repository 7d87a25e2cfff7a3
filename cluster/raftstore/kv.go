package raftstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/strata-db/strata"
	"github.com/strata-db/strata/cluster/clusterpb"
)

// The request methods mirror the KV service of cluster.proto (the gRPC
// server can delegate to them as they are). A request names its region,
// epoch and read mode in its RequestContext; a replica that cannot serve it
// answers with a RegionError in the response (not an error):
//
//	RegionNotFound  the store has no initialized replica of the region
//	NotLeader       a write or linearizable read reached a follower; the
//	                leader it knows of, if any, is named
//	EpochNotMatch   the request's epoch version is not the region's (a
//	                split happened); the current descriptor is returned
//	KeyNotInRegion  a key is outside the region
//	ServerBusy      too many requests wait in the region or the store
//	StaleCommand    a write was dropped by a change of leader: not applied
//
// The error return is for what is not the replica's answer: the context
// ended or the store closed. For a write, that error wraps
// ErrUnknownResult: the write may or may not have applied.
//
// Reads: LINEARIZABLE (the default) is served by the leader through Raft's
// ReadIndex once the read index is applied here; LEASE, with
// Config.LeaseReads, by a leader holding a lease without a ReadIndex round
// (lease.go), otherwise as LINEARIZABLE; STALE is served by any replica
// from what it has applied, possibly behind.

// RegionErr is the error of Split for a RegionError answer.
type RegionErr struct{ Err *clusterpb.RegionError }

func (e *RegionErr) Error() string { return "raftstore: " + e.Err.GetMessage() }

func busy() *clusterpb.RegionError {
	return &clusterpb.RegionError{Message: "server busy: too many requests waiting", ServerBusy: true}
}

// checkRequest finds the replica a request is for and checks it may serve
// it (leader unless stale reads are allowed, epoch version, queue limit).
func (s *Store) checkRequest(rc *clusterpb.RequestContext, needLeader bool) (*peer, *clusterpb.RegionError) {
	p := s.peers[rc.GetRegionId()]
	if p == nil || !p.initialized() {
		return nil, &clusterpb.RegionError{Message: fmt.Sprintf("region %d not found on node %d", rc.GetRegionId(), s.cfg.NodeID), RegionNotFound: true}
	}
	s.wake(p)
	p.active = true
	if needLeader && !p.isLeader() {
		return nil, p.notLeader()
	}
	if rc.GetEpoch().GetVersion() != p.region().GetEpoch().GetVersion() {
		return nil, p.epochNotMatch()
	}
	if p.pending() >= s.cfg.MaxPendingPerRegion {
		return nil, busy()
	}
	return p, nil
}

// Write applies req's mutations atomically in its region if all its
// conditions hold when the command applies.
func (s *Store) Write(ctx context.Context, req *clusterpb.WriteRequest) (*clusterpb.WriteResponse, error) {
	ch := make(chan proposalResult, 1)
	err := s.submit(func() { s.proposeWrite(req, replier{ch: ch}) })
	if errors.Is(err, errBusy) {
		return &clusterpb.WriteResponse{RegionError: busy()}, nil
	}
	if err != nil {
		return nil, err // not proposed
	}
	select {
	case r := <-ch:
		return writeAnswer(r)
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", ErrUnknownResult, context.Cause(ctx))
	case <-s.done:
		return nil, fmt.Errorf("%w: %w", ErrUnknownResult, ErrStoreClosed)
	}
}

// asyncWrite is a write queued by WriteAsync for the loop.
type asyncWrite struct {
	req      *clusterpb.WriteRequest
	deadline time.Time
	done     func(*clusterpb.WriteResponse, error)
}

// WriteAsync is Write for a caller that cannot spare a goroutine per
// request (the transport's batch stream): instead of returning, it calls
// done exactly once with what Write would return, from the store's loop
// goroutine (or from WriteAsync itself when the write is refused at once),
// and done must not block. timeout plays the context's part: once it has
// passed, a write still waiting is answered with an error wrapping
// ErrUnknownResult (within a Raft tick: the loop looks at every tick).
func (s *Store) WriteAsync(req *clusterpb.WriteRequest, timeout time.Duration, done func(*clusterpb.WriteResponse, error)) {
	w := asyncWrite{req: req, deadline: time.Now().Add(timeout), done: done}
	s.writesMu.RLock()
	if s.writesClosed {
		s.writesMu.RUnlock()
		done(nil, ErrStoreClosed) // not proposed
		return
	}
	select {
	case s.writes <- w:
		s.writesMu.RUnlock()
	default:
		s.writesMu.RUnlock()
		done(&clusterpb.WriteResponse{RegionError: busy()}, nil)
	}
}

// startWrite proposes a write queued by WriteAsync (loop goroutine).
func (s *Store) startWrite(w asyncWrite) {
	s.proposeWrite(w.req, replier{deadline: w.deadline, fn: func(r proposalResult) { w.done(writeAnswer(r)) }})
}

// proposeWrite checks req and proposes it, or answers r (loop goroutine).
func (s *Store) proposeWrite(req *clusterpb.WriteRequest, r replier) {
	p, rerr := s.checkRequest(req.GetContext(), true)
	if rerr == nil {
		rerr = checkMutations(p.region(), req.GetConditions(), req.GetMutations(), s.dbOpts.MaxKeySize, s.dbOpts.MaxValueSize)
	}
	if rerr != nil {
		r.send(proposalResult{regionErr: rerr})
		return
	}
	cmd := &clusterpb.RaftCommand{RegionId: p.regionID, Epoch: proto.Clone(p.region().GetEpoch()).(*clusterpb.RegionEpoch),
		Conditions: req.GetConditions(), Mutations: req.GetMutations()}
	p.propose(cmd, r)
}

// writeAnswer is what Write returns for a proposal's result.
func writeAnswer(r proposalResult) (*clusterpb.WriteResponse, error) {
	if r.err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnknownResult, r.err)
	}
	if r.regionErr != nil {
		return &clusterpb.WriteResponse{RegionError: r.regionErr}, nil
	}
	return r.write, nil
}

// read waits until the replica may serve a read of rc's region that check
// accepts, then returns the region as of then and a pin of the database
// taken by the loop at that moment (nil with a RegionError). The caller
// reads from the pin, never from the live database: after the loop
// confirmed the read it may apply a split, the removal of this replica (its
// data range-deleted) or a snapshot before the caller gets to read, and the
// pin keeps the state the read was confirmed against. The caller must
// release the pin.
func (s *Store) read(ctx context.Context, rc *clusterpb.RequestContext, check func(*clusterpb.Region) *clusterpb.RegionError) (*clusterpb.Region, *readPin, *clusterpb.RegionError, error) {
	ch := make(chan readResult, 1)
	var region *clusterpb.Region
	stale := rc.GetReadMode() == clusterpb.ReadMode_STALE
	err := s.submit(func() {
		p, rerr := s.checkRequest(rc, !stale)
		if rerr == nil {
			rerr = check(p.region())
		}
		if rerr != nil {
			ch <- readResult{regionErr: rerr}
			return
		}
		region = proto.Clone(p.region()).(*clusterpb.Region)
		if stale {
			ch <- readResult{pin: s.pin()}
			return
		}
		w := &readWaiter{version: p.region().GetEpoch().GetVersion(), ch: ch}
		if rc.GetReadMode() == clusterpb.ReadMode_LEASE && s.cfg.LeaseReads && p.leaseRead(w) {
			return
		}
		p.readIndex(w)
	})
	if errors.Is(err, errBusy) {
		return nil, nil, busy(), nil
	}
	if err != nil {
		return nil, nil, nil, err
	}
	select {
	case r := <-ch:
		if r.err != nil || r.regionErr != nil {
			r.pin.release()
			return nil, nil, r.regionErr, r.err
		}
		if testHookReadConfirmed != nil {
			testHookReadConfirmed()
		}
		return region, r.pin, nil, nil
	case <-ctx.Done():
		go s.dropRead(ch)
		return nil, nil, nil, context.Cause(ctx)
	case <-s.done:
		go s.dropRead(ch)
		return nil, nil, nil, ErrStoreClosed
	}
}

// testHookReadConfirmed, if set (tests), runs after the loop confirmed a
// read and before the caller reads.
var testHookReadConfirmed func()

// readPin is a database snapshot the loop took for a confirmed read; it
// keeps the database open (Close waits) until released.
type readPin struct {
	snap *strata.Snapshot
	s    *Store
}

// pin takes a database snapshot for a read (loop goroutine). Store.Close
// waits until it is released.
func (s *Store) pin() *readPin {
	s.bg.Add(1)
	return &readPin{snap: s.db.NewSnapshot(), s: s}
}

// release closes the pin; a nil pin is a no-op.
func (r *readPin) release() {
	if r == nil {
		return
	}
	r.snap.Close()
	r.s.bg.Done()
}

// dropRead releases the pin of a read whose caller gave up: the loop may
// still answer it (ch is buffered), or has answered it before it stopped.
func (s *Store) dropRead(ch chan readResult) {
	select {
	case r := <-ch:
		r.pin.release()
	case <-s.done:
		select {
		case r := <-ch:
			r.pin.release()
		default:
		}
	}
}

// Get reads one key.
func (s *Store) Get(ctx context.Context, req *clusterpb.GetRequest) (*clusterpb.GetResponse, error) {
	_, pin, rerr, err := s.read(ctx, req.GetContext(), func(r *clusterpb.Region) *clusterpb.RegionError {
		if !inRegion(req.GetKey(), r) {
			return keyNotInRegion(req.GetKey(), r)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if rerr != nil {
		return &clusterpb.GetResponse{RegionError: rerr}, nil
	}
	v, err := pin.snap.Get(dataKey(req.GetKey()))
	pin.release()
	if errors.Is(err, strata.ErrNotFound) {
		return &clusterpb.GetResponse{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("raftstore: node %d: reading %q: %w", s.cfg.NodeID, req.GetKey(), err)
	}
	return &clusterpb.GetResponse{Found: true, Value: v}, nil
}

// Scan reads [start_key, end_key) of one region (an empty end_key: to the
// region's end), at most limit pairs (0: all), backwards if reverse. The
// range must lie inside the region.
func (s *Store) Scan(ctx context.Context, req *clusterpb.ScanRequest) (*clusterpb.ScanResponse, error) {
	region, pin, rerr, err := s.read(ctx, req.GetContext(), func(r *clusterpb.Region) *clusterpb.RegionError {
		if !inRegion(req.GetStartKey(), r) {
			return keyNotInRegion(req.GetStartKey(), r)
		}
		if end := req.GetEndKey(); len(end) > 0 && len(r.GetEndKey()) > 0 && bytes.Compare(end, r.GetEndKey()) > 0 {
			return keyNotInRegion(end, r)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if rerr != nil {
		return &clusterpb.ScanResponse{RegionError: rerr}, nil
	}
	end := req.GetEndKey()
	if len(end) == 0 {
		end = region.GetEndKey()
	}
	defer pin.release()
	it := pin.snap.NewIterator(&strata.IterOptions{LowerBound: dataKey(req.GetStartKey()), UpperBound: dataEnd(end), Context: ctx})
	resp := &clusterpb.ScanResponse{}
	first, next := it.First, it.Next
	if req.GetReverse() {
		first, next = it.Last, it.Prev
	}
	for ok := first(); ok; ok = next() {
		kv := &clusterpb.KvPair{Key: bytes.Clone(userKey(it.Key()))}
		if !req.GetKeysOnly() {
			kv.Value = bytes.Clone(it.Value())
		}
		resp.Pairs = append(resp.Pairs, kv)
		if req.GetLimit() > 0 && len(resp.Pairs) >= int(req.GetLimit()) {
			break
		}
	}
	if err := it.Close(); err != nil {
		return nil, fmt.Errorf("raftstore: node %d: scanning region %d: %w", s.cfg.NodeID, region.GetId(), err)
	}
	return resp, nil
}

// Split cuts region regionID at splitKey through its leader on this store:
// a Raft command, so that every replica splits at the same log index. It
// returns the left (same id) and right (new id) regions. epoch, if not nil,
// must be the region's current epoch.
func (s *Store) Split(ctx context.Context, regionID uint64, epoch *clusterpb.RegionEpoch, splitKey []byte) (left, right *clusterpb.Region, err error) {
	var npeers int
	var cur *clusterpb.RegionEpoch
	if err := s.call(func() error {
		p := s.peers[regionID]
		if p == nil || !p.initialized() {
			return &RegionErr{&clusterpb.RegionError{Message: fmt.Sprintf("region %d not found on node %d", regionID, s.cfg.NodeID), RegionNotFound: true}}
		}
		npeers = len(p.region().GetPeers())
		cur = proto.Clone(p.region().GetEpoch()).(*clusterpb.RegionEpoch)
		return nil
	}); err != nil {
		return nil, nil, err
	}
	if epoch == nil {
		epoch = cur
	}
	req := &clusterpb.SplitRequest{SplitKey: bytes.Clone(splitKey)}
	if req.NewRegionId, err = s.cfg.AllocID(); err != nil {
		return nil, nil, fmt.Errorf("raftstore: split of region %d: allocating an id: %w", regionID, err)
	}
	for range npeers {
		id, err := s.cfg.AllocID()
		if err != nil {
			return nil, nil, fmt.Errorf("raftstore: split of region %d: allocating an id: %w", regionID, err)
		}
		req.NewPeerIds = append(req.NewPeerIds, id)
	}
	ch := make(chan proposalResult, 1)
	if err := s.submit(func() {
		p, rerr := s.checkRequest(&clusterpb.RequestContext{RegionId: regionID, Epoch: epoch}, true)
		if rerr != nil {
			ch <- proposalResult{regionErr: rerr}
			return
		}
		p.propose(&clusterpb.RaftCommand{RegionId: regionID, Epoch: epoch, Admin: &clusterpb.AdminRequest{Cmd: &clusterpb.AdminRequest_Split{Split: req}}}, replier{ch: ch})
	}); err != nil {
		if errors.Is(err, errBusy) {
			return nil, nil, &RegionErr{busy()}
		}
		return nil, nil, err
	}
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, nil, fmt.Errorf("%w: %w", ErrUnknownResult, r.err)
		}
		if r.regionErr != nil {
			return nil, nil, &RegionErr{r.regionErr}
		}
		if len(r.regions) != 2 {
			return nil, nil, errors.New("raftstore: split: no regions in the result")
		}
		return r.regions[0], r.regions[1], nil
	case <-ctx.Done():
		return nil, nil, fmt.Errorf("%w: %w", ErrUnknownResult, context.Cause(ctx))
	case <-s.done:
		return nil, nil, fmt.Errorf("%w: %w", ErrUnknownResult, ErrStoreClosed)
	}
}
