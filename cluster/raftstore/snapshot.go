package raftstore

import (
	"bytes"
	"errors"
	"fmt"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/strata-db/strata"
	"github.com/strata-db/strata/cluster/clusterpb"
)

// Region snapshots.
//
// A snapshot is a raftpb.Snapshot whose data is a clusterpb.SnapshotMeta:
// the region descriptor as of the snapshot's index and the region's user
// data as key/value pairs, inline (protocol buffers). The leader builds it,
// outside its loop, from a database snapshot taken when raft asks (see
// generateSnapshot) and keeps it while it stays usable.
//
// The receiver validates it when the message arrives (Store.Step: decodes,
// keys inside the region, strictly increasing), then installs it in one
// atomic DB.Ingest of two tables written with strata.TableWriter:
//
//	local table: range tombstone over the region's whole raft log
//	             [logRangeStart, logRangeEnd), the apply state
//	             (applied = truncated = snapshot index, truncated term =
//	             snapshot term) and the region local state (descriptor)
//	data table:  range tombstone over the region's data range
//	             ['z'+start, 'z'+end), then every pair under 'z'+key
//
// Ingestion makes both durable before the Ready's entries and hard state
// are written; a crash in between leaves a hard state whose commit index
// lags the snapshot, which loading repairs (loadPeerStorage).
//
// Carrying data inline bounds a region's size by memory; streaming table
// files (SnapshotMeta.files, SnapshotChunk) is for later.

// decodeSnapshotMeta decodes and checks a snapshot's data.
func decodeSnapshotMeta(snap *pb.Snapshot) (*clusterpb.SnapshotMeta, error) {
	if snap == nil || snap.GetMetadata() == nil {
		return nil, errors.New("snapshot without metadata")
	}
	meta := &clusterpb.SnapshotMeta{}
	if err := proto.Unmarshal(snap.GetData(), meta); err != nil {
		return nil, fmt.Errorf("decoding snapshot data: %w", err)
	}
	r := meta.GetRegion()
	if r.GetId() == 0 || len(r.GetPeers()) == 0 || r.GetEpoch() == nil {
		return nil, errors.New("snapshot without a valid region descriptor")
	}
	if len(r.GetEndKey()) > 0 && bytes.Compare(r.GetStartKey(), r.GetEndKey()) >= 0 {
		return nil, fmt.Errorf("snapshot of region %d with an empty range", r.GetId())
	}
	if cs := snap.GetMetadata().GetConfState(); cs == nil || confState(r).Equivalent(cs) != nil {
		return nil, fmt.Errorf("snapshot of region %d: its raft configuration does not match its descriptor", r.GetId())
	}
	var prev []byte
	for i, kv := range meta.GetPairs() {
		if !inRegion(kv.GetKey(), r) {
			return nil, fmt.Errorf("snapshot of region %d holds key %q outside it", r.GetId(), kv.GetKey())
		}
		if i > 0 && bytes.Compare(kv.GetKey(), prev) <= 0 {
			return nil, fmt.Errorf("snapshot of region %d: keys out of order at %q", r.GetId(), kv.GetKey())
		}
		prev = kv.GetKey()
	}
	return meta, nil
}

// generateSnapshot is raft.Storage.Snapshot: the applied state of the
// region. It returns a snapshot built earlier while it is still usable (its
// index not below the log's truncation point); otherwise it takes a
// database snapshot (the applied state, since the loop applies every
// committed entry itself), builds the region snapshot from it in a
// goroutine, and says the snapshot is temporarily unavailable: raft asks
// again at the follower's next heartbeat response. The loop never reads a
// region's data itself. It never returns another error (raft panics on one).
func (p *peer) generateSnapshot() (*pb.Snapshot, error) {
	if c := p.snapCache; c != nil && c.GetMetadata().GetIndex() >= p.ps.truncated() {
		return c, nil
	}
	if p.snapGenerating || !p.initialized() {
		return nil, raft.ErrSnapshotTemporarilyUnavailable
	}
	s := p.store
	applied := p.ps.apply.GetAppliedIndex()
	term, err := p.ps.Term(applied)
	if err != nil {
		s.cfg.Logger.Error("raftstore: snapshot: term of the applied index", "region", p.regionID, "err", err)
		return nil, raft.ErrSnapshotTemporarilyUnavailable
	}
	r := proto.Clone(p.region()).(*clusterpb.Region)
	dbSnap := s.db.NewSnapshot()
	p.snapGenerating = true
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		snap, err := buildSnapshot(dbSnap, r, applied, term)
		dbSnap.Close()
		op := func() {
			if s.peers[p.regionID] != p {
				return
			}
			p.snapGenerating = false
			if err != nil {
				s.cfg.Logger.Error("raftstore: building a snapshot", "region", p.regionID, "err", err)
				return
			}
			if proto.Equal(p.region().GetEpoch(), r.GetEpoch()) {
				p.snapCache = snap
				s.stats.snapGen.Add(1)
				s.wake(p)
			}
		}
		select {
		case s.inbox <- op:
		case <-s.stop:
		}
	}()
	return nil, raft.ErrSnapshotTemporarilyUnavailable
}

