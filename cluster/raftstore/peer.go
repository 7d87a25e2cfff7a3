package raftstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"go.etcd.io/raft/v3/tracker"
	"google.golang.org/protobuf/proto"

	"github.com/strata-db/strata"
	"github.com/strata-db/strata/cluster/clusterpb"
)

// proposal is a command proposed by this replica whose caller waits.
type proposal struct {
	term uint64 // the term it was proposed in: its entry has this term
	ch   replier
}

// proposalResult is what a proposal's caller gets.
type proposalResult struct {
	write     *clusterpb.WriteResponse
	regions   []*clusterpb.Region // a split's left and right regions
	regionErr *clusterpb.RegionError
	err       error
}

// readWaiter is a linearizable read waiting for its read index to be
// confirmed (index 0) and then applied.
type readWaiter struct {
	index   uint64
	version uint64          // the region's epoch version when the read was accepted
	ch      chan readResult // nil for a lease renewal
	// When the ReadIndex was asked for, in which term and lease
	// generation: its confirmation renews the lease from then.
	issued         time.Time
	term, leaseGen uint64
}

type readResult struct {
	regionErr *clusterpb.RegionError
	err       error
	pin       *readPin // the state to read, when the read is confirmed
}

// peer is one region replica on this store. It is owned by the loop.
type peer struct {
	store    *Store
	regionID uint64
	peerID   uint64
	rn       *raft.RawNode
	ps       *peerStorage

	proposals   map[uint64]*proposal
	gathered    []pendingProposal      // proposed at the next round (propose.go)
	reads       map[uint64]*readWaiter // waiting for a read index, by request id
	readsApply  []*readWaiter          // read index known, waiting for apply
	peerCache   map[uint64]*clusterpb.Peer
	appliedTerm uint64
	// appendSeqs are the rounds written for the syncer, not known durable
	// yet, that appended entries (syncer.go), oldest first.
	appendSeqs []appendSeq

	asleep    bool
	idleTicks int
	active    bool // work happened since the last tick
	wasLeader bool

	// The leader's lease (lease.go): until leaseUntil, in term leaseTerm;
	// leaseGen grows whenever a lease must end (a transfer, a membership
	// change), so that confirmations asked for before do not renew it.
	// renewID is the lease renewal in flight, noVoteTicks the ticks this
	// replica still ignores vote requests after a restart.
	leaseUntil  time.Time
	leaseTerm   uint64
	leaseGen    uint64
	renewID     uint64
	noVoteTicks int

	removed bool // removed from its region by a membership change
	// silentTicks counts, on the leader, the ticks since each peer was
	// last seen recently active (see downPeers).
	silentTicks map[uint64]int
	awakeTicks  int // ticks led since elected or woken
	// confBarrier bounds raft's pending configuration index from above: a
	// membership change may be proposed once it is applied. ccInFlight: a
	// change was proposed and its entry is not persisted yet.
	confBarrier         uint64
	ccInFlight          bool
	jointTicks          int // ticks led in a joint configuration (see tickJoint)
	lastCompactProposed uint64
	snapCache           *pb.Snapshot
	snapGenerating      bool // a goroutine is building a snapshot
	// approxBytes counts the bytes written to the region (see
	// Config.SplitSize); splitChecking: a size check is running.
	approxBytes   uint64
	splitChecking bool
	// snapSent records, per follower, the index of the last snapshot sent
	// to it and the store tick it left at: log truncation spares the
	// entries after it for a while, or the follower would need another.
	snapSent map[uint64]snapSent
}

func (p *peer) region() *clusterpb.Region { return p.ps.region }

// initialized reports whether the replica has a state (from bootstrap, a
// split or a snapshot) rather than waiting for its first snapshot.
func (p *peer) initialized() bool { return p.ps.apply.GetAppliedIndex() > 0 }

func (p *peer) isLeader() bool { return p.rn.BasicStatus().RaftState == raft.StateLeader }

func (p *peer) pending() int {
	return len(p.proposals) + len(p.gathered) + len(p.reads) + len(p.readsApply)
}

// findPeer returns the peer with id, from the region or from the messages
// seen.
func (p *peer) findPeer(id uint64) *clusterpb.Peer {
	if q := p.findPeerInRegion(id); q != nil {
		return q
	}
	return p.peerCache[id]
}

