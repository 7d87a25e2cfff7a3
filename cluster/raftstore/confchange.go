package raftstore

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"go.etcd.io/raft/v3/tracker"
	"google.golang.org/protobuf/proto"

	"github.com/strata-db/strata"
	"github.com/strata-db/strata/cluster/clusterpb"
)

// Membership changes.
//
// ChangePeers proposes a raft ConfChangeV2 entry whose context is a
// RaftCommand carrying the ChangePeersRequest and the region's epoch; every
// replica applies it at the same index: it checks the epoch's conf_ver and
// the changes against the descriptor as of that index (a refused change is
// not applied to raft at all, identically everywhere), then updates the
// descriptor (conf_ver+1).
//
//   - One change (add a learner, add or promote a voter, remove a peer) is
//     raft's simple transition: one voter at a time never needs joint
//     consensus.
//   - Several changes (e.g. promote learner X and remove voter Y: a dead
//     node's replica replaced without ever having 4 or 2 voters) enter a
//     joint configuration: decisions need a majority of the old voters AND
//     of the new ones. In the descriptor, a voter only in the new
//     configuration is INCOMING_VOTER, one only in the old configuration
//     DEMOTING_VOTER (a learner after) or REMOVING_VOTER (gone after).
//     Demoting a voter (ADD_LEARNER of a voter) is allowed only there. The
//     joint configuration is left automatically (etcd raft's
//     ConfChangeTransitionAuto): once the joint entry is applied, the leader
//     appends an empty ConfChangeV2 (no command: conf_ver+1 when applied,
//     roles settle). A leader that is not a voter of the new configuration
//     first hands leadership to one that is (the new leader leaves the
//     joint configuration), and keeps leading until then; if the transfer
//     fails it leaves the joint configuration itself and steps down when
//     that applies (raft's StepDownOnRemoval). A joint configuration
//     survives restarts (the descriptor gives raft its ConfState, with
//     voters_outgoing and auto_leave). While it lasts, splits and further
//     membership changes are refused, and the region does not hibernate
//     (the leader must be there to leave it).
//
// A replica that is removed deletes its data and Raft state and leaves a
// tombstone, so that late messages for it do not bring it back; one that
// missed the commit of its removal is told by the others
// (RaftMessage.is_tombstone, see Store.handleMessage). A new peer's node
// creates it uninitialized on the first message from the leader; a snapshot
// fills it.

// ChangePeer proposes one membership change (see ChangePeers).
func (s *Store) ChangePeer(ctx context.Context, regionID uint64, epoch *clusterpb.RegionEpoch, change *clusterpb.ChangePeer) (*clusterpb.Region, error) {
	return s.ChangePeers(ctx, regionID, epoch, []*clusterpb.ChangePeer{change})
}

