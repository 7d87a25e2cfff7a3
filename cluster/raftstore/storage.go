package raftstore

import (
	"errors"
	"fmt"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/strata-db/strata"
	"github.com/strata-db/strata/cluster/clusterpb"
)

// Raft's first index of a region created by bootstrap or by a split (TiKV's
// RAFT_INIT_LOG_INDEX): such a replica starts with its log truncated at
// index 5, term 5, so that a replica created empty by a message (index 0)
// is always behind it and is caught up by a snapshot.
const (
	initLogIndex = 5
	initLogTerm  = 5
)

// peerStorage is one replica's raft.Storage: its hard state, apply state and
// log, kept in the node's database (layout in keys.go) with the whole
// untruncated log cached in memory (log truncation keeps it short). It is
// used only by the store's loop goroutine.
type peerStorage struct {
	regionID uint64
	db       *strata.DB
	hard     *pb.HardState
	apply    *clusterpb.RaftApplyState
	// entries are the log entries truncated+1 ... last, in order.
	entries []*pb.Entry
	// region is the replica's region descriptor, which gives raft its
	// configuration.
	region *clusterpb.Region
	// snapshot builds a snapshot of the replica's applied state.
	snapshot func() (*pb.Snapshot, error)
}

var _ raft.Storage = (*peerStorage)(nil)

// confState is the Raft configuration of region (a joint one while some
// peer is INCOMING_VOTER, DEMOTING_VOTER or REMOVING_VOTER: see
// confchange.go; ours are always left automatically).
func confState(region *clusterpb.Region) *pb.ConfState {
	cs := &pb.ConfState{}
	joint := isJoint(region)
	for _, p := range region.GetPeers() {
		switch p.GetRole() {
		case clusterpb.PeerRole_LEARNER:
			cs.Learners = append(cs.Learners, p.GetId())
		case clusterpb.PeerRole_INCOMING_VOTER:
			cs.Voters = append(cs.Voters, p.GetId())
		case clusterpb.PeerRole_DEMOTING_VOTER:
			cs.VotersOutgoing = append(cs.VotersOutgoing, p.GetId())
			cs.LearnersNext = append(cs.LearnersNext, p.GetId())
		case clusterpb.PeerRole_REMOVING_VOTER:
			cs.VotersOutgoing = append(cs.VotersOutgoing, p.GetId())
		default:
			cs.Voters = append(cs.Voters, p.GetId())
			if joint {
				cs.VotersOutgoing = append(cs.VotersOutgoing, p.GetId())
			}
		}
	}
	if joint {
		cs.AutoLeave = proto.Bool(true)
	}
	return cs
}

// InitialState implements raft.Storage.
func (ps *peerStorage) InitialState() (*pb.HardState, *pb.ConfState, error) {
	if ps.region == nil || len(ps.region.GetPeers()) == 0 || ps.apply.GetAppliedIndex() == 0 {
		// An uninitialized replica: it waits for a snapshot.
		return proto.Clone(ps.hard).(*pb.HardState), &pb.ConfState{}, nil
	}
	return proto.Clone(ps.hard).(*pb.HardState), confState(ps.region), nil
}

func (ps *peerStorage) truncated() uint64 { return ps.apply.GetTruncatedIndex() }

// FirstIndex implements raft.Storage.
func (ps *peerStorage) FirstIndex() (uint64, error) { return ps.truncated() + 1, nil }

// LastIndex implements raft.Storage.
func (ps *peerStorage) LastIndex() (uint64, error) { return ps.lastIndex(), nil }

func (ps *peerStorage) lastIndex() uint64 { return ps.truncated() + uint64(len(ps.entries)) }

// Term implements raft.Storage.
func (ps *peerStorage) Term(i uint64) (uint64, error) {
	t := ps.truncated()
	switch {
	case i == t:
		return ps.apply.GetTruncatedTerm(), nil
	case i < t:
		return 0, raft.ErrCompacted
	case i > ps.lastIndex():
		return 0, raft.ErrUnavailable
	}
	return ps.entries[i-t-1].GetTerm(), nil
}

// Entries implements raft.Storage.
func (ps *peerStorage) Entries(lo, hi, maxSize uint64) ([]*pb.Entry, error) {
	t := ps.truncated()
	if lo <= t {
		return nil, raft.ErrCompacted
	}
	if hi > ps.lastIndex()+1 || lo > hi {
		return nil, raft.ErrUnavailable
	}
	out := make([]*pb.Entry, 0, hi-lo)
	var size uint64
	for i := lo; i < hi; i++ {
		e := ps.entries[i-t-1]
		size += uint64(proto.Size(e))
		if len(out) > 0 && size > maxSize {
			break
		}
		out = append(out, e)
	}
	return out, nil
}

// Snapshot implements raft.Storage.
func (ps *peerStorage) Snapshot() (*pb.Snapshot, error) {
	if ps.snapshot == nil {
		return nil, raft.ErrSnapshotTemporarilyUnavailable
	}
	return ps.snapshot()
}

// append adds entries (which may overwrite a suffix of the log) to batch
// and, once the batch is written, to the cache (see commitAppend).
func (ps *peerStorage) append(b *strata.Batch, es []*pb.Entry) error {
	if len(es) == 0 {
		return nil
	}
	first := es[0].GetIndex()
	if first <= ps.truncated() {
		return fmt.Errorf("raftstore: region %d: appending entries from index %d, at or below the truncated index %d", ps.regionID, first, ps.truncated())
	}
	if first > ps.lastIndex()+1 {
		return fmt.Errorf("raftstore: region %d: appending entries from index %d leaves a gap after the last index %d", ps.regionID, first, ps.lastIndex())
	}
	for _, e := range es {
		data, err := proto.Marshal(e)
		if err != nil {
			return fmt.Errorf("raftstore: region %d: encoding entry %d: %w", ps.regionID, e.GetIndex(), err)
		}
		b.Put(raftLogKey(ps.regionID, e.GetIndex()), data)
	}
	newLast := es[len(es)-1].GetIndex()
	if newLast < ps.lastIndex() {
		// The tail beyond the new entries is gone (a new leader overwrote it).
		b.DeleteRange(raftLogKey(ps.regionID, newLast+1), logRangeEnd(ps.regionID))
	}
	return nil
}