// findPeerInRegion returns the region's peer with id, or nil.
func (p *peer) findPeerInRegion(id uint64) *clusterpb.Peer {
	for _, q := range p.region().GetPeers() {
		if q.GetId() == id {
			return q
		}
	}
	return nil
}

func (p *peer) learnPeer(q *clusterpb.Peer) {
	if q.GetId() != 0 && q.GetNodeId() != 0 && len(p.peerCache) < 64 {
		p.peerCache[q.GetId()] = &clusterpb.Peer{Id: q.GetId(), NodeId: q.GetNodeId()}
	}
}

// leaderPeer is the leader this replica knows of, or nil.
func (p *peer) leaderPeer() *clusterpb.Peer {
	if lead := p.rn.BasicStatus().Lead; lead != 0 {
		return p.findPeer(lead)
	}
	return nil
}

// envelope wraps a raft message for the transport; nil if its destination
// is unknown.
func (p *peer) envelope(m *pb.Message) *clusterpb.RaftMessage {
	to := p.findPeer(m.GetTo())
	if to == nil {
		return nil
	}
	s := p.store
	r := p.region()
	return &clusterpb.RaftMessage{
		RegionId:  p.regionID,
		FromPeer:  &clusterpb.Peer{Id: p.peerID, NodeId: s.cfg.NodeID},
		ToPeer:    to,
		Epoch:     r.GetEpoch(),
		StartKey:  r.GetStartKey(),
		EndKey:    r.GetEndKey(),
		Message:   m,
		ClusterId: s.cfg.ClusterID,
	}
}

// tick advances the replica's clock; a leader whose region has been quiet
// long enough hibernates.
func (p *peer) tick() {
	p.store.stats.ticks.Add(1)
	if p.noVoteTicks > 0 {
		p.noVoteTicks--
	}
	p.countSilence()
	p.rn.Tick()
	p.tickJoint()
	if p.active {
		p.active = false
		p.idleTicks = 0
		return
	}
	p.idleTicks++
	if h := p.store.cfg.HibernateTicks; h > 0 && p.idleTicks >= h {
		p.maybeHibernate()
	}
}

// maybeHibernate puts a quiet leader's region to sleep: when every replica
// has every entry and this one has applied them all, and nothing waits, the
// leader tells the followers and stops ticking. Any message or request for
// the region wakes it (Store.wake).
func (p *peer) maybeHibernate() {
	st := p.rn.BasicStatus()
	if st.RaftState != raft.StateLeader || p.pending() > 0 || p.rn.HasReady() || isJoint(p.region()) {
		return
	}
	last := p.ps.lastIndex()
	if st.HardState.GetCommit() != last || p.ps.apply.GetAppliedIndex() != last {
		return
	}
	caughtUp := true
	p.rn.WithProgress(func(id uint64, _ raft.ProgressType, pr tracker.Progress) {
		if pr.Match != last {
			caughtUp = false
		}
	})
	if !caughtUp {
		return
	}
	var out []*clusterpb.RaftMessage
	r := p.region()
	for _, q := range r.GetPeers() {
		if q.GetId() == p.peerID {
			continue
		}
		out = append(out, &clusterpb.RaftMessage{
			RegionId: p.regionID, FromPeer: &clusterpb.Peer{Id: p.peerID, NodeId: p.store.cfg.NodeID}, ToPeer: q,
			Epoch: r.GetEpoch(), StartKey: r.GetStartKey(), EndKey: r.GetEndKey(), ClusterId: p.store.cfg.ClusterID,
			Hibernate: true, HibernateTerm: st.HardState.GetTerm(), HibernateCommit: last,
		})
	}
	p.store.cfg.Transport.Send(out)
	p.sleep()
}

func (p *peer) sleep() {
	p.asleep = true
	delete(p.store.awake, p.regionID)
}

