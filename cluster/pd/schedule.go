package pd

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/strata-db/strata/cluster/clusterpb"
)

// OpKind is what an Operator does to a region.
type OpKind int

// The operator kinds. A replica move is two operators over two rounds (add a
// learner; once it has caught up, ReplaceVoter: promote it and remove the old
// voter in one joint change, so the region never has four voters, nor two
// when the old one is dead): the scheduler keeps no plan between rounds and
// reads the next step from the regions' state, so a PD leader that changes
// mid-move simply carries on.
const (
	// AddLearner adds Peer (a new peer id on a chosen node) as a learner.
	AddLearner OpKind = iota
	// PromoteLearner makes the learner Peer a voter.
	PromoteLearner
	// RemovePeer removes Peer from the region.
	RemovePeer
	// TransferLeader asks the leader to hand leadership to Peer.
	TransferLeader
	// ReplaceVoter promotes the learner Peer and removes the voter Remove
	// in one membership change (a joint configuration).
	ReplaceVoter
)

func (k OpKind) String() string {
	switch k {
	case AddLearner:
		return "add-learner"
	case PromoteLearner:
		return "promote-learner"
	case RemovePeer:
		return "remove-peer"
	case TransferLeader:
		return "transfer-leader"
	case ReplaceVoter:
		return "replace-voter"
	}
	return fmt.Sprintf("OpKind(%d)", int(k))
}

// Operator is one step the scheduler wants a region's leader to take.
type Operator struct {
	RegionID uint64
	Kind     OpKind
	Peer     *clusterpb.Peer
	// Remove is the voter a ReplaceVoter removes.
	Remove *clusterpb.Peer
	Reason string
}

func (o Operator) String() string {
	if o.Remove != nil {
		return fmt.Sprintf("region %d: %s peer %d on node %d for peer %d on node %d (%s)", o.RegionID, o.Kind, o.Peer.GetId(), o.Peer.GetNodeId(),
			o.Remove.GetId(), o.Remove.GetNodeId(), o.Reason)
	}
	return fmt.Sprintf("region %d: %s peer %d on node %d (%s)", o.RegionID, o.Kind, o.Peer.GetId(), o.Peer.GetNodeId(), o.Reason)
}

// NodeState is what the placement driver knows of a node: its record and, in
// memory on the PD leader, when it last reported.
type NodeState struct {
	Node *clusterpb.Node
	// LastHeartbeat is when the PD leader last heard from the node (zero:
	// never since this PD leader took over).
	LastHeartbeat time.Time
	// Watched is when this PD leader started watching the node (zero: long
	// ago). A node whose heartbeat has not moved since (LastHeartbeat not
	// after Watched) and that has been watched for less than DownAfter is
	// unsure: it may have died just before this PD leader took over. Its
	// replicas are not moved, it receives none, and no region with a voter
	// on it loses a voter unless its leader says which one lags.
	Watched time.Time
}

// RegionState is a region as its leader last reported it.
type RegionState struct {
	Region *clusterpb.Region
	// Leader is the leading peer's id (0: unknown).
	Leader uint64
	// Pending are peers known to lag the leader's log (a learner still
	// catching up, a replica being sent a snapshot): not promoted yet.
	Pending []uint64
	// Down are peers the leader has not heard from for two election
	// timeouts (raft's Progress.RecentActive): removed first when the
	// region has a voter too many.
	Down []uint64
	// SilenceUnknown: the leader was elected or woken too recently to know
	// which peers are silent (Down and Pending are incomplete): no voter
	// but one on a down node is removed.
	SilenceUnknown bool
}

// Config tunes the scheduler.
type Config struct {
	// Replicas is the number of voters each region should have (3).
	Replicas int
	// DownAfter is how long a node may be silent before its replicas are
	// rebuilt elsewhere.
	DownAfter time.Duration
	// LeaderSpread and RegionSpread are the largest differences between the
	// busiest and the idlest live node tolerated before balancing.
	LeaderSpread, RegionSpread int
	// MaxOperators bounds the operators of one round (0: 16).
	MaxOperators int
}

