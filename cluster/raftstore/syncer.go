package raftstore

import (
	"fmt"

	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/strata-db/strata/cluster/clusterpb"
)

// Pipelined syncs.
//
// A round's write (the Raft state of every region in it and what they
// applied, one batch) goes into the database at once, unsynced, and the
// loop goes on to the next round while a goroutine of its own (the syncer)
// makes it durable with one fsync; writes of several rounds made meanwhile
// share the next fsync. What must not happen before the write is durable
// waits for the syncer's report:
//
//   - the messages that promise this node's disk (Raft's acknowledgement
//     of an append, MsgAppResp, and votes: sendsEarly is false for them)
//     are kept until the sync that covers their round (pendingSend);
//   - a leader counts its own log towards a commit as soon as it appends
//     (etcd raft's rule without AsyncStorageWrites, which assumes the
//     append is durable before the next round), so a follower's
//     acknowledgement of index i that reaches a leader whose own entries
//     up to i are not all durable yet is stepped into Raft only once they
//     are (heldAck; peer.appendSeqs says which round wrote what): an entry
//     then commits only when a majority holds it on disk, the leader
//     included if it is counted. (Commit is the index a majority's
//     matches reach; whichever follower's acknowledgement put it there,
//     the leader's entries up to it were durable when it was stepped.)
//
// Everything else goes on at once, because it depends only on what is
// committed: the data of committed entries is applied into the round's
// batch and visible (reads and conditions see it, snapshots for other
// replicas include it) and their proposals are answered after the write
// that applied them, before it is synced. A crash may lose the unsynced
// tail of the database's log — those rounds' entries, hard states and
// applies together, since one batch holds a round and a sync covers every
// write before it — and the node restarts from an earlier, consistent
// state; what it applied and answered was committed, so a majority still
// holds it.
//
// A round that changes a region's term or vote, installs a snapshot,
// applies a configuration change or drives a region whose leader would
// commit alone (one voter: no acknowledgement to hold) is written synced
// in the loop, as before this scheme (Raft requires the term and vote on
// disk before any message of the round leaves; a snapshot's files are
// ingested only after the writes before them are durable); that sync
// covers every round before it. A configuration change applied in an
// unsynced round could be lost with the round in a power cut, the commit
// index with it: the node would come back with the configuration before
// the change and keep it until a leader told it the commit again (Raft's
// log still holds the entry, so it is applied again then). Synced, a
// restarted node is at once in the configuration it had applied
// (TestJointRestart checks that after cutting the power of a region held
// joint).
//
// Measured (bench cluster, put, 64 clients, docs/cluster.md): in the loop,
// a node spent 1.2 s of every 2 s in fsync; pipelined, the three-node
// cluster put 13% more per second (medians of 5 interleaved runs). With
// syncs switched off altogether it put twice as many: most of what is
// left is the fsyncs' latency on a put's path (the leader's and a
// follower's, in parallel), not the loop's time.

// pendingSend is a round's messages that wait for its sync.
type pendingSend struct {
	seq  uint64
	msgs []*clusterpb.RaftMessage
}

// heldAck is an acknowledgement of an append (MsgAppResp) that reached a
// leader while its writes up to round seq were not all durable.
type heldAck struct {
	seq uint64
	p   *peer
	m   *pb.Message
}

// startSyncer starts the goroutine that syncs the database for pipelined
// rounds. It stops when the loop closes s.syncWake.
func (s *Store) startSyncer() {
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		for range s.syncWake {
			want := s.syncWant.Load()
			if want <= s.syncDone.Load() {
				continue
			}
			if testHookBeforeSync != nil {
				testHookBeforeSync(s.cfg.NodeID)
			}
			// The writes of rounds up to want were made before want was
			// published: a sync that starts now covers them. SyncWAL,
			// not a synced Write: the loop's next writes go on meanwhile
			// rather than queue behind the fsync.
			err := s.db.SyncWAL()
			if err != nil {
				s.syncErr.CompareAndSwap(nil, &err)
			} else {
				s.stats.syncs.Add(1)
				s.syncDone.Store(want)
			}
			select {
			case s.syncNote <- struct{}{}:
			default:
			}
		}
	}()
}

// testHookBeforeSync, if set (tests), runs in a store's syncer before
// each sync (it may block, holding the sync back).
var testHookBeforeSync func(node uint64)