// onHibernate puts a follower to sleep when its leader says the region is
// quiet and this replica agrees.
func (p *peer) onHibernate(msg *clusterpb.RaftMessage) {
	st := p.rn.BasicStatus()
	if st.RaftState != raft.StateFollower || st.Lead != msg.GetFromPeer().GetId() ||
		st.HardState.GetTerm() != msg.GetHibernateTerm() || st.HardState.GetCommit() != msg.GetHibernateCommit() ||
		p.ps.lastIndex() != st.HardState.GetCommit() || p.ps.apply.GetAppliedIndex() != st.HardState.GetCommit() ||
		p.pending() > 0 || p.rn.HasReady() {
		return
	}
	p.sleep()
}

// applyReady starts finishing a Ready after it was persisted and its
// messages sent: it applies the committed entries into a, the round's
// applier, whose batch the round writes once for all its regions
// (Store.handleReadies) before finishReady.
func (p *peer) applyReady(a *applier, rd raft.Ready) error {
	if rd.SoftState != nil {
		leader := rd.SoftState.RaftState == raft.StateLeader
		if leader && !p.wasLeader {
			p.confBarrier, p.ccInFlight = p.ps.lastIndex(), false
		}
		if p.wasLeader && !leader {
			// Reads not yet confirmed never will be by this replica.
			for id, w := range p.reads {
				if w.ch != nil {
					w.ch <- readResult{regionErr: p.notLeader()}
				}
				delete(p.reads, id)
			}
			p.dropLease()
		}
		p.wasLeader = leader
		p.active = true
	}
	if len(rd.Entries) > 0 || len(rd.CommittedEntries) > 0 || len(rd.ReadStates) > 0 {
		p.active = true
	}
	a.p = p
	return p.applyEntries(a, rd.CommittedEntries)
}

// finishReady finishes a Ready once the round's applied writes are
// written: read states, Advance, the reads now applied.
func (p *peer) finishReady(rd raft.Ready) {
	if p.removed {
		return // the replica is gone; its RawNode with it
	}
	for _, rs := range rd.ReadStates {
		if len(rs.RequestCtx) != 8 {
			continue
		}
		id := binary.BigEndian.Uint64(rs.RequestCtx)
		if w := p.reads[id]; w != nil {
			delete(p.reads, id)
			p.confirmLease(w)
			if w.ch == nil {
				continue // a lease renewal
			}
			w.index = p.readFloor(rs.Index, w.term)
			p.readsApply = append(p.readsApply, w)
		}
	}
	p.rn.Advance(rd)
	p.serveReads()
	if p.isLeader() {
		p.maybeCompactLog()
		p.maybeSplit()
	}
}

// readFloor is the index a read confirmed by raft at index (the commit
// index when it was asked for, in term) must wait to be applied. It is index
// once the leader has committed an entry of its own term: every entry
// committed before is then at or below it. Before that, the commit index a
// leader knows may lag what is committed: etcd raft answers a single voter's
// ReadIndex at once with it, and a restarted single voter's commit index is
// its durable hard state's, older than the durable log whose every entry it
// alone committed (the write whose commit it had not yet recorded was
// acknowledged: a read at index would miss it). The read then waits for the
// log as it stands, which holds the leader's first entry of its term: once
// that is applied, so is everything committed before the read began.
func (p *peer) readFloor(index, term uint64) uint64 {
	if p.ofTerm(index, term) {
		return index
	}
	return max(index, p.ps.lastIndex())
}

// ofTerm reports whether the log's entry at index is of term (false if the
// log no longer or not yet holds it).
func (p *peer) ofTerm(index, term uint64) bool {
	t, err := p.ps.Term(index)
	return err == nil && t == term
}

// serveReads releases the reads whose index has been applied.
func (p *peer) serveReads() {
	applied := p.ps.apply.GetAppliedIndex()
	version := p.region().GetEpoch().GetVersion()
	keep := p.readsApply[:0]
	for _, w := range p.readsApply {
		if w.index > applied {
			keep = append(keep, w)
			continue
		}
		var res readResult
		if w.version != version {
			res.regionErr = p.epochNotMatch()
		} else {
			res.pin = p.store.pin() // the applied state, before the loop goes on
		}
		w.ch <- res
	}
	clear(p.readsApply[len(keep):])
	p.readsApply = keep
}