// commitAppend puts appended entries into the cache after their batch is
// written.
func (ps *peerStorage) commitAppend(es []*pb.Entry) {
	if len(es) == 0 {
		return
	}
	keep := es[0].GetIndex() - ps.truncated() - 1
	// In place: no slice of the cache leaves peerStorage (Entries copies),
	// so appending costs the new entries, not the whole cached log.
	old := ps.entries
	ps.entries = append(ps.entries[:keep], es...)
	if n := len(ps.entries); n < len(old) {
		clear(old[n:]) // an overwritten longer tail: let its entries go
	}
}

// setHardState adds hs to batch.
func (ps *peerStorage) setHardState(b *strata.Batch, hs *pb.HardState) error {
	data, err := proto.Marshal(hs)
	if err != nil {
		return fmt.Errorf("raftstore: region %d: encoding hard state: %w", ps.regionID, err)
	}
	b.Put(hardStateKey(ps.regionID), data)
	return nil
}

// compact drops the cached entries up to and including index, after the
// batch recording the truncation is written.
func (ps *peerStorage) compact(index, term uint64) {
	t := ps.truncated()
	if index <= t {
		return
	}
	drop := min(index-t, uint64(len(ps.entries)))
	ps.entries = append([]*pb.Entry(nil), ps.entries[drop:]...)
	ps.apply.TruncatedIndex = index
	ps.apply.TruncatedTerm = term
}

// putProto adds m under key to batch.
func putProto(b *strata.Batch, key []byte, m proto.Message) error {
	data, err := proto.Marshal(m)
	if err != nil {
		return fmt.Errorf("raftstore: encoding %T: %w", m, err)
	}
	b.Put(key, data)
	return nil
}

// getProto reads key into m; found reports whether the key exists.
func getProto(db *strata.DB, key []byte, m proto.Message) (found bool, err error) {
	v, err := db.Get(key)
	if errors.Is(err, strata.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := proto.Unmarshal(v, m); err != nil {
		return false, fmt.Errorf("raftstore: decoding %T at key %x: %w", m, key, err)
	}
	return true, nil
}

// loadPeerStorage reads a replica's state and log from db.
func loadPeerStorage(db *strata.DB, region *clusterpb.Region) (*peerStorage, error) {
	id := region.GetId()
	ps := &peerStorage{regionID: id, db: db, hard: &pb.HardState{}, apply: &clusterpb.RaftApplyState{}, region: region}
	if _, err := getProto(db, hardStateKey(id), ps.hard); err != nil {
		return nil, err
	}
	if _, err := getProto(db, applyStateKey(id), ps.apply); err != nil {
		return nil, err
	}
	it := db.NewIterator(&strata.IterOptions{LowerBound: raftLogKey(id, ps.truncated()+1), UpperBound: logRangeEnd(id)})
	next := ps.truncated() + 1
	for ok := it.First(); ok; ok = it.Next() {
		e := &pb.Entry{}
		if err := proto.Unmarshal(it.Value(), e); err != nil {
			it.Close()
			return nil, fmt.Errorf("raftstore: region %d: decoding log entry at key %x: %w", id, it.Key(), err)
		}
		if e.GetIndex() != next {
			it.Close()
			return nil, fmt.Errorf("raftstore: region %d: log entry %d found where %d was expected (hole in the log)", id, e.GetIndex(), next)
		}
		ps.entries = append(ps.entries, e)
		next++
	}
	if err := it.Close(); err != nil {
		return nil, fmt.Errorf("raftstore: region %d: reading the log: %w", id, err)
	}
	// A snapshot is ingested before the hard state naming its index is
	// written: after a crash between the two the commit index may lag the
	// snapshot, which was committed.
	if ps.hard.GetCommit() < ps.truncated() {
		ps.hard.Commit = proto.Uint64(ps.truncated())
	}
	if ps.apply.GetAppliedIndex() > ps.hard.GetCommit() {
		return nil, fmt.Errorf("raftstore: region %d: applied index %d is beyond the commit index %d", id, ps.apply.GetAppliedIndex(), ps.hard.GetCommit())
	}
	if ps.hard.GetCommit() > ps.lastIndex() {
		return nil, fmt.Errorf("raftstore: region %d: commit index %d is beyond the last log index %d", id, ps.hard.GetCommit(), ps.lastIndex())
	}
	return ps, nil
}

// writeInitialState adds to batch the state of a replica of region that
// starts at initLogIndex (bootstrap, or the right side of a split).
func writeInitialState(b *strata.Batch, region *clusterpb.Region) error {
	id := region.GetId()
	if err := putProto(b, hardStateKey(id), &pb.HardState{Term: proto.Uint64(initLogTerm), Commit: proto.Uint64(initLogIndex)}); err != nil {
		return err
	}
	if err := putProto(b, applyStateKey(id), &clusterpb.RaftApplyState{AppliedIndex: initLogIndex, TruncatedIndex: initLogIndex, TruncatedTerm: initLogTerm}); err != nil {
		return err
	}
	return putProto(b, regionStateKey(id), &clusterpb.RegionLocalState{State: clusterpb.RegionLocalState_NORMAL, Region: region})
}
