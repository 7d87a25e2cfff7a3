package raftstore

import (
	"context"
	"errors"
	"fmt"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/strata-db/strata"
	"github.com/strata-db/strata/cluster/clusterpb"
)

// Membership changes.
//
// A change is one ChangePeer at a time (add a learner, add or promote a
// voter, remove a peer), proposed as a raft ConfChangeV2 entry with a
// single change (raft's simple transition: one voter at a time never
// needs joint consensus) whose context is a RaftCommand carrying the
// ChangePeersRequest and the region's epoch. Every replica applies it at
// the same index: it checks the epoch's conf_ver (a stale change is
// applied to raft as a no-op, the node id zeroed as etcd raft allows),
// then updates the descriptor (conf_ver+1). A replica that is removed
// deletes its data and Raft state and leaves a tombstone, so that late
// messages for it do not bring it back; one that missed the commit of its
// removal is told by the others (RaftMessage.is_tombstone, see
// Store.handleMessage). A new peer's node creates it uninitialized on the
// first message from the leader; a snapshot fills it.
//
// Not done: several changes at once (joint consensus).

// ChangePeer proposes one membership change of region regionID through its
// leader on this store and returns the region descriptor after it. epoch,
// if not nil, must be the region's current epoch.
func (s *Store) ChangePeer(ctx context.Context, regionID uint64, epoch *clusterpb.RegionEpoch, change *clusterpb.ChangePeer) (*clusterpb.Region, error) {
	ch := make(chan proposalResult, 1)
	if err := s.submit(func() {
		p := s.peers[regionID]
		if p == nil || !p.initialized() {
			ch <- proposalResult{regionErr: &clusterpb.RegionError{Message: fmt.Sprintf("region %d not found on node %d", regionID, s.cfg.NodeID), RegionNotFound: true}}
			return
		}
		ep := epoch
		if ep == nil {
			ep = p.region().GetEpoch()
		}
		p2, rerr := s.checkRequest(&clusterpb.RequestContext{RegionId: regionID, Epoch: ep}, true)
		if rerr == nil && ep.GetConfVer() != p.region().GetEpoch().GetConfVer() {
			rerr = p.epochNotMatch()
		}
		if rerr == nil {
			rerr = validChange(p.region(), change)
		}
		if rerr == nil && (p2.ccInFlight || p2.confBarrier > p2.ps.apply.GetAppliedIndex()) {
			// Raft takes one change at a time and, without saying so,
			// turns another into an empty entry: wait until the last one
			// (or, for a new leader, its whole log) is applied.
			rerr = &clusterpb.RegionError{Message: "membership change: another change is not applied yet, retry", ServerBusy: true}
		}
		if rerr != nil {
			ch <- proposalResult{regionErr: rerr}
			return
		}
		cmd := &clusterpb.RaftCommand{RegionId: regionID, Epoch: proto.Clone(ep).(*clusterpb.RegionEpoch), ProposalId: s.newProposalID(),
			Admin: &clusterpb.AdminRequest{Cmd: &clusterpb.AdminRequest_ChangePeers{ChangePeers: &clusterpb.ChangePeersRequest{Changes: []*clusterpb.ChangePeer{change}}}}}
		data, err := proto.Marshal(cmd)
		if err != nil {
			ch <- proposalResult{err: err}
			return
		}
		cc := &pb.ConfChangeV2{Changes: []*pb.ConfChangeSingle{{Type: ccType(change.GetType()).Enum(), NodeId: proto.Uint64(change.GetPeer().GetId())}}, Context: data}
		if err := p.rn.ProposeConfChange(cc); err != nil {
			ch <- proposalResult{regionErr: p.notLeader()}
			return
		}
		p.proposals[cmd.ProposalId] = &proposal{term: p.rn.BasicStatus().HardState.GetTerm(), ch: ch}
		p.ccInFlight = true
	}); err != nil {
		if errors.Is(err, errBusy) {
			return nil, &RegionErr{busy()}
		}
		return nil, err
	}
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, fmt.Errorf("%w: %w", ErrUnknownResult, r.err)
		}
		if r.regionErr != nil {
			return nil, &RegionErr{r.regionErr}
		}
		return r.regions[0], nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", ErrUnknownResult, context.Cause(ctx))
	case <-s.done:
		return nil, fmt.Errorf("%w: %w", ErrUnknownResult, ErrStoreClosed)
	}
}