// failAll answers every waiting request with err.
func (p *peer) failAll(err error) {
	p.failGathered(err)
	for id, pr := range p.proposals {
		pr.ch.send(proposalResult{err: err})
		delete(p.proposals, id)
	}
	for id, w := range p.reads {
		if w.ch != nil {
			w.ch <- readResult{err: err}
		}
		delete(p.reads, id)
	}
	for _, w := range p.readsApply {
		w.ch <- readResult{err: err}
	}
	p.readsApply = nil
}

type snapSent struct{ index, tick uint64 }

// applier gathers the writes of applied entries into batches, each written
// with the apply states that cover it. A round's regions share one (see
// Store.handleReadies), whose batch starts with the round's Raft state
// (log entries, hard states): each region's writes are followed in the
// batch by its apply state (applyEntries ends with it, flush adds it), so
// whenever the batch is written, every region in it has its data and its
// apply state together.
type applier struct {
	s *Store
	p *peer // the region applying now (nil before the first)
	b *strata.Batch
	// sync: the batch holds Raft state that must be synced before the
	// round's messages leave; the first write syncs it (then it is clear).
	sync bool
	// answers wait for the batch to be written.
	answers []delivery
}

// flush writes the batch with the current region's apply state (synced
// only if it still carries the round's Raft state: a lost apply is redone
// at restart from the durable log).
func (a *applier) flush() error {
	p := a.p
	if err := putProto(a.b, applyStateKey(p.regionID), p.ps.apply); err != nil {
		return err
	}
	return a.write()
}

// write writes the batch, if not empty, and answers the proposals it
// applied.
func (a *applier) write() error {
	if a.b.Len() > 0 {
		s := a.s
		if a.sync {
			s.stats.syncs.Add(1)
		}
		if err := s.db.Write(a.b, &strata.WriteOptions{Sync: a.sync}); err != nil {
			if a.p == nil {
				return fmt.Errorf("raftstore: node %d: persisting raft state: %w", s.cfg.NodeID, err)
			}
			return fmt.Errorf("raftstore: node %d: persisting raft state and applying committed entries (region %d up to index %d): %w", s.cfg.NodeID, a.p.regionID, a.p.ps.apply.GetAppliedIndex(), err)
		}
		a.b.Reset()
		a.sync = false
	}
	for _, d := range a.answers {
		d.ch.send(d.res)
	}
	clear(a.answers)
	a.answers = a.answers[:0]
	return nil
}

type delivery struct {
	ch  replier
	res proposalResult
}

// applyEntries applies committed entries in order into a (ending with the
// region's apply state); their proposals are answered once a's batch is
// written.
func (p *peer) applyEntries(a *applier, es []*pb.Entry) error {
	if len(es) == 0 {
		return nil
	}
	var answers []delivery
	for _, e := range es {
		if e.GetIndex() <= p.ps.apply.GetAppliedIndex() {
			continue
		}
		if e.GetTerm() > p.appliedTerm {
			// Entries of older terms that are still pending never committed:
			// a later term's entry is applied, and terms only grow along
			// the log. They did not apply and never will.
			p.appliedTerm = e.GetTerm()
			for id, pr := range p.proposals {
				if pr.term < e.GetTerm() {
					answers = append(answers, delivery{pr.ch, proposalResult{regionErr: &clusterpb.RegionError{
						Message: "stale command: leadership changed before the command committed; it was not applied", StaleCommand: true}}})
					delete(p.proposals, id)
				}
			}
		}
		switch e.GetType() {
		case pb.EntryType_EntryNormal:
			if len(e.GetData()) == 0 {
				break // a new leader's empty entry
			}
			cmd := &clusterpb.RaftCommand{}
			var res proposalResult
			if err := proto.Unmarshal(e.GetData(), cmd); err != nil {
				// Every replica decodes the same bytes the same way.
				p.store.cfg.Logger.Error("raftstore: undecodable command", "region", p.regionID, "index", e.GetIndex(), "err", err)
				break
			}
			var err error
			res, err = p.execute(a, e, cmd)
			if err != nil {
				return err
			}
			if pr := p.proposals[cmd.GetProposalId()]; pr != nil && cmd.GetProposalId() != 0 && pr.term == e.GetTerm() {
				answers = append(answers, delivery{pr.ch, res})
				delete(p.proposals, cmd.GetProposalId())
			}
		case pb.EntryType_EntryConfChange, pb.EntryType_EntryConfChangeV2:
			res, pid, err := p.applyConfChange(a, e)
			if err != nil {
				return err
			}
			if pr := p.proposals[pid]; pr != nil && pid != 0 && pr.term == e.GetTerm() {
				answers = append(answers, delivery{pr.ch, res})
				delete(p.proposals, pid)
			}
		}
		if p.removed {
			break
		}
		p.ps.apply.AppliedIndex = e.GetIndex()
	}
	if p.removed {
		for _, d := range answers {
			d.ch.send(d.res)
		}
		p.failAll(ErrUnknownResult)
		delete(p.store.peers, p.regionID)
		delete(p.store.awake, p.regionID)
		return nil
	}
	a.answers = append(a.answers, answers...)
	return putProto(a.b, applyStateKey(p.regionID), p.ps.apply)
}

