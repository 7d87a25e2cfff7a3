package raftstore

import (
	"context"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"go.etcd.io/raft/v3/tracker"
	"google.golang.org/protobuf/proto"

	"github.com/strata-db/strata/cluster/clusterpb"
)

// Proposals are batched. etcd raft answers every proposal (MsgProp) on a
// leader with an append message to every follower at once, so proposing
// commands one by one costs one MsgApp per follower per command, one
// MsgAppResp back, and the commit notices after them: eight messages per
// write in a three-replica region however many writes a round carries
// (BenchmarkPut's msgs/op). Instead the loop gathers the commands its
// requests propose while it drains its queues and proposes each region's
// gathered commands as one MsgProp before the round (flushProposals): one
// append per follower carries them all.

// maxProposalBatch bounds the bytes of commands proposed in one MsgProp
// (raft refuses a whole proposal message that would take a region past its
// uncommitted-size limit: a smaller batch keeps one large command from
// failing the others). A single larger command goes alone.
const maxProposalBatch = 1 << 20

// replier answers one proposal's caller, once, without blocking the loop:
// through a channel with room for the answer (a caller waiting in Write,
// Split or ChangePeers, whose context bounds its wait) or through a
// callback (WriteAsync), whose deadline the loop enforces (expireProposals).
type replier struct {
	ch chan proposalResult
	fn func(proposalResult)
	// deadline, for a callback: past it the loop answers ErrUnknownResult
	// (the write may still apply) and forgets the proposal. Zero: none.
	deadline time.Time
}

// send delivers res.
func (r replier) send(res proposalResult) {
	if r.fn != nil {
		r.fn(res)
		return
	}
	r.ch <- res
}

// expireProposals answers, with ErrUnknownResult, the callback proposals
// whose deadline passed (a waiting caller's context does the same for it).
// They may still apply; they are no longer answered.
func (p *peer) expireProposals(now time.Time) {
	for id, pr := range p.proposals {
		if d := pr.ch.deadline; !d.IsZero() && now.After(d) {
			delete(p.proposals, id)
			pr.ch.send(proposalResult{err: context.DeadlineExceeded})
		}
	}
}

// pendingProposal is a command gathered for the next MsgProp.
type pendingProposal struct {
	id   uint64
	data []byte
	ch   replier
}

// propose gathers cmd for the region's next proposal message and
// registers its caller (loop goroutine). The command is proposed before
// the loop's next round (flushProposals).
func (p *peer) propose(cmd *clusterpb.RaftCommand, ch replier) {
	cmd.ProposalId = p.store.newProposalID()
	data, err := proto.Marshal(cmd)
	if err != nil {
		ch.send(proposalResult{regionErr: &clusterpb.RegionError{Message: err.Error()}})
		return
	}
	if len(p.gathered) == 0 {
		p.store.proposing = append(p.store.proposing, p)
	}
	p.gathered = append(p.gathered, pendingProposal{id: cmd.ProposalId, data: data, ch: ch})
}

// flushProposals proposes the commands gathered since the last round,
// region by region, in batches of up to maxProposalBatch bytes.
func (s *Store) flushProposals() {
	for _, p := range s.proposing {
		g := p.gathered
		p.gathered = nil
		if s.peers[p.regionID] != p {
			// The replica went away (failAll answered its callers).
			continue
		}
		for len(g) > 0 {
			n, size := 1, len(g[0].data)
			for n < len(g) && size+len(g[n].data) <= maxProposalBatch {
				size += len(g[n].data)
				n++
			}
			p.proposeBatch(g[:n])
			g = g[n:]
		}
	}
	clear(s.proposing)
	s.proposing = s.proposing[:0]
}

// proposeBatch proposes commands as one raft proposal message.
func (p *peer) proposeBatch(batch []pendingProposal) {
	es := make([]*pb.Entry, len(batch))
	for i, pp := range batch {
		es[i] = &pb.Entry{Data: pp.data}
	}
	id := p.peerID
	if err := p.rn.Step(&pb.Message{Type: pb.MessageType_MsgProp.Enum(), From: &id, Entries: es}); err != nil {
		// Dropped by raft (not leader any more, or too much uncommitted):
		// not in the log.
		for _, pp := range batch {
			pp.ch.send(proposalResult{regionErr: p.notLeader()})
		}
		return
	}
	term := p.rn.BasicStatus().HardState.GetTerm()
	for _, pp := range batch {
		p.proposals[pp.id] = &proposal{term: term, ch: pp.ch}
	}
}

