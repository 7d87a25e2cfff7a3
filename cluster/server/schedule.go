package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/strata-db/strata/cluster/clusterpb"
	"github.com/strata-db/strata/cluster/pd"
	"github.com/strata-db/strata/cluster/transport"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// register records this node in the placement driver: UP with its address
// if it is new; a node the operator is removing keeps that state.
func (n *Node) register(ctx context.Context) error {
	nodes, err := n.meta.Nodes(ctx)
	if err != nil {
		return err
	}
	rec := &clusterpb.Node{Id: n.cfg.NodeID, Address: n.cfg.Advertise}
	for _, nd := range nodes {
		if nd.GetId() == n.cfg.NodeID {
			rec.State = nd.GetState()
		}
	}
	return n.meta.PutNode(ctx, rec)
}

// leadsMeta reports whether this node leads the meta region (and so runs
// the scheduler).
func (n *Node) leadsMeta() bool {
	st, err := n.store.Regions()
	if err != nil {
		return false
	}
	for _, s := range st {
		if s.Region.GetId() == metaRegionID {
			return s.IsLeader
		}
	}
	return false
}

// beatSeen is the last heartbeat counter the scheduler saw from a node,
// when (on this node's clock) it last changed, and when this scheduler
// first saw the node.
type beatSeen struct {
	counter uint64
	at      time.Time
	watched time.Time
}

// scheduleLoop runs the placement driver's scheduler while this node leads
// the meta region: every ScheduleInterval it reads the nodes, their
// heartbeats and the regions, and executes the operators pd.Schedule
// returns. A new scheduler (after a leadership change) counts every node up
// for DownAfter before it can call one down; until a node's counter moves it
// is unsure (pd.NodeState.Watched): nothing is placed on it, and a region
// with a voter on it loses a voter only when its leader names the one it
// does not hear from or that lags.
func (n *Node) scheduleLoop() {
	defer n.wg.Done()
	t := time.NewTicker(n.cfg.ScheduleInterval)
	defer t.Stop()
	var seen map[uint64]beatSeen
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
		}
		if !n.leadsMeta() {
			seen = nil
			continue
		}
		if seen == nil {
			seen = map[uint64]beatSeen{}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*n.cfg.ScheduleInterval)
		if err := n.scheduleRound(ctx, seen); err != nil {
			n.log.Info("scheduling round failed", "err", err)
		}
		cancel()
	}
}

// scheduleRound is one round of the scheduler.
func (n *Node) scheduleRound(ctx context.Context, seen map[uint64]beatSeen) error {
	now := time.Now()
	nodes, err := n.meta.Nodes(ctx)
	if err != nil {
		return err
	}
	beats, err := n.meta.Heartbeats(ctx)
	if err != nil {
		return err
	}
	var states []pd.NodeState
	for _, nd := range nodes {
		c := beats[nd.GetId()]
		s, ok := seen[nd.GetId()]
		if !ok {
			s = beatSeen{counter: c, at: now, watched: now}
			seen[nd.GetId()] = s
		} else if s.counter != c {
			s.counter, s.at = c, now
			seen[nd.GetId()] = s
		}
		states = append(states, pd.NodeState{Node: nd, LastHeartbeat: s.at, Watched: s.watched})
	}
	regions, err := n.meta.ScanRegions(ctx, nil, nil, 0)
	if err != nil {
		return err
	}
	hbs, err := n.meta.RegionHeartbeats(ctx)
	if err != nil {
		return err
	}
	var rstates []pd.RegionState
	replicas := map[uint64]int{} // per node
	for _, r := range regions {
		st := pd.RegionState{Region: r}
		if hb := hbs[r.GetId()]; hb != nil {
			st.Leader, st.Pending, st.Down, st.SilenceUnknown = hb.GetLeader(), hb.GetPending(), hb.GetDown(), hb.GetSilenceUnknown()
		}
		rstates = append(rstates, st)
		for _, p := range r.GetPeers() {
			replicas[p.GetNodeId()]++
		}
	}
	// A node being removed that holds no replica any more is removed.
	for _, nd := range nodes {
		if nd.GetState() == clusterpb.Node_REMOVING && replicas[nd.GetId()] == 0 {
			rec := proto.Clone(nd).(*clusterpb.Node)
			rec.State = clusterpb.Node_REMOVED
			if err := n.meta.PutNode(ctx, rec); err != nil {
				return err
			}
			n.log.Info("node removed", "removed", nd.GetId())
		}
	}
	// Peer ids for the replicas this round may add, reserved up front.
	max := n.cfg.Schedule.MaxOperators
	if max <= 0 {
		max = 16
	}
	first, err := n.meta.AllocIDs(ctx, uint64(max))
	if err != nil {
		return err
	}
	next := first
	ops := pd.Schedule(now, states, rstates, n.cfg.Schedule, func() uint64 { next++; return next - 1 })
	// Nodes silent for DownAfter: an operator for a region they lead goes
	// to the other replicas at once.
	silent := map[uint64]bool{}
	for _, s := range states {
		if now.Sub(s.LastHeartbeat) >= n.cfg.Schedule.DownAfter {
			silent[s.Node.GetId()] = true
		}
	}
	var errs []error
	for _, op := range ops {
		if err := n.execute(ctx, op, rstates, silent); err != nil {
			errs = append(errs, fmt.Errorf("%v: %w", op, err))
			continue
		}
		n.log.Info("scheduled", "op", op.String())
	}
	return errors.Join(errs...)
}