func (p *peer) notLeader() *clusterpb.RegionError {
	return &clusterpb.RegionError{Message: fmt.Sprintf("node %d is not the leader of region %d", p.store.cfg.NodeID, p.regionID),
		NotLeader: &clusterpb.NotLeader{RegionId: p.regionID, Leader: p.leaderPeer()}}
}

func (p *peer) epochNotMatch() *clusterpb.RegionError {
	return &clusterpb.RegionError{Message: fmt.Sprintf("region %d's epoch changed", p.regionID),
		EpochNotMatch: &clusterpb.EpochNotMatch{Regions: []*clusterpb.Region{proto.Clone(p.region()).(*clusterpb.Region)}}}
}

func keyNotInRegion(key []byte, r *clusterpb.Region) *clusterpb.RegionError {
	return &clusterpb.RegionError{Message: fmt.Sprintf("key %q is not in region %d", key, r.GetId()),
		KeyNotInRegion: &clusterpb.KeyNotInRegion{Key: key, RegionId: r.GetId(), StartKey: r.GetStartKey(), EndKey: r.GetEndKey()}}
}

// inRegion reports whether key is in r.
func inRegion(key []byte, r *clusterpb.Region) bool {
	return bytes.Compare(key, r.GetStartKey()) >= 0 && (len(r.GetEndKey()) == 0 || bytes.Compare(key, r.GetEndKey()) < 0)
}

// checkMutations checks that every key of a write is in r and within the
// engine's size limits; nil if so.
func checkMutations(r *clusterpb.Region, conds []*clusterpb.Condition, muts []*clusterpb.Mutation, maxKey, maxValue int) *clusterpb.RegionError {
	check := func(k []byte) *clusterpb.RegionError {
		if !inRegion(k, r) {
			return keyNotInRegion(k, r)
		}
		if len(k)+1 > maxKey {
			return &clusterpb.RegionError{Message: fmt.Sprintf("key of %d bytes is over the limit of %d", len(k), maxKey-1)}
		}
		return nil
	}
	for _, c := range conds {
		if e := check(c.GetKey()); e != nil {
			return e
		}
	}
	for _, m := range muts {
		if e := check(m.GetKey()); e != nil {
			return e
		}
		switch m.GetOp() {
		case clusterpb.Mutation_PUT:
			if len(m.GetValue()) > maxValue {
				return &clusterpb.RegionError{Message: fmt.Sprintf("value of %d bytes is over the limit of %d", len(m.GetValue()), maxValue)}
			}
		case clusterpb.Mutation_DELETE:
		case clusterpb.Mutation_DELETE_RANGE:
			// An empty end key means the region's end.
			end := m.GetEndKey()
			if len(end) > 0 && len(r.GetEndKey()) != 0 && bytes.Compare(end, r.GetEndKey()) > 0 {
				return keyNotInRegion(end, r)
			}
			if len(end)+1 > maxKey {
				return &clusterpb.RegionError{Message: fmt.Sprintf("key of %d bytes is over the limit of %d", len(end), maxKey-1)}
			}
		default:
			return &clusterpb.RegionError{Message: fmt.Sprintf("unknown mutation op %d", m.GetOp())}
		}
	}
	return nil
}