func ccType(t clusterpb.ChangePeer_Type) pb.ConfChangeType {
	switch t {
	case clusterpb.ChangePeer_ADD_LEARNER:
		return pb.ConfChangeType_ConfChangeAddLearnerNode
	case clusterpb.ChangePeer_REMOVE:
		return pb.ConfChangeType_ConfChangeRemoveNode
	}
	return pb.ConfChangeType_ConfChangeAddNode
}

// validChange checks a change against region; nil if it may be applied.
func validChange(r *clusterpb.Region, c *clusterpb.ChangePeer) *clusterpb.RegionError {
	bad := func(format string, args ...any) *clusterpb.RegionError {
		return &clusterpb.RegionError{Message: fmt.Sprintf("membership change of region %d: ", r.GetId()) + fmt.Sprintf(format, args...)}
	}
	id, node := c.GetPeer().GetId(), c.GetPeer().GetNodeId()
	if id == 0 {
		return bad("peer id 0")
	}
	var same *clusterpb.Peer
	for _, q := range r.GetPeers() {
		if q.GetId() == id {
			same = q
		} else if node != 0 && q.GetNodeId() == node && c.GetType() != clusterpb.ChangePeer_REMOVE {
			return bad("node %d already holds peer %d", node, q.GetId())
		}
	}
	switch c.GetType() {
	case clusterpb.ChangePeer_ADD_LEARNER:
		if same != nil || node == 0 {
			return bad("learner %d exists already or has no node", id)
		}
	case clusterpb.ChangePeer_ADD_VOTER:
		if same != nil && same.GetRole() != clusterpb.PeerRole_LEARNER {
			return bad("peer %d is a voter already", id)
		}
		if same == nil && node == 0 {
			return bad("new voter %d has no node", id)
		}
	case clusterpb.ChangePeer_REMOVE:
		if same == nil {
			return bad("peer %d is not in the region", id)
		}
		voters := 0
		for _, q := range r.GetPeers() {
			if q.GetRole() == clusterpb.PeerRole_VOTER {
				voters++
			}
		}
		if same.GetRole() == clusterpb.PeerRole_VOTER && voters == 1 {
			return bad("peer %d is the last voter", id)
		}
	default:
		return bad("unknown change type %d", c.GetType())
	}
	return nil
}