// ChangePeers proposes membership changes of region regionID through its
// leader on this store, all at once (several: through a joint
// configuration), and returns the region descriptor once they applied (with
// several changes, still joint: the leave follows by itself). epoch, if not
// nil, must be the region's current epoch. A region in a joint
// configuration, or whose previous change is not applied yet, answers
// ServerBusy: retry.
func (s *Store) ChangePeers(ctx context.Context, regionID uint64, epoch *clusterpb.RegionEpoch, changes []*clusterpb.ChangePeer) (*clusterpb.Region, error) {
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
		if rerr == nil && (p2.ccInFlight || p2.confBarrier > p2.ps.apply.GetAppliedIndex() || isJoint(p2.region())) {
			// Raft takes one change at a time and, without saying so,
			// turns another into an empty entry: wait until the last one
			// (or, for a new leader, its whole log) is applied and a joint
			// configuration left.
			rerr = &clusterpb.RegionError{Message: "membership change: another change is not applied yet, retry", ServerBusy: true}
		}
		if rerr == nil {
			rerr = validChanges(p.region(), changes)
		}
		if rerr != nil {
			ch <- proposalResult{regionErr: rerr}
			return
		}
		cmd := &clusterpb.RaftCommand{RegionId: regionID, Epoch: proto.Clone(ep).(*clusterpb.RegionEpoch), ProposalId: s.newProposalID(),
			Admin: &clusterpb.AdminRequest{Cmd: &clusterpb.AdminRequest_ChangePeers{ChangePeers: &clusterpb.ChangePeersRequest{Changes: changes}}}}
		data, err := proto.Marshal(cmd)
		if err != nil {
			ch <- proposalResult{err: err}
			return
		}
		// Transition auto: one change is simple, several enter a joint
		// configuration that raft leaves by itself.
		cc := &pb.ConfChangeV2{Context: data}
		for _, c := range changes {
			cc.Changes = append(cc.Changes, &pb.ConfChangeSingle{Type: ccType(c.GetType()).Enum(), NodeId: proto.Uint64(c.GetPeer().GetId())})
		}
		if err := p.rn.ProposeConfChange(cc); err != nil {
			ch <- proposalResult{regionErr: p.notLeader()}
			return
		}
		p.proposals[cmd.ProposalId] = &proposal{term: p.rn.BasicStatus().HardState.GetTerm(), ch: replier{ch: ch}}
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

// isJoint reports whether r is in a joint configuration.
func isJoint(r *clusterpb.Region) bool {
	for _, q := range r.GetPeers() {
		switch q.GetRole() {
		case clusterpb.PeerRole_INCOMING_VOTER, clusterpb.PeerRole_DEMOTING_VOTER, clusterpb.PeerRole_REMOVING_VOTER:
			return true
		}
	}
	return false
}

// incomingVoter reports whether a peer of role r votes in the incoming (or
// only) configuration.
func incomingVoter(r clusterpb.PeerRole) bool {
	return r == clusterpb.PeerRole_VOTER || r == clusterpb.PeerRole_INCOMING_VOTER
}

// validChanges checks changes against region r; nil if they may be applied
// together (several: through a joint configuration).
func validChanges(r *clusterpb.Region, changes []*clusterpb.ChangePeer) *clusterpb.RegionError {
	bad := func(format string, args ...any) *clusterpb.RegionError {
		return &clusterpb.RegionError{Message: fmt.Sprintf("membership change of region %d: ", r.GetId()) + fmt.Sprintf(format, args...)}
	}
	if len(changes) == 0 {
		return bad("no change")
	}
	if isJoint(r) {
		return bad("the region is in a joint configuration")
	}
	joint := len(changes) > 1
	voters := map[uint64]bool{} // the voters after the changes
	onNode := map[uint64]uint64{}
	for _, q := range r.GetPeers() {
		onNode[q.GetNodeId()] = q.GetId()
		if q.GetRole() == clusterpb.PeerRole_VOTER {
			voters[q.GetId()] = true
		}
	}
	seen := map[uint64]bool{}
	votersChange := false
	for _, c := range changes {
		id, node := c.GetPeer().GetId(), c.GetPeer().GetNodeId()
		if id == 0 {
			return bad("peer id 0")
		}
		if seen[id] {
			return bad("peer %d changed twice", id)
		}
		seen[id] = true
		var same *clusterpb.Peer
		for _, q := range r.GetPeers() {
			if q.GetId() == id {
				same = q
			}
		}
		if c.GetType() != clusterpb.ChangePeer_REMOVE && node != 0 {
			if other, ok := onNode[node]; ok && other != id {
				return bad("node %d already holds peer %d", node, other)
			}
			onNode[node] = id
		}
		switch c.GetType() {
		case clusterpb.ChangePeer_ADD_LEARNER:
			switch {
			case same == nil && node == 0:
				return bad("new learner %d has no node", id)
			case same != nil && (!joint || same.GetRole() != clusterpb.PeerRole_VOTER):
				return bad("learner %d exists already (a voter is demoted only with other changes)", id)
			case same != nil:
				delete(voters, id)
				votersChange = true
			}
		case clusterpb.ChangePeer_ADD_VOTER:
			if same != nil && same.GetRole() != clusterpb.PeerRole_LEARNER {
				return bad("peer %d is a voter already", id)
			}
			if same == nil && node == 0 {
				return bad("new voter %d has no node", id)
			}
			voters[id], votersChange = true, true
		case clusterpb.ChangePeer_REMOVE:
			if same == nil {
				return bad("peer %d is not in the region", id)
			}
			if same.GetRole() == clusterpb.PeerRole_VOTER {
				delete(voters, id)
				votersChange = true
			}
		default:
			return bad("unknown change type %d", c.GetType())
		}
	}
	if len(voters) == 0 {
		return bad("no voter would be left")
	}
	if joint && !votersChange {
		return bad("several changes that leave the voters as they are: make them one at a time")
	}
	return nil
}

// changedRegion returns r after changes (validChanges accepted them): with
// several, the joint configuration.
func changedRegion(r *clusterpb.Region, changes []*clusterpb.ChangePeer) *clusterpb.Region {
	nr := proto.Clone(r).(*clusterpb.Region)
	nr.Epoch.ConfVer++
	joint := len(changes) > 1
	for _, c := range changes {
		id := c.GetPeer().GetId()
		i := slices.IndexFunc(nr.Peers, func(q *clusterpb.Peer) bool { return q.GetId() == id })
		switch c.GetType() {
		case clusterpb.ChangePeer_ADD_LEARNER:
			if i < 0 {
				nr.Peers = append(nr.Peers, &clusterpb.Peer{Id: id, NodeId: c.GetPeer().GetNodeId(), Role: clusterpb.PeerRole_LEARNER})
			} else {
				nr.Peers[i].Role = clusterpb.PeerRole_DEMOTING_VOTER
			}
		case clusterpb.ChangePeer_ADD_VOTER:
			role := clusterpb.PeerRole_VOTER
			if joint {
				role = clusterpb.PeerRole_INCOMING_VOTER
			}
			if i < 0 {
				nr.Peers = append(nr.Peers, &clusterpb.Peer{Id: id, NodeId: c.GetPeer().GetNodeId(), Role: role})
			} else {
				nr.Peers[i].Role = role
			}
		case clusterpb.ChangePeer_REMOVE:
			if joint && nr.Peers[i].GetRole() == clusterpb.PeerRole_VOTER {
				nr.Peers[i].Role = clusterpb.PeerRole_REMOVING_VOTER
			} else {
				nr.Peers = slices.Delete(nr.Peers, i, i+1)
			}
		}
	}
	return nr
}

// leftJoint returns joint region r after leaving its joint configuration.
func leftJoint(r *clusterpb.Region) *clusterpb.Region {
	nr := proto.Clone(r).(*clusterpb.Region)
	nr.Epoch.ConfVer++
	nr.Peers = slices.DeleteFunc(nr.Peers, func(q *clusterpb.Peer) bool { return q.GetRole() == clusterpb.PeerRole_REMOVING_VOTER })
	for _, q := range nr.Peers {
		switch q.GetRole() {
		case clusterpb.PeerRole_INCOMING_VOTER:
			q.Role = clusterpb.PeerRole_VOTER
		case clusterpb.PeerRole_DEMOTING_VOTER:
			q.Role = clusterpb.PeerRole_LEARNER
		}
	}
	return nr
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
	r := p.region()
	if cc.LeaveJoint() {
		// Raft's automatic leave of a joint configuration (or an extra one
		// the leader proposed, see tickJoint): no command, no caller.
		if !isJoint(r) {
			return proposalResult{}, 0, nil // nothing to leave: raft would panic
		}
		p.rn.ApplyConfChange(cc)
		p.dropLease()
		nr := leftJoint(r)
		err := p.setRegion(a, e, nr)
		return proposalResult{}, 0, err
	}
	cmd := &clusterpb.RaftCommand{}
	var res proposalResult
	var changes []*clusterpb.ChangePeer
	if err := proto.Unmarshal(cc.GetContext(), cmd); err != nil || len(cmd.GetAdmin().GetChangePeers().GetChanges()) != len(cc.GetChanges()) {
		res.regionErr = &clusterpb.RegionError{Message: "membership change without a valid command"}
	} else {
		changes = cmd.GetAdmin().GetChangePeers().GetChanges()
		if cmd.GetEpoch().GetConfVer() != r.GetEpoch().GetConfVer() {
			res.regionErr = p.epochNotMatch()
		} else if rerr := validChanges(r, changes); rerr != nil {
			res.regionErr = rerr
		} else if cc.GetTransition() != pb.ConfChangeTransition_ConfChangeTransitionAuto {
			res.regionErr = &clusterpb.RegionError{Message: "membership change with an explicit transition"}
		} else {
			for i, c := range cc.GetChanges() {
				if c.GetNodeId() != changes[i].GetPeer().GetId() || c.GetType() != ccType(changes[i].GetType()) {
					res.regionErr = &clusterpb.RegionError{Message: "membership change does not match its command"}
				}
			}
		}
	}
	if res.regionErr != nil {
		// Refused identically everywhere: raft never sees it (it panics
		// on a change it cannot make, e.g. a simple one while joint).
		return res, cmd.GetProposalId(), nil
	}
	p.rn.ApplyConfChange(cc)
	p.dropLease() // the quorums changed
	nr := changedRegion(r, changes)
	if err := p.setRegion(a, e, nr); err != nil {
		return proposalResult{}, 0, err
	}
	if !p.removed && isJoint(nr) {
		p.jointTicks = 0
		p.leaveLeadership()
	}
	return proposalResult{regions: []*clusterpb.Region{proto.Clone(nr).(*clusterpb.Region)}}, cmd.GetProposalId(), nil
}

// setRegion records the descriptor a membership change at entry e leads
// to, or destroys the replica if it is no longer in it.
func (p *peer) setRegion(a *applier, e *pb.Entry, nr *clusterpb.Region) error {
	p.ps.apply.AppliedIndex = e.GetIndex()
	p.snapCache = nil
	if !slices.ContainsFunc(nr.GetPeers(), func(q *clusterpb.Peer) bool { return q.GetId() == p.peerID }) {
		return p.destroy(a, nr)
	}
	if err := putProto(a.b, regionStateKey(p.regionID), &clusterpb.RegionLocalState{State: clusterpb.RegionLocalState_NORMAL, Region: nr, PeerId: p.peerID}); err != nil {
		return err
	}
	if err := a.flush(); err != nil {
		return err
	}
	p.ps.region = nr
	return nil
}

// leaveLeadership has a leader that is not a voter of its region's incoming
// configuration hand leadership to the incoming voter with the longest log
// (the new leader leaves the joint configuration).
func (p *peer) leaveLeadership() {
	if !p.isLeader() {
		return
	}
	me := p.findPeerInRegion(p.peerID)
	if me == nil || incomingVoter(me.GetRole()) {
		return
	}
	var best, bestMatch uint64
	p.rn.WithProgress(func(id uint64, _ raft.ProgressType, pr tracker.Progress) {
		if q := p.findPeerInRegion(id); q != nil && id != p.peerID && incomingVoter(q.GetRole()) && (best == 0 || pr.Match > bestMatch) {
			best, bestMatch = id, pr.Match
		}
	})
	if best != 0 {
		p.dropLease()
		p.rn.TransferLeader(best)
	}
}

// tickJoint is called on every tick of a leader whose region is joint: raft
// leaves the joint configuration when the entry that entered it applies,
// unless a leadership transfer was under way then; after a failed transfer
// this proposes the leave itself (raft turns a redundant one into an empty
// entry), once all its log is applied so as not to repeat it. A leader
// that is not an incoming voter tries a transfer first.
func (p *peer) tickJoint() {
	if !isJoint(p.region()) || !p.isLeader() || p.rn.BasicStatus().LeadTransferee != 0 ||
		p.ps.apply.GetAppliedIndex() != p.ps.lastIndex() {
		return
	}
	p.jointTicks++
	me := p.findPeerInRegion(p.peerID)
	switch {
	case p.jointTicks < p.store.cfg.ElectionTicks:
	case p.jointTicks == p.store.cfg.ElectionTicks && me != nil && !incomingVoter(me.GetRole()):
		p.leaveLeadership()
	default:
		p.jointTicks = 0
		_ = p.rn.ProposeConfChange(&pb.ConfChangeV2{})
	}
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
	a.sync = false // the round's Raft state, earlier in b, is synced too
	p.removed = true
	s.tombstones[p.regionID] = p.peerID
	return nil
}