// execute applies one command; the error is a failure to write (fatal).
func (p *peer) execute(a *applier, e *pb.Entry, cmd *clusterpb.RaftCommand) (proposalResult, error) {
	r := p.region()
	if cmd.GetRegionId() != p.regionID {
		return proposalResult{regionErr: &clusterpb.RegionError{Message: "command for another region", RegionNotFound: true}}, nil
	}
	if adm := cmd.GetAdmin(); adm != nil {
		switch {
		case adm.GetSplit() != nil:
			return p.execSplit(a, e, cmd)
		case adm.GetCompactLog() != nil:
			return p.execCompactLog(a, e, adm.GetCompactLog())
		}
		return proposalResult{regionErr: &clusterpb.RegionError{Message: "admin command not supported"}}, nil
	}
	if cmd.GetEpoch().GetVersion() != r.GetEpoch().GetVersion() {
		return proposalResult{regionErr: p.epochNotMatch()}, nil
	}
	o := p.store.dbOpts
	if rerr := checkMutations(r, cmd.GetConditions(), cmd.GetMutations(), o.MaxKeySize, o.MaxValueSize); rerr != nil {
		return proposalResult{regionErr: rerr}, nil
	}
	if len(cmd.GetConditions()) > 0 {
		// Conditions read the data as of the previous entry.
		if a.b.Len() > 0 {
			if err := a.flush(); err != nil {
				return proposalResult{}, err
			}
		}
		for i, c := range cmd.GetConditions() {
			v, err := p.store.db.Get(dataKey(c.GetKey()))
			exists := true
			if errors.Is(err, strata.ErrNotFound) {
				exists, err = false, nil
			}
			if err != nil {
				return proposalResult{}, fmt.Errorf("raftstore: node %d: region %d: reading key %q for a condition: %w", p.store.cfg.NodeID, p.regionID, c.GetKey(), err)
			}
			if exists != c.GetExists() || (exists && !bytes.Equal(v, c.GetValue())) {
				return proposalResult{write: &clusterpb.WriteResponse{FailedCondition: int32(i), CurrentValue: v, CurrentExists: exists}}, nil
			}
		}
	}
	for _, m := range cmd.GetMutations() {
		switch m.GetOp() {
		case clusterpb.Mutation_PUT:
			a.b.Put(dataKey(m.GetKey()), m.GetValue())
			p.approxBytes += uint64(len(m.GetKey()) + len(m.GetValue()))
		case clusterpb.Mutation_DELETE:
			a.b.Delete(dataKey(m.GetKey()))
		case clusterpb.Mutation_DELETE_RANGE:
			end := m.GetEndKey()
			if len(end) == 0 {
				end = r.GetEndKey()
			}
			a.b.DeleteRange(dataKey(m.GetKey()), dataEnd(end))
		}
	}
	return proposalResult{write: &clusterpb.WriteResponse{Succeeded: true}}, nil
}