// askSync has the syncer make the rounds written so far durable (loop).
func (s *Store) askSync() {
	s.syncWant.Store(s.writeSeq)
	select {
	case s.syncWake <- struct{}{}:
	default: // the syncer has a wake-up pending: it reads syncWant then
	}
}

// synced takes in the syncer's report (loop).
func (s *Store) synced() error {
	if p := s.syncErr.Load(); p != nil {
		return fmt.Errorf("raftstore: node %d: syncing the database: %w", s.cfg.NodeID, *p)
	}
	s.syncedSeq = max(s.syncedSeq, s.syncDone.Load())
	return nil
}

// syncNow makes every write so far durable from the loop itself, without
// waiting for the syncer (before a snapshot is installed).
func (s *Store) syncNow() error {
	if s.syncedSeq == s.writeSeq {
		return nil
	}
	if err := s.db.SyncWAL(); err != nil {
		return fmt.Errorf("raftstore: node %d: syncing the database: %w", s.cfg.NodeID, err)
	}
	s.stats.syncs.Add(1)
	s.syncedSeq = s.writeSeq
	return nil
}

// appendSeq is a round written for the syncer that appended entries from
// index first to p's log.
type appendSeq struct{ first, seq uint64 }

// holdAck reports whether m, stepped into p now, must wait for a sync
// (see heldAck), and if so keeps it (loop).
func (s *Store) holdAck(p *peer, m *pb.Message) bool {
	if m.GetType() != pb.MessageType_MsgAppResp || m.GetReject() || s.syncedSeq >= s.writeSeq {
		return false
	}
	need := p.unsyncedBelow(m.GetIndex(), s.syncedSeq)
	if need <= s.syncedSeq {
		return false
	}
	s.heldAcks = append(s.heldAcks, heldAck{seq: need, p: p, m: m})
	return true
}

// forgetSynced drops the rounds up to synced from p.appendSeqs.
func (p *peer) forgetSynced(synced uint64) {
	k := 0
	for k < len(p.appendSeqs) && p.appendSeqs[k].seq <= synced {
		k++
	}
	if k > 0 {
		p.appendSeqs = append(p.appendSeqs[:0], p.appendSeqs[k:]...)
	}
}

// unsyncedBelow returns the last round not yet durable (after synced)
// that wrote entries at or below index to p's log, or synced if none did.
func (p *peer) unsyncedBelow(index, synced uint64) uint64 {
	p.forgetSynced(synced)
	need := synced
	for _, a := range p.appendSeqs {
		if a.first <= index {
			need = a.seq
		}
	}
	return need
}

// releaseSynced sends the messages and steps the acknowledgements that
// were waiting for syncs now done (loop, between rounds).
func (s *Store) releaseSynced() {
	s.sendSynced()
	if len(s.heldAcks) == 0 {
		return
	}
	keep := s.heldAcks[:0]
	for _, h := range s.heldAcks {
		if h.seq > s.syncedSeq {
			keep = append(keep, h)
			continue
		}
		if s.peers[h.p.regionID] != h.p || h.p.removed {
			continue
		}
		s.wake(h.p)
		if err := h.p.rn.Step(h.m); err != nil {
			s.cfg.Logger.Debug("raftstore: step", "region", h.p.regionID, "err", err)
		}
	}
	clear(s.heldAcks[len(keep):])
	s.heldAcks = keep
}

// sendSynced sends the messages that were waiting for syncs now done
// (loop).
func (s *Store) sendSynced() {
	n := 0
	var out []*clusterpb.RaftMessage
	for _, ps := range s.pendingSends {
		if ps.seq > s.syncedSeq {
			break
		}
		out = append(out, ps.msgs...)
		n++
	}
	if n > 0 {
		clear(s.pendingSends[:n])
		s.pendingSends = s.pendingSends[n:]
		if len(out) > 0 {
			s.cfg.Transport.Send(out)
		}
	}
}

// soleVoter reports whether p's region has at most one voter: its leader
// commits without any acknowledgement, so its rounds are synced in the
// loop.
func (p *peer) soleVoter() bool {
	n := 0
	for _, q := range p.region().GetPeers() {
		if q.GetRole() != clusterpb.PeerRole_LEARNER {
			n++
		}
	}
	return n <= 1
}