// execute sends op to the node leading its region (see sendToLeader for a
// leader that cannot be reached).
func (n *Node) execute(ctx context.Context, op pd.Operator, regions []pd.RegionState, silent map[uint64]bool) error {
	var st *pd.RegionState
	for i := range regions {
		if regions[i].Region.GetId() == op.RegionID {
			st = &regions[i]
		}
	}
	if st == nil || st.Leader == 0 {
		return errors.New("the region's leader is unknown")
	}
	var change *clusterpb.ChangePeer
	var changes []*clusterpb.ChangePeer
	switch op.Kind {
	case pd.AddLearner:
		change = &clusterpb.ChangePeer{Type: clusterpb.ChangePeer_ADD_LEARNER, Peer: op.Peer}
	case pd.PromoteLearner:
		p := proto.Clone(op.Peer).(*clusterpb.Peer)
		p.Role = clusterpb.PeerRole_VOTER
		change = &clusterpb.ChangePeer{Type: clusterpb.ChangePeer_ADD_VOTER, Peer: p}
	case pd.RemovePeer:
		change = &clusterpb.ChangePeer{Type: clusterpb.ChangePeer_REMOVE, Peer: op.Peer}
	case pd.ReplaceVoter:
		// One joint change: never four voters, nor two with a dead one.
		p := proto.Clone(op.Peer).(*clusterpb.Peer)
		p.Role = clusterpb.PeerRole_VOTER
		changes = []*clusterpb.ChangePeer{{Type: clusterpb.ChangePeer_ADD_VOTER, Peer: p}, {Type: clusterpb.ChangePeer_REMOVE, Peer: op.Remove}}
	case pd.TransferLeader:
		return n.sendToLeader(ctx, st, silent, func(ac clusterpb.AdminClient) (string, error) {
			resp, err := ac.TransferLeader(ctx, &clusterpb.TransferLeaderRequest{RegionId: op.RegionID, PeerId: op.Peer.GetId()})
			return resp.GetError(), err
		}, func() (string, error) {
			resp, err := adminService{n: n}.TransferLeader(ctx, &clusterpb.TransferLeaderRequest{RegionId: op.RegionID, PeerId: op.Peer.GetId()})
			return resp.GetError(), err
		})
	}
	req := &clusterpb.ChangePeerRequest{RegionId: op.RegionID, Epoch: st.Region.GetEpoch(), Change: change, Changes: changes}
	return n.sendToLeader(ctx, st, silent, func(ac clusterpb.AdminClient) (string, error) {
		resp, err := ac.ChangePeer(ctx, req)
		return resp.GetError(), err
	}, func() (string, error) {
		resp, err := adminService{n: n}.ChangePeer(ctx, req)
		return resp.GetError(), err
	})
}