// execSplit applies a split: this region keeps [start, split_key), a new
// region takes [split_key, end) with the same nodes and the new peer ids,
// and both get the next epoch version. Every replica does this at the same
// log index; the right side's replica on this store starts at once (on the
// leader's store it campaigns at once).
func (p *peer) execSplit(a *applier, e *pb.Entry, cmd *clusterpb.RaftCommand) (proposalResult, error) {
	s := p.store
	r := p.region()
	req := cmd.GetAdmin().GetSplit()
	if cmd.GetEpoch().GetVersion() != r.GetEpoch().GetVersion() {
		return proposalResult{regionErr: p.epochNotMatch()}, nil
	}
	key := req.GetSplitKey()
	if len(key) == 0 || bytes.Compare(key, r.GetStartKey()) <= 0 || (len(r.GetEndKey()) > 0 && bytes.Compare(key, r.GetEndKey()) >= 0) {
		return proposalResult{regionErr: &clusterpb.RegionError{Message: fmt.Sprintf("split key %q is not inside region %d", key, r.GetId())}}, nil
	}
	if isJoint(r) {
		return proposalResult{regionErr: &clusterpb.RegionError{Message: fmt.Sprintf("split of region %d refused: a membership change (joint configuration) is under way, retry", r.GetId()), ServerBusy: true}}, nil
	}
	if req.GetNewRegionId() == 0 || len(req.GetNewPeerIds()) != len(r.GetPeers()) {
		return proposalResult{regionErr: &clusterpb.RegionError{Message: "split: new region id missing or wrong number of new peer ids"}}, nil
	}
	left := proto.Clone(r).(*clusterpb.Region)
	left.EndKey = bytes.Clone(key)
	left.Epoch.Version++
	right := &clusterpb.Region{Id: req.GetNewRegionId(), StartKey: bytes.Clone(key), EndKey: bytes.Clone(r.GetEndKey()),
		Epoch: &clusterpb.RegionEpoch{ConfVer: r.GetEpoch().GetConfVer(), Version: left.GetEpoch().GetVersion()}}
	var myNewID uint64
	for i, q := range r.GetPeers() {
		np := &clusterpb.Peer{Id: req.GetNewPeerIds()[i], NodeId: q.GetNodeId(), Role: q.GetRole()}
		right.Peers = append(right.Peers, np)
		if q.GetId() == p.peerID {
			myNewID = np.GetId()
		}
	}
	if err := putProto(a.b, regionStateKey(p.regionID), &clusterpb.RegionLocalState{State: clusterpb.RegionLocalState_NORMAL, Region: left, PeerId: p.peerID}); err != nil {
		return proposalResult{}, err
	}
	existing := s.peers[right.GetId()]
	if existing == nil && myNewID != 0 {
		if err := writeInitialState(a.b, right); err != nil {
			return proposalResult{}, err
		}
	}
	p.ps.apply.AppliedIndex = e.GetIndex()
	if err := a.flush(); err != nil {
		return proposalResult{}, err
	}
	p.ps.region = left
	p.snapCache = nil
	p.approxBytes /= 2
	s.stats.splits.Add(1)
	if existing == nil && myNewID != 0 {
		ps, err := loadPeerStorage(s.db, right)
		if err != nil {
			return proposalResult{}, err
		}
		np, err := s.addPeer(ps, myNewID)
		if err != nil {
			return proposalResult{}, err
		}
		np.approxBytes = p.approxBytes
		if p.isLeader() {
			_ = np.rn.Campaign()
		}
		s.replayEarly(right.GetId())
	}
	return proposalResult{regions: []*clusterpb.Region{proto.Clone(left).(*clusterpb.Region), proto.Clone(right).(*clusterpb.Region)}}, nil
}

// execCompactLog truncates the log up to and including the index the
// leader chose (at most what this replica has applied).
func (p *peer) execCompactLog(a *applier, e *pb.Entry, req *clusterpb.CompactLogRequest) (proposalResult, error) {
	idx := req.GetCompactIndex()
	if idx <= p.ps.truncated() || idx >= e.GetIndex() {
		return proposalResult{}, nil
	}
	term, err := p.ps.Term(idx)
	if err != nil || term != req.GetCompactTerm() {
		return proposalResult{}, nil
	}
	a.b.DeleteRange(logRangeStart(p.regionID), raftLogKey(p.regionID, idx+1))
	p.ps.compact(idx, term)
	p.store.stats.compactions.Add(1)
	return proposalResult{}, nil
}

// maybeCompactLog has a leader propose a log truncation once its log holds
// LogGCThreshold applied entries: up to what every follower has, or, when
// a follower is more than twice that far behind, up to what is applied
// (that follower then gets a snapshot); never past a snapshot sent in the
// last ten election timeouts, which its follower will continue from.
func (p *peer) maybeCompactLog() {
	th := p.store.cfg.LogGCThreshold
	applied := p.ps.apply.GetAppliedIndex()
	trunc := p.ps.truncated()
	if applied < trunc+th {
		return
	}
	idx, spare := applied, applied
	now, window := p.store.ticks, uint64(10*p.store.cfg.ElectionTicks)
	p.rn.WithProgress(func(id uint64, _ raft.ProgressType, pr tracker.Progress) {
		if id == p.peerID {
			return
		}
		if ss, ok := p.snapSent[id]; ok && now-ss.tick < window && ss.index > pr.Match {
			spare = min(spare, ss.index) // being caught up by that snapshot
			return
		}
		idx = min(idx, pr.Match)
	})
	if idx+2*th < applied {
		idx = applied
	}
	idx = min(idx, spare)
	if idx <= trunc || idx <= p.lastCompactProposed {
		return
	}
	term, err := p.ps.Term(idx)
	if err != nil {
		return
	}
	cmd := &clusterpb.RaftCommand{RegionId: p.regionID, Epoch: p.region().GetEpoch(),
		Admin: &clusterpb.AdminRequest{Cmd: &clusterpb.AdminRequest_CompactLog{CompactLog: &clusterpb.CompactLogRequest{CompactIndex: idx, CompactTerm: term}}}}
	data, err := proto.Marshal(cmd)
	if err != nil {
		return
	}
	if p.rn.Propose(data) == nil {
		p.lastCompactProposed = idx
	}
}

