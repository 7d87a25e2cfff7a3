package raftstore

import (
	"encoding/binary"
	"time"

	"go.etcd.io/raft/v3"
)

// Lease reads.
//
// With Config.LeaseReads, a leader serves a read of mode LEASE without a
// ReadIndex round while it holds a lease: it reads once it has applied its
// commit index as of the read's arrival (a lease exists only after a
// ReadIndex was confirmed in the leader's term, which raft does only once
// the leader has committed an entry of that term, so that commit index
// covers every write acknowledged before).
//
// Why it is sound. The store sets raft's CheckQuorum (and PreVote): a
// follower that heard from its leader less than an election timeout ago
// (ElectionTicks of its own ticks) refuses to vote for anyone else. When
// a quorum acknowledged a ReadIndex heartbeat round that the leader SENT
// at time t (the lease is taken from when it was asked for, which is
// before), every quorum that could elect a new leader contains a member
// that heard from this one at or after t, and will not vote before its
// election timeout has run from then. A tick can come early after a late
// one (Go's ticker keeps one tick buffered), so ElectionTicks ticks take at
// least (ElectionTicks-1) tick intervals; the lease therefore ends at
//
//	t + (ElectionTicks-1)*TickInterval - LeaseClockDrift
//
// on the leader's monotonic clock: lease reads are linearizable only if
// the nodes' clocks do not drift apart by more than LeaseClockDrift over
// that time (rates, not wall-clock offsets: every time is measured on one
// node's monotonic clock). A hibernating follower does not tick at all,
// which only delays it.
//
// What ends a lease at once (dropLease): a term change or stepping down
// (the lease records its term); a leadership transfer (raft's MsgTimeoutNow
// makes the target campaign with a forced vote that ignores the followers'
// leases, so the old leader stops serving as soon as a transfer starts:
// Store.TransferLeader, a follower's MsgTransferLeader, a joint change
// that removes the leader); any applied membership change (the quorums
// change). Confirmations asked for before such an event never renew it
// (leaseGen). A replica that restarts forgets the leader it heard from, so
// a restarted store ignores vote requests for an election timeout
// (noVoteTicks): raft sees them as lost messages.
//
// Renewal: every confirmed ReadIndex (linearizable reads, and lease reads
// that found no lease) renews the lease; a lease read served when less
// than half the lease is left asks for one more ReadIndex in the
// background (renewID), so a steady stream of lease reads never waits
// for a round trip.
//
// Why not raft's ReadOnlyLeaseBased: it is an option of the whole RawNode
// (every ReadIndex of the region becomes lease-based, so LINEARIZABLE and
// LEASE could not be mixed per request), its lease is raft's CheckQuorum
// bookkeeping with no clock-drift margin, and it is not ended by a
// leadership transfer; a lease in the store, renewed from confirmations
// the store asks for anyway, states its bounds in one place.

// leaseDuration is how long a lease lasts from the moment its quorum round
// was asked for.
func (c Config) leaseDuration() time.Duration {
	return time.Duration(c.ElectionTicks-1)*c.TickInterval - c.LeaseClockDrift
}

// readIndex asks raft to confirm leadership for w (loop goroutine); a
// confirmation also renews the lease.
func (p *peer) readIndex(w *readWaiter) uint64 {
	id := p.store.newProposalID()
	w.issued, w.term, w.leaseGen = time.Now(), p.rn.BasicStatus().HardState.GetTerm(), p.leaseGen
	p.reads[id] = w
	p.rn.ReadIndex(binary.BigEndian.AppendUint64(nil, id))
	return id
}

// leaseRead serves w under the lease if the leader holds one: it waits for
// the commit index as of now to be applied. false: no lease (use
// readIndex).
func (p *peer) leaseRead(w *readWaiter) bool {
	st := p.rn.BasicStatus()
	now := time.Now()
	if st.RaftState != raft.StateLeader || st.LeadTransferee != 0 || st.HardState.GetTerm() != p.leaseTerm || !now.Before(p.leaseUntil) {
		if st.LeadTransferee != 0 {
			p.dropLease()
		}
		return false
	}
	if !p.ofTerm(st.HardState.GetCommit(), st.HardState.GetTerm()) {
		return false // no entry of this term committed yet: see readFloor
	}
	w.index = st.HardState.GetCommit()
	p.readsApply = append(p.readsApply, w)
	p.serveReads()
	if p.leaseUntil.Sub(now) < p.store.cfg.leaseDuration()/2 && p.reads[p.renewID] == nil {
		p.renewID = p.readIndex(&readWaiter{})
	}
	return true
}

// confirmLease renews the lease from a confirmed ReadIndex.
func (p *peer) confirmLease(w *readWaiter) {
	if !p.store.cfg.LeaseReads || w.leaseGen != p.leaseGen {
		return
	}
	st := p.rn.BasicStatus()
	if st.RaftState != raft.StateLeader || st.LeadTransferee != 0 || st.HardState.GetTerm() != w.term {
		return
	}
	until := w.issued.Add(p.store.cfg.leaseDuration())
	if p.leaseTerm != w.term || until.After(p.leaseUntil) {
		p.leaseTerm, p.leaseUntil = w.term, until
	}
}

// dropLease ends the lease, and the renewals asked for before.
func (p *peer) dropLease() {
	p.leaseUntil = time.Time{}
	p.leaseGen++
}