// applyConfChange applies a committed membership change (see above).
func (p *peer) applyConfChange(a *applier, e *pb.Entry) (proposalResult, uint64, error) {
	cc := &pb.ConfChangeV2{}
	if e.GetType() == pb.EntryType_EntryConfChange {
		v1 := &pb.ConfChange{}
		if err := proto.Unmarshal(e.GetData(), v1); err != nil {
			return proposalResult{}, 0, fmt.Errorf("raftstore: region %d: undecodable conf change at %d: %w", p.regionID, e.GetIndex(), err)
		}
		cc = v1.AsV2()
	} else if err := proto.Unmarshal(e.GetData(), cc); err != nil {
		return proposalResult{}, 0, fmt.Errorf("raftstore: region %d: undecodable conf change at %d: %w", p.regionID, e.GetIndex(), err)
	}
	cmd := &clusterpb.RaftCommand{}
	r := p.region()
	var res proposalResult
	var change *clusterpb.ChangePeer
	if err := proto.Unmarshal(cc.GetContext(), cmd); err != nil || len(cmd.GetAdmin().GetChangePeers().GetChanges()) != 1 || len(cc.GetChanges()) != 1 {
		res.regionErr = &clusterpb.RegionError{Message: "membership change without a valid command"}
	} else {
		change = cmd.GetAdmin().GetChangePeers().GetChanges()[0]
		if cmd.GetEpoch().GetConfVer() != r.GetEpoch().GetConfVer() {
			res.regionErr = p.epochNotMatch()
		} else if rerr := validChange(r, change); rerr != nil {
			res.regionErr = rerr
		} else if cc.GetChanges()[0].GetNodeId() != change.GetPeer().GetId() || cc.GetChanges()[0].GetType() != ccType(change.GetType()) {
			res.regionErr = &clusterpb.RegionError{Message: "membership change does not match its command"}
		}
	}
	if res.regionErr != nil {
		// Refused identically everywhere: raft applies it as a no-op.
		for _, c := range cc.GetChanges() {
			c.NodeId = proto.Uint64(0)
		}
		p.rn.ApplyConfChange(cc)
		return res, cmd.GetProposalId(), nil
	}
	p.rn.ApplyConfChange(cc)
	nr := proto.Clone(r).(*clusterpb.Region)
	nr.Epoch.ConfVer++
	id := change.GetPeer().GetId()
	switch change.GetType() {
	case clusterpb.ChangePeer_ADD_LEARNER:
		nr.Peers = append(nr.Peers, &clusterpb.Peer{Id: id, NodeId: change.GetPeer().GetNodeId(), Role: clusterpb.PeerRole_LEARNER})
	case clusterpb.ChangePeer_ADD_VOTER:
		found := false
		for _, q := range nr.Peers {
			if q.GetId() == id {
				q.Role, found = clusterpb.PeerRole_VOTER, true
			}
		}
		if !found {
			nr.Peers = append(nr.Peers, &clusterpb.Peer{Id: id, NodeId: change.GetPeer().GetNodeId(), Role: clusterpb.PeerRole_VOTER})
		}
	case clusterpb.ChangePeer_REMOVE:
		keep := nr.Peers[:0]
		for _, q := range nr.Peers {
			if q.GetId() != id {
				keep = append(keep, q)
			}
		}
		nr.Peers = keep
	}
	p.ps.apply.AppliedIndex = e.GetIndex()
	if id == p.peerID && change.GetType() == clusterpb.ChangePeer_REMOVE {
		if err := p.destroy(a, nr); err != nil {
			return proposalResult{}, 0, err
		}
	} else {
		if err := putProto(a.b, regionStateKey(p.regionID), &clusterpb.RegionLocalState{State: clusterpb.RegionLocalState_NORMAL, Region: nr, PeerId: p.peerID}); err != nil {
			return proposalResult{}, 0, err
		}
		if err := a.flush(); err != nil {
			return proposalResult{}, 0, err
		}
		p.ps.region = nr
	}
	p.snapCache = nil
	return proposalResult{regions: []*clusterpb.Region{proto.Clone(nr).(*clusterpb.Region)}}, cmd.GetProposalId(), nil
}

// destroy removes this replica: its data and Raft state go, a tombstone
// stays (messages for a peer id at or below it are then ignored).
func (p *peer) destroy(a *applier, region *clusterpb.Region) error {
	s := p.store
	r := p.region()
	b := a.b
	b.DeleteRange(dataKey(r.GetStartKey()), dataEnd(r.GetEndKey()))
	b.DeleteRange(logRangeStart(p.regionID), logRangeEnd(p.regionID))
	b.Delete(hardStateKey(p.regionID))
	b.Delete(applyStateKey(p.regionID))
	if err := putProto(b, regionStateKey(p.regionID), &clusterpb.RegionLocalState{State: clusterpb.RegionLocalState_TOMBSTONE, Region: region, PeerId: p.peerID}); err != nil {
		return err
	}
	if err := s.db.Write(b, &strata.WriteOptions{Sync: true}); err != nil {
		return fmt.Errorf("raftstore: node %d: region %d: removing the replica: %w", s.cfg.NodeID, p.regionID, err)
	}
	b.Reset()
	p.removed = true
	s.tombstones[p.regionID] = p.peerID
	return nil
}