// saneMessage refuses (false) or repairs a message from the network that
// etcd raft, which trusts its peers, would panic on: it is the last guard
// against a buggy or hostile node. No correct leader sends what it refuses.
func (p *peer) saneMessage(m *pb.Message) bool {
	if m.GetTerm() == 0 {
		return false // only local messages have no term
	}
	switch m.GetType() {
	case pb.MessageType_MsgHeartbeat:
		// A commit index beyond the log: raft panics. Telling a follower
		// less is always safe.
		if last := p.ps.lastIndex(); m.GetCommit() > last {
			m.Commit = proto.Uint64(last)
		}
	case pb.MessageType_MsgApp:
		prev := m.GetLogTerm()
		var commit uint64
		for i, e := range m.GetEntries() {
			if e.GetTerm() < prev || e.GetTerm() > m.GetTerm() {
				return false // terms go down along the log, or beyond the sender's
			}
			prev = e.GetTerm()
			if i == 0 {
				commit = p.rn.BasicStatus().HardState.GetCommit()
			}
			if e.GetIndex() <= commit {
				// Raft panics on a conflict with a committed entry.
				if t, err := p.ps.Term(e.GetIndex()); err == nil && t != e.GetTerm() {
					return false
				}
			}
		}
	}
	return true
}

// pendingLag is how far behind the leader's commit index a peer's log may
// be and still count as caught up (replication is never instantaneous).
const pendingLag = 64

// pendingPeers returns, on the leader, the peers being sent a snapshot or
// whose match index is more than pendingLag below the commit index (nil
// elsewhere).
func (p *peer) pendingPeers() []uint64 {
	if !p.isLeader() {
		return nil
	}
	commit := p.rn.BasicStatus().HardState.GetCommit()
	var out []uint64
	p.rn.WithProgress(func(id uint64, _ raft.ProgressType, pr tracker.Progress) {
		if id != p.peerID && (pr.Match+pendingLag < commit || pr.State == tracker.StateSnapshot || pr.Match == 0) {
			out = append(out, id)
		}
	})
	slices.Sort(out)
	return out
}

// countSilence, on the leader before each tick, counts for each peer the
// ticks since raft last had it recently active. Raft's Progress.RecentActive
// alone would not do: CheckQuorum clears it for every peer each election
// timeout, and a new leader starts with it clear, so a live peer reads
// inactive until its next answer.
func (p *peer) countSilence() {
	if !p.isLeader() {
		p.silentTicks, p.awakeTicks = nil, 0
		return
	}
	p.awakeTicks++
	if p.silentTicks == nil {
		p.silentTicks = map[uint64]int{}
	}
	p.rn.WithProgress(func(id uint64, _ raft.ProgressType, pr tracker.Progress) {
		if id == p.peerID || pr.RecentActive {
			p.silentTicks[id] = 0
		} else {
			p.silentTicks[id]++
		}
	})
}

// downPeers returns, on the leader, the peers raft has not had recently
// active for two election timeouts of its ticks (nil elsewhere). A
// hibernating leader does not tick, so its answer is as of when it went to
// sleep.
func (p *peer) downPeers() []uint64 {
	if !p.isLeader() {
		return nil
	}
	var out []uint64
	for id, n := range p.silentTicks {
		if n >= 2*p.store.cfg.ElectionTicks && p.findPeerInRegion(id) != nil {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}