// failGathered answers the commands gathered but not proposed.
func (p *peer) failGathered(err error) {
	for _, pp := range p.gathered {
		pp.ch.send(proposalResult{err: err})
	}
	p.gathered = nil
}

// dropSubsumedAppends removes from a Ready's messages each empty append
// (MsgApp without entries: raft's notice of a new commit index) that a
// later append of the same Ready to the same follower makes redundant: same
// term, same previous index and term, entries, a commit index at least as
// high. Under load a round often has both: the acknowledgements stepped
// while the loop drained its queue advance the commit (raft announces it
// at once), then the batched proposals go out to the same followers. The
// follower learns everything from the later one and answers once instead
// of twice. Raft tolerates lost messages; these are not even lost, only
// merged into the message after them. msgs is filtered in place.
func dropSubsumedAppends(msgs []*pb.Message) []*pb.Message {
	out := msgs[:0]
	for i, m := range msgs {
		if m.GetType() == pb.MessageType_MsgApp && len(m.GetEntries()) == 0 && subsumed(m, msgs[i+1:]) {
			continue
		}
		out = append(out, m)
	}
	clear(msgs[len(out):])
	return out
}

// subsumed reports whether one of later carries what the empty append m
// does, and more.
func subsumed(m *pb.Message, later []*pb.Message) bool {
	for _, n := range later {
		if n.GetType() == pb.MessageType_MsgApp && n.GetTo() == m.GetTo() && n.GetTerm() == m.GetTerm() &&
			n.GetIndex() == m.GetIndex() && n.GetLogTerm() == m.GetLogTerm() && n.GetCommit() >= m.GetCommit() && len(n.GetEntries()) > 0 {
			return true
		}
	}
	return false
}

// dropCommitNotices removes from a leader's Ready the empty appends that
// only announce a new commit index to a follower in the replicating state
// that has acknowledged every entry up to the message's previous index. An
// empty append to a follower that has not (raft's Next is optimistic: a
// follower that restarted, or missed appends while it was cut off, is still
// "replicating" with everything sent) is raft's probe, answered by the
// rejection that sends the follower back to what it has, or to a snapshot:
// dropping it would leave that follower behind for good. Raft sends one at every advance of the commit index,
// and the follower answers it, which at low concurrency is four of a
// write's eight messages and a round on each follower. The follower
// learns the commit index from the next append or heartbeat instead (raft
// puts it in both; a heartbeat leaves every HeartbeatTicks), so it applies
// later, which only a stale read on a follower can see. Notices are kept
// when the Ready commits a configuration change (the followers apply it at
// once, as raft expects: a leader that removes itself stops sending
// heartbeats). msgs is filtered in place.
func (p *peer) dropCommitNotices(rd *raft.Ready) {
	if len(rd.Messages) == 0 || !p.isLeader() {
		return
	}
	for _, e := range rd.CommittedEntries {
		if e.GetType() != pb.EntryType_EntryNormal {
			return
		}
	}
	out := rd.Messages[:0]
	for _, m := range rd.Messages {
		if m.GetType() == pb.MessageType_MsgApp && len(m.GetEntries()) == 0 && p.replicating(m.GetTo(), m.GetIndex()) {
			continue
		}
		out = append(out, m)
	}
	clear(rd.Messages[len(out):])
	rd.Messages = out
}

// replicating reports whether follower id is in the replicating state and
// has acknowledged every entry up to index, all that was sent to it.
func (p *peer) replicating(id, index uint64) (ok bool) {
	p.rn.WithProgress(func(pid uint64, _ raft.ProgressType, pr tracker.Progress) {
		if pid == id && pr.State == tracker.StateReplicate && pr.Match == index && pr.Next == index+1 {
			ok = true
		}
	})
	return ok
}