// buildSnapshot reads region r from a database snapshot taken at applied.
func buildSnapshot(dbSnap *strata.Snapshot, r *clusterpb.Region, applied, term uint64) (*pb.Snapshot, error) {
	meta := &clusterpb.SnapshotMeta{Region: r}
	it := dbSnap.NewIterator(&strata.IterOptions{LowerBound: dataKey(r.GetStartKey()), UpperBound: dataEnd(r.GetEndKey())})
	for ok := it.First(); ok; ok = it.Next() {
		meta.Pairs = append(meta.Pairs, &clusterpb.KvPair{Key: bytes.Clone(userKey(it.Key())), Value: bytes.Clone(it.Value())})
	}
	if err := it.Close(); err != nil {
		return nil, fmt.Errorf("raftstore: region %d: reading a snapshot: %w", r.GetId(), err)
	}
	data, err := proto.Marshal(meta)
	if err != nil {
		return nil, err
	}
	return &pb.Snapshot{Data: data, Metadata: &pb.SnapshotMetadata{ConfState: confState(r), Index: proto.Uint64(applied), Term: proto.Uint64(term)}}, nil
}

// applySnapshot installs a snapshot from a Ready (see the layout above).
func (p *peer) applySnapshot(snap *pb.Snapshot) error {
	s := p.store
	meta, err := decodeSnapshotMeta(snap)
	if err != nil {
		return fmt.Errorf("raftstore: node %d: region %d: %w", s.cfg.NodeID, p.regionID, err)
	}
	idx, term := snap.GetMetadata().GetIndex(), snap.GetMetadata().GetTerm()
	r := meta.GetRegion()
	s.snapSeq++
	base := s.fs.PathJoin(s.snapDir, fmt.Sprintf("r%d-i%d-%d", p.regionID, idx, s.snapSeq))
	localPath, dataPath := base+"-local.sst", base+"-data.sst"
	defer s.fs.Remove(localPath)
	defer s.fs.Remove(dataPath)
	apply := &clusterpb.RaftApplyState{AppliedIndex: idx, TruncatedIndex: idx, TruncatedTerm: term}
	fail := func(what string, err error) error {
		return fmt.Errorf("raftstore: node %d: region %d: installing snapshot %d: %s: %w", s.cfg.NodeID, p.regionID, idx, what, err)
	}
	lw, err := strata.NewTableWriter(localPath, s.dbOpts)
	if err != nil {
		return fail("local table", err)
	}
	applyData, err := proto.Marshal(apply)
	if err != nil {
		return fail("encoding", err)
	}
	stateData, err := proto.Marshal(&clusterpb.RegionLocalState{State: clusterpb.RegionLocalState_NORMAL, Region: r, PeerId: p.peerID})
	if err != nil {
		return fail("encoding", err)
	}
	err = errors.Join(
		lw.DeleteRange(logRangeStart(p.regionID), logRangeEnd(p.regionID)),
		lw.Add(applyStateKey(p.regionID), applyData),
		lw.Add(regionStateKey(p.regionID), stateData),
		lw.Close())
	if err != nil {
		return fail("local table", err)
	}
	dw, err := strata.NewTableWriter(dataPath, s.dbOpts)
	if err != nil {
		return fail("data table", err)
	}
	if err := dw.DeleteRange(dataKey(r.GetStartKey()), dataEnd(r.GetEndKey())); err != nil {
		dw.Close()
		return fail("data table", err)
	}
	for _, kv := range meta.GetPairs() {
		if err := dw.Add(dataKey(kv.GetKey()), kv.GetValue()); err != nil {
			dw.Close()
			return fail("data table", err)
		}
	}
	if err := dw.Close(); err != nil {
		return fail("data table", err)
	}
	if err := s.db.Ingest([]string{localPath, dataPath}, &strata.IngestOptions{Move: true}); err != nil {
		return fail("ingest", err)
	}
	p.ps.apply = apply
	p.ps.entries = nil
	p.ps.region = r
	if p.ps.hard.GetCommit() < idx {
		h := proto.Clone(p.ps.hard).(*pb.HardState)
		h.Commit = proto.Uint64(idx)
		p.ps.hard = h
	}
	p.appliedTerm = max(p.appliedTerm, term)
	p.snapCache = nil
	p.active = true
	s.stats.snapApplied.Add(1)
	// A proposal of this replica may or may not be inside the snapshot.
	for id, pr := range p.proposals {
		pr.ch <- proposalResult{err: ErrUnknownResult}
		delete(p.proposals, id)
	}
	return nil
}