// sendToLeader runs an administration call on the node leading the region
// of st: local if that is this node, remote through its Admin service
// otherwise. Each call returns the answer's error text and the RPC's error.
//
// If the leader's node is silent (in silent) or cannot be reached, the call
// goes to the region's other replicas in turn: one that leads now does it;
// the others refuse (not leader), but the request wakes a hibernating
// replica, which campaigns after an election timeout, so a sleeping region
// whose leader died gets a new one; that leader's heartbeat then updates
// the region's leader for the next round.
func (n *Node) sendToLeader(ctx context.Context, st *pd.RegionState, silent map[uint64]bool, remote func(clusterpb.AdminClient) (string, error), local func() (string, error)) error {
	var leaderNode uint64
	for _, p := range st.Region.GetPeers() {
		if p.GetId() == st.Leader {
			leaderNode = p.GetNodeId()
		}
	}
	err := errNodeUnreachable
	if !silent[leaderNode] {
		err = n.callNode(leaderNode, remote, local)
		if !unreachable(err) {
			return err
		}
	}
	errs := []error{fmt.Errorf("leader on node %d: %w", leaderNode, err)}
	for _, p := range st.Region.GetPeers() {
		if nd := p.GetNodeId(); nd != leaderNode && !silent[nd] && p.GetRole() != clusterpb.PeerRole_LEARNER {
			err := n.callNode(nd, remote, local)
			if err == nil {
				return nil
			}
			errs = append(errs, fmt.Errorf("node %d: %w", nd, err))
		}
	}
	return errors.Join(errs...)
}

// errNodeUnreachable stands for a call not made to a silent node.
var errNodeUnreachable = errors.New("node silent for DownAfter")

// unreachable reports whether err says the node could not be reached (so
// another replica may be asked).
func unreachable(err error) bool {
	if errors.Is(err, errNodeUnreachable) {
		return true
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded:
		return true
	}
	return false
}

// callNode runs an administration call on node: local if that is this
// node, remote through its Admin service otherwise.
func (n *Node) callNode(node uint64, remote func(clusterpb.AdminClient) (string, error), local func() (string, error)) error {
	answer := func(msg string, err error) error {
		if err == nil && msg != "" {
			err = errors.New(msg)
		}
		return err
	}
	if node == n.cfg.NodeID {
		return answer(local())
	}
	addr, err := n.resolver.Resolve(node)
	if err != nil {
		return err
	}
	cc, err := n.dial(addr)
	if err != nil {
		return err
	}
	defer cc.Close()
	return answer(remote(clusterpb.NewAdminClient(cc)))
}

func (a adminService) TransferLeader(ctx context.Context, req *clusterpb.TransferLeaderRequest) (*clusterpb.TransferLeaderResponse, error) {
	if err := a.n.store.TransferLeader(req.GetRegionId(), req.GetPeerId()); err != nil {
		return &clusterpb.TransferLeaderResponse{Error: err.Error()}, nil
	}
	return &clusterpb.TransferLeaderResponse{}, nil
}

// dial connects to another node's services (mutual TLS when configured).
func (n *Node) dial(addr string) (*grpc.ClientConn, error) {
	if n.cfg.TLS == nil {
		return transport.Dial(addr, nil, 0)
	}
	tlsCfg, err := n.cfg.TLS.ClientConfig()
	if err != nil {
		return nil, err
	}
	return grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(tlsCfg)))
}

func (a adminService) ChangePeer(ctx context.Context, req *clusterpb.ChangePeerRequest) (*clusterpb.ChangePeerResponse, error) {
	changes := req.GetChanges()
	if len(changes) == 0 {
		changes = []*clusterpb.ChangePeer{req.GetChange()}
	}
	r, err := a.n.store.ChangePeers(ctx, req.GetRegionId(), req.GetEpoch(), changes)
	if err != nil {
		return &clusterpb.ChangePeerResponse{Error: err.Error()}, nil
	}
	return &clusterpb.ChangePeerResponse{Region: r}, nil
}

func (a adminService) SetNodeState(ctx context.Context, req *clusterpb.SetNodeStateRequest) (*clusterpb.SetNodeStateResponse, error) {
	nodes, err := a.n.meta.Nodes(ctx)
	if err != nil {
		return &clusterpb.SetNodeStateResponse{Error: err.Error()}, nil
	}
	rec := &clusterpb.Node{Id: req.GetNodeId(), Address: req.GetAddress(), State: req.GetState()}
	for _, nd := range nodes {
		if nd.GetId() == req.GetNodeId() && rec.Address == "" {
			rec.Address = nd.GetAddress()
		}
	}
	if rec.GetAddress() == "" {
		return &clusterpb.SetNodeStateResponse{Error: fmt.Sprintf("node %d is not known: give its address", req.GetNodeId())}, nil
	}
	if err := a.n.meta.PutNode(ctx, rec); err != nil {
		return &clusterpb.SetNodeStateResponse{Error: err.Error()}, nil
	}
	a.n.resolver.Set(rec.GetId(), rec.GetAddress())
	return &clusterpb.SetNodeStateResponse{}, nil
}