// DefaultConfig is three replicas, nodes down after 30 s, balance beyond a
// spread of 2 leaders or 4 regions.
func DefaultConfig() Config {
	return Config{Replicas: 3, DownAfter: 30 * time.Second, LeaderSpread: 2, RegionSpread: 4, MaxOperators: 16}
}

// nodeLoad counts a node's replicas and leaders in one round.
type nodeLoad struct {
	id              uint64
	regions, leader int
}

// Schedule returns the operators that move the cluster toward Replicas
// healthy voters per region on distinct nodes, no replica on a node that is
// down or being removed, and leaders and replicas spread evenly. newPeerID
// allocates peer ids for the replicas it adds. It is a pure function of its
// inputs, so it can be tested (and replayed) from recorded states.
func Schedule(now time.Time, nodes []NodeState, regions []RegionState, cfg Config, newPeerID func() uint64) []Operator {
	if cfg.Replicas <= 0 {
		cfg.Replicas = 3
	}
	if cfg.MaxOperators <= 0 {
		cfg.MaxOperators = 16
	}
	healthy := map[uint64]bool{} // nodes that may hold replicas
	unsure := map[uint64]bool{}  // nodes not watched long enough to know
	load := map[uint64]*nodeLoad{}
	for _, n := range nodes {
		id := n.Node.GetId()
		up := n.Node.GetState() == clusterpb.Node_UP && !n.LastHeartbeat.IsZero() &&
			now.Sub(n.LastHeartbeat) < cfg.DownAfter
		healthy[id] = up
		if up && !n.LastHeartbeat.After(n.Watched) && now.Sub(n.Watched) < cfg.DownAfter {
			unsure[id] = true
			continue
		}
		if up {
			load[id] = &nodeLoad{id: id}
		}
	}
	// down reports whether a node's replicas should be moved off it: down,
	// being removed, or unknown. A node never heard from since this PD
	// leader took over is not counted down until DownAfter has passed
	// since the first heartbeat of any node (the caller passes nodes with
	// a zero LastHeartbeat only after that).
	down := func(nodeID uint64) bool { return !healthy[nodeID] }
	for _, r := range regions {
		for _, p := range r.Region.GetPeers() {
			if l := load[p.GetNodeId()]; l != nil {
				l.regions++
				if p.GetId() == r.Leader {
					l.leader++
				}
			}
		}
	}
	var ops []Operator
	add := func(op Operator) bool {
		ops = append(ops, op)
		return len(ops) < cfg.MaxOperators
	}
	// pick chooses the live node with the fewest replicas that does not
	// already hold one of region r.
	pick := func(r *clusterpb.Region) *nodeLoad {
		var best *nodeLoad
		for _, l := range sortedLoads(load) {
			if slices.ContainsFunc(r.GetPeers(), func(p *clusterpb.Peer) bool { return p.GetNodeId() == l.id }) {
				continue
			}
			if best == nil || l.regions < best.regions {
				best = l
			}
		}
		return best
	}
	// surplus chooses the voter to remove from a region with one voter
	// more than wanted, never the leader: first one on a down node, then
	// one its leader has not heard from lately, then one that lags its
	// leader; only if the leader vouches for every other voter (none
	// reported down or lagging, none on an unsure node) the one on the
	// most loaded node. Nothing but a voter on a down node while the
	// leader's silence is unknown (just elected or woken). Removing a healthy voter while another is dead
	// would leave the region one failure from unavailability, and a new PD
	// leader that still counts a dead node up would move replicas back and
	// forth.
	surplus := func(rs RegionState, bad, good []*clusterpb.Peer) (*clusterpb.Peer, string) {
		for _, p := range bad {
			if p.GetId() != rs.Leader {
				return p, fmt.Sprintf("node %d down or removed", p.GetNodeId())
			}
		}
		if len(bad) > 0 || rs.SilenceUnknown {
			// Only the leader is bad: it is replaced by an election,
			// not removed, and its reports are stale. Or the leader
			// cannot tell yet which of its peers are silent.
			return nil, ""
		}
		for _, list := range []struct {
			ids []uint64
			why string
		}{{rs.Down, "not heard from by its leader"}, {rs.Pending, "lagging its leader"}} {
			for _, p := range good {
				if p.GetId() != rs.Leader && slices.Contains(list.ids, p.GetId()) {
					return p, fmt.Sprintf("peer %d on node %d %s", p.GetId(), p.GetNodeId(), list.why)
				}
			}
		}
		if slices.ContainsFunc(good, func(p *clusterpb.Peer) bool { return unsure[p.GetNodeId()] }) {
			return nil, ""
		}
		var victim *clusterpb.Peer
		for _, p := range good {
			if p.GetId() != rs.Leader && (victim == nil || load[p.GetNodeId()].regions > load[victim.GetNodeId()].regions) {
				victim = p
			}
		}
		return victim, "surplus voter"
	}
	busy := map[uint64]bool{} // regions given an operator this round
	for _, rs := range regions {
		r := rs.Region
		if slices.ContainsFunc(r.GetPeers(), func(p *clusterpb.Peer) bool {
			return p.GetRole() != clusterpb.PeerRole_VOTER && p.GetRole() != clusterpb.PeerRole_LEARNER
		}) {
			busy[r.GetId()] = true // a joint configuration, left by itself
			continue
		}
		var healthyVoters, learners, badVoters []*clusterpb.Peer
		for _, p := range r.GetPeers() {
			switch {
			case p.GetRole() == clusterpb.PeerRole_LEARNER:
				learners = append(learners, p)
			case down(p.GetNodeId()):
				badVoters = append(badVoters, p)
			default:
				healthyVoters = append(healthyVoters, p)
			}
		}
		pending := func(p *clusterpb.Peer) bool { return slices.Contains(rs.Pending, p.GetId()) }
		var op *Operator
		switch {
		case len(learners) > 0:
			// A learner was added (to repair or to move a replica): drop it
			// if its node went down, or wait until it has caught up; then
			// promote it and, in the same joint change, remove the voter it
			// replaces (a dead one, or the surplus of a move; never the
			// leader: then it is only promoted, and the surplus voter goes
			// in a later round).
			for _, l := range learners {
				if down(l.GetNodeId()) {
					op = &Operator{RegionID: r.GetId(), Kind: RemovePeer, Peer: l, Reason: "learner on a down node"}
					break
				}
				if !pending(l) {
					op = &Operator{RegionID: r.GetId(), Kind: PromoteLearner, Peer: l, Reason: "caught up"}
					if len(badVoters) == 0 && len(healthyVoters) < cfg.Replicas {
						break // the learner makes up the number
					}
					victim, why := surplus(rs, badVoters, healthyVoters)
					if victim == nil && len(badVoters) == 0 {
						// The leader cannot tell yet, or does not
						// say, which voter to replace while a
						// voter's node is unsure: wait rather than
						// promote to four voters.
						op = nil
						break
					}
					if victim != nil {
						op.Kind, op.Remove, op.Reason = ReplaceVoter, victim, "caught up; "+why
						if l := load[victim.GetNodeId()]; l != nil {
							l.regions--
						}
					}
					break
				}
			}
			busy[r.GetId()] = true
		case len(healthyVoters) < cfg.Replicas:
			if n := pick(r); n != nil {
				why := "too few replicas"
				if len(badVoters) > 0 {
					why = fmt.Sprintf("replace the replica on node %d", badVoters[0].GetNodeId())
				}
				op = &Operator{RegionID: r.GetId(), Kind: AddLearner, Reason: why,
					Peer: &clusterpb.Peer{Id: newPeerID(), NodeId: n.id, Role: clusterpb.PeerRole_LEARNER}}
				n.regions++
			}
		case len(badVoters) > 0:
			// Enough healthy voters: the bad ones go (a leader among them
			// is replaced by an election, never removed while leading).
			for _, p := range badVoters {
				if p.GetId() != rs.Leader {
					op = &Operator{RegionID: r.GetId(), Kind: RemovePeer, Peer: p, Reason: fmt.Sprintf("node %d down or removed", p.GetNodeId())}
					break
				}
			}
		case len(healthyVoters) > cfg.Replicas:
			// Surplus voter (the end of a move, or a promotion without
			// removal when the replaced voter led).
			if victim, why := surplus(rs, nil, healthyVoters); victim != nil {
				op = &Operator{RegionID: r.GetId(), Kind: RemovePeer, Peer: victim, Reason: why}
				if l := load[victim.GetNodeId()]; l != nil {
					l.regions--
				}
			}
		}
		if op != nil {
			busy[r.GetId()] = true
			if !add(*op) {
				return ops
			}
		}
	}
	// Balance leaders, then replicas, among live nodes, one step per round
	// per imbalance (the next round sees the result); not while a node is
	// unsure (a new PD leader's first DownAfter): its load is not counted.
	if len(load) >= 2 && len(unsure) == 0 {
		loads := sortedLoads(load)
		most, least := loads[0], loads[0]
		for _, l := range loads {
			if l.leader > most.leader {
				most = l
			}
			if l.leader < least.leader {
				least = l
			}
		}
		if most.leader-least.leader > cfg.LeaderSpread {
			for _, rs := range regions {
				if busy[rs.Region.GetId()] {
					continue
				}
				lp := peerByID(rs.Region, rs.Leader)
				to := peerOnNode(rs.Region, least.id)
				if lp != nil && lp.GetNodeId() == most.id && to != nil && to.GetRole() == clusterpb.PeerRole_VOTER &&
					!slices.Contains(rs.Pending, to.GetId()) && !slices.Contains(rs.Down, to.GetId()) {
					busy[rs.Region.GetId()] = true
					if !add(Operator{RegionID: rs.Region.GetId(), Kind: TransferLeader, Peer: to,
						Reason: fmt.Sprintf("balance leaders: node %d has %d, node %d has %d", most.id, most.leader, least.id, least.leader)}) {
						return ops
					}
					break
				}
			}
		}
		most, least = loads[0], loads[0]
		for _, l := range loads {
			if l.regions > most.regions {
				most = l
			}
			if l.regions < least.regions {
				least = l
			}
		}
		if most.regions-least.regions > cfg.RegionSpread {
			// Move a replica off the busiest node from a region it does
			// not lead: its replica there is the one the replacement
			// removes (a leader never is: another replica would go and
			// a later round would move one back). If it leads every
			// such region, hand one's leadership to another voter first.
			var led *RegionState
			moved := false
			for i, rs := range regions {
				r := rs.Region
				mp := peerOnNode(r, most.id)
				if busy[r.GetId()] || mp == nil || peerOnNode(r, least.id) != nil ||
					len(r.GetPeers()) != cfg.Replicas {
					continue
				}
				if mp.GetId() == rs.Leader {
					if led == nil {
						led = &regions[i]
					}
					continue
				}
				add(Operator{RegionID: r.GetId(), Kind: AddLearner,
					Peer:   &clusterpb.Peer{Id: newPeerID(), NodeId: least.id, Role: clusterpb.PeerRole_LEARNER},
					Reason: fmt.Sprintf("balance regions: node %d has %d, node %d has %d", most.id, most.regions, least.id, least.regions)})
				moved = true
				break
			}
			if !moved && led != nil {
				for _, p := range led.Region.GetPeers() {
					if p.GetNodeId() != most.id && load[p.GetNodeId()] != nil && p.GetRole() == clusterpb.PeerRole_VOTER &&
						!slices.Contains(led.Pending, p.GetId()) && !slices.Contains(led.Down, p.GetId()) {
						add(Operator{RegionID: led.Region.GetId(), Kind: TransferLeader, Peer: p,
							Reason: fmt.Sprintf("balance regions: node %d has %d and leads the regions to move", most.id, most.regions)})
						break
					}
				}
			}
		}
	}
	return ops
}

// sortedLoads returns the loads in node id order (deterministic rounds).
func sortedLoads(m map[uint64]*nodeLoad) []*nodeLoad {
	out := make([]*nodeLoad, 0, len(m))
	for _, l := range m {
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

func peerByID(r *clusterpb.Region, id uint64) *clusterpb.Peer {
	for _, p := range r.GetPeers() {
		if p.GetId() == id {
			return p
		}
	}
	return nil
}

func peerOnNode(r *clusterpb.Region, node uint64) *clusterpb.Peer {
	for _, p := range r.GetPeers() {
		if p.GetNodeId() == node {
			return p
		}
	}
	return nil
}
