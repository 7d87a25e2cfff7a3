package raftstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/strata-db/strata"
	"github.com/strata-db/strata/cluster/clusterpb"
)

// Region snapshots.
//
// A snapshot is a raftpb.Snapshot whose data is a clusterpb.SnapshotMeta:
// the region descriptor as of the snapshot's index and the table files that
// carry the region's data, each named with its size and CRC-32C
// (Castagnoli). The MsgSnap message carries only that metadata; the files
// travel beside it, on the transport's snapshot stream (Store.OpenSnapshot
// on the sender, Store.ReceiveSnapshot on the receiver).
//
// The leader builds the files, outside its loop, from a database snapshot
// taken when raft asks (see generateSnapshot), in Dir/snap, and keeps them
// while the snapshot stays usable. They are tables written with
// strata.TableWriter, in the database's own key space, a new one each time
// the current one holds Config.SnapshotTableSize bytes of keys and values:
//
//	table k: the pairs of its slice of the region, in key order, under
//	         'z'+key, and one range tombstone [lo_k, hi_k) where
//	         lo_0 = 'z'+region start, lo_k = (last key of table k-1)+0x00,
//	         hi_k = the last key of table k, and for the last table
//	         'z'+region end (or the end of the user data space)
//
// Together the tombstones and the tables' own entries cover the region's
// whole data range, and no two tables touch (DB.Ingest refuses tables that
// overlap; the one key a tombstone stops short of is rewritten by the
// table's own entry). An empty region is one table holding the tombstone
// alone.
//
// The stream of a snapshot (what OpenSnapshot returns and ReceiveSnapshot
// reads) is the files' bytes one after the other, in SnapshotMeta.files
// order, without framing: the sizes in the metadata delimit them.
//
// The receiver (ReceiveSnapshot, in the transport's goroutine, never in
// the loop) checks the metadata (descriptor, configuration, at most
// maxSnapshotFiles files and Config.MaxSnapshotBytes bytes), writes each
// file to Dir/snap while computing its CRC, refuses a stream shorter or
// longer than the metadata says or a CRC that differs, then reads every
// table whole (strata.CheckTable: checksums, key order) and checks that
// the tables cover exactly the region's data range, in order. Only then is
// the MsgSnap stepped into the region's raft, with the files set aside for
// it. When raft hands the snapshot back in a Ready, the loop installs it
// with one atomic DB.Ingest of the data tables and a local table it writes
// itself:
//
//	local table: range tombstone over the region's whole raft log
//	             [logRangeStart, logRangeEnd), the apply state
//	             (applied = truncated = snapshot index, truncated term =
//	             snapshot term) and the region local state (descriptor)
//
// Ingestion makes them durable before the Ready's entries and hard state
// are written; a crash in between leaves a hard state whose commit index
// lags the snapshot, which loading repairs (loadPeerStorage). A snapshot
// that cannot be installed (ingestion refused) is refused: the error is
// logged and counted (Stats.SnapshotsRefused), the sender is told, and the
// replica restarts from what its storage holds, as it was. Staging files
// are removed once used or refused, and every one at start-up.

// Snapshot limits a receiver applies to the metadata before reading data.
const (
	// maxSnapshotFiles bounds the files of one snapshot.
	maxSnapshotFiles = 4096
	// maxSnapshotFileName bounds the length of a file's name.
	maxSnapshotFileName = 256
)

// crcTable is CRC-32C's (Castagnoli), the checksum of snapshot files.
var crcTable = crc32.MakeTable(crc32.Castagnoli)

// decodeSnapshotMeta decodes and checks a snapshot's data: a region
// descriptor matching the snapshot's configuration, at least one file, at
// most maxSnapshotFiles, and no inline pairs (snapshots carry files).
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
	if len(meta.GetPairs()) > 0 {
		return nil, fmt.Errorf("snapshot of region %d carries its data inline (pairs): snapshots carry table files", r.GetId())
	}
	files := meta.GetFiles()
	if len(files) == 0 || len(files) > maxSnapshotFiles {
		return nil, fmt.Errorf("snapshot of region %d has %d files (1 to %d allowed)", r.GetId(), len(files), maxSnapshotFiles)
	}
	for _, f := range files {
		if f.GetSize() == 0 || len(f.GetName()) == 0 || len(f.GetName()) > maxSnapshotFileName {
			return nil, fmt.Errorf("snapshot of region %d: file %.64q of %d bytes: empty, or a name of 1 to %d bytes required",
				r.GetId(), f.GetName(), f.GetSize(), maxSnapshotFileName)
		}
	}
	return meta, nil
}

// snapshotBytes is the sum of the files' sizes, or an error past limit.
func snapshotBytes(meta *clusterpb.SnapshotMeta, limit uint64) (uint64, error) {
	var total uint64
	for _, f := range meta.GetFiles() {
		total += f.GetSize()
		if total > limit || total < f.GetSize() {
			return 0, fmt.Errorf("snapshot of region %d is over the limit of %d bytes (Config.MaxSnapshotBytes)", meta.GetRegion().GetId(), limit)
		}
	}
	return total, nil
}

// genSnap is a snapshot the store generated: its files in Dir/snap, kept
// while its region's leader may send it and while streams read it.
type genSnap struct {
	id       uint64
	regionID uint64
	snap     *pb.Snapshot
	paths    []string
	// Under Store.genMu.
	refs    int       // streams reading the files
	dropped bool      // no longer wanted: removed once refs is 0
	used    time.Time // when a stream last opened it
}

// genName is the name of file k of generated snapshot id (the name
// OpenSnapshot parses back).
func genName(id, regionID uint64, k int) string {
	return fmt.Sprintf("g%d-r%d-%04d.sst", id, regionID, k)
}

// generateSnapshot is raft.Storage.Snapshot: the applied state of the
// region. It returns a snapshot built earlier while it is still usable (its
// index not below the log's truncation point); otherwise it takes a
// database snapshot (the applied state, since the loop applies every
// committed entry itself), builds the region snapshot's files from it in a
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
		start := time.Now()
		gen, err := s.buildSnapshot(dbSnap, r, applied, term)
		dbSnap.Close()
		op := func() {
			if s.peers[p.regionID] != p {
				s.dropGen(gen)
				return
			}
			p.snapGenerating = false
			if err != nil {
				s.cfg.Logger.Error("raftstore: building a snapshot", "region", p.regionID, "err", err)
				return
			}
			if proto.Equal(p.region().GetEpoch(), r.GetEpoch()) {
				p.snapCache = gen.snap
				s.setRegionGen(p.regionID, gen)
				s.stats.snapGen.Add(1)
				s.cfg.Logger.Info("raftstore: snapshot built", "region", p.regionID, "index", applied,
					"files", len(gen.paths), "took", time.Since(start).Round(time.Millisecond))
				s.wake(p)
			} else {
				s.dropGen(gen)
			}
		}
		select {
		case s.inbox <- op:
		case <-s.stop:
			s.dropGen(gen)
		}
	}()
	return nil, raft.ErrSnapshotTemporarilyUnavailable
}

// buildSnapshot writes region r's data, read from a database snapshot taken
// at applied, as the snapshot's tables (layout above) and returns it,
// registered for OpenSnapshot.
func (s *Store) buildSnapshot(dbSnap *strata.Snapshot, r *clusterpb.Region, applied, term uint64) (*genSnap, error) {
	g := &genSnap{id: s.fileSeq.Add(1), regionID: r.GetId()}
	fail := func(err error) (*genSnap, error) {
		for _, path := range g.paths {
			s.fs.Remove(path)
		}
		return nil, fmt.Errorf("raftstore: region %d: building a snapshot: %w", r.GetId(), err)
	}
	meta := &clusterpb.SnapshotMeta{Region: r}
	var (
		w    *strata.TableWriter
		size uint64
		lo   = dataKey(r.GetStartKey())
	)
	open := func() error {
		name := genName(g.id, r.GetId(), len(g.paths))
		path := s.fs.PathJoin(s.snapDir, name)
		tw, err := strata.NewTableWriter(path, s.dbOpts)
		if err != nil {
			return err
		}
		w, size = tw, 0
		g.paths = append(g.paths, path)
		meta.Files = append(meta.Files, &clusterpb.SnapshotFile{Name: name})
		return nil
	}
	// finish ends the current table with its tombstone [lo, hi).
	finish := func(hi []byte) error {
		err := errors.Join(w.DeleteRange(lo, hi), w.Close())
		w = nil
		return err
	}
	it := dbSnap.NewIterator(&strata.IterOptions{LowerBound: dataKey(r.GetStartKey()), UpperBound: dataEnd(r.GetEndKey())})
	for ok := it.First(); ok; ok = it.Next() {
		if w == nil {
			if err := open(); err != nil {
				it.Close()
				return fail(err)
			}
		}
		k, v := it.Key(), it.Value()
		if err := w.Add(k, v); err != nil {
			it.Close()
			w.Close()
			return fail(err)
		}
		size += uint64(len(k) + len(v))
		if size >= s.cfg.SnapshotTableSize {
			last := bytes.Clone(k)
			if err := finish(last); err != nil {
				it.Close()
				return fail(err)
			}
			lo = append(last, 0)
		}
	}
	if err := it.Close(); err != nil {
		if w != nil {
			w.Close()
		}
		return fail(fmt.Errorf("reading the region: %w", err))
	}
	if w == nil {
		if err := open(); err != nil {
			return fail(err)
		}
	}
	if err := finish(dataEnd(r.GetEndKey())); err != nil {
		return fail(err)
	}
	for i, path := range g.paths {
		n, crc, err := fileCRC(s.fs, path)
		if err != nil {
			return fail(err)
		}
		meta.Files[i].Size, meta.Files[i].Crc32C = n, crc
	}
	data, err := proto.Marshal(meta)
	if err != nil {
		return fail(err)
	}
	g.snap = &pb.Snapshot{Data: data, Metadata: &pb.SnapshotMetadata{ConfState: confState(r), Index: proto.Uint64(applied), Term: proto.Uint64(term)}}
	g.used = time.Now()
	s.genMu.Lock()
	s.gens[g.id] = g
	s.genMu.Unlock()
	return g, nil
}

// fileCRC returns the size and CRC-32C of the file at path.
func fileCRC(fs strata.FS, path string) (uint64, uint32, error) {
	f, err := fs.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	h := crc32.New(crcTable)
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, 0, fmt.Errorf("reading %s: %w", path, err)
	}
	return uint64(n), h.Sum32(), nil
}

// setRegionGen records gen as the region's current generated snapshot,
// dropping the previous one. Loop only.
func (s *Store) setRegionGen(regionID uint64, gen *genSnap) {
	if old := s.regionGen[regionID]; old != nil && old != gen {
		s.dropGen(old)
	}
	s.regionGen[regionID] = gen
}

// releaseGen marks g dropped (drop) and/or gives back one stream's
// reference (unref); the files go once g is dropped and unreferenced.
func (s *Store) releaseGen(g *genSnap, drop, unref bool) {
	s.genMu.Lock()
	if drop {
		g.dropped = true
	}
	if unref {
		g.refs--
	}
	remove := g.refs == 0 && g.dropped
	if remove {
		delete(s.gens, g.id)
	}
	s.genMu.Unlock()
	if remove {
		for _, path := range g.paths {
			s.fs.Remove(path)
		}
	}
}

// dropGen forgets a generated snapshot: its files are removed now, or
// when the last stream reading them ends.
func (s *Store) dropGen(g *genSnap) {
	if g == nil {
		return
	}
	s.releaseGen(g, true, false)
}

// sweepGens drops the generated snapshots their region no longer caches
// (a split, a membership change or a newer snapshot replaced them), and
// those no stream has opened for snapshotIdle (their files take room). Loop
// only; called every few election timeouts.
func (s *Store) sweepGens() {
	idle := time.Duration(100*s.cfg.ElectionTicks) * s.cfg.TickInterval
	for id, g := range s.regionGen {
		p := s.peers[id]
		s.genMu.Lock()
		unused := g.refs == 0 && time.Since(g.used) > idle
		s.genMu.Unlock()
		if p == nil || p.snapCache != g.snap || unused {
			if p != nil && p.snapCache == g.snap {
				p.snapCache = nil
			}
			delete(s.regionGen, id)
			s.dropGen(g)
		}
	}
}

// OpenSnapshot returns the bytes of the snapshot msg (a MsgSnap this store
// sent) carries: its files one after the other (transport.SnapshotSource).
// The files stay until the reader is closed. It fails if the snapshot is no
// longer kept.
func (s *Store) OpenSnapshot(msg *clusterpb.RaftMessage) (io.ReadCloser, error) {
	snap := msg.GetMessage().GetSnapshot()
	meta, err := decodeSnapshotMeta(snap)
	if err != nil {
		return nil, fmt.Errorf("raftstore: node %d: region %d: %w", s.cfg.NodeID, msg.GetRegionId(), err)
	}
	var id uint64
	if _, err := fmt.Sscanf(meta.GetFiles()[0].GetName(), "g%d-", &id); err != nil {
		return nil, fmt.Errorf("raftstore: node %d: region %d: snapshot file %q is not one of this store's", s.cfg.NodeID, msg.GetRegionId(), meta.GetFiles()[0].GetName())
	}
	s.genMu.Lock()
	defer s.genMu.Unlock()
	g := s.gens[id]
	if g == nil || g.dropped || g.regionID != msg.GetRegionId() || g.snap.GetMetadata().GetIndex() != snap.GetMetadata().GetIndex() {
		return nil, fmt.Errorf("raftstore: node %d: region %d: snapshot %d at index %d is no longer kept", s.cfg.NodeID, msg.GetRegionId(), id, snap.GetMetadata().GetIndex())
	}
	g.refs++
	g.used = time.Now()
	return &genReader{s: s, g: g}, nil
}

// genReader reads a generated snapshot's files one after the other.
type genReader struct {
	s      *Store
	g      *genSnap
	next   int // the next file to open
	f      io.ReadCloser
	closed bool
}

func (r *genReader) Read(p []byte) (int, error) {
	for {
		if r.closed {
			return 0, errors.New("raftstore: snapshot reader closed")
		}
		if r.f == nil {
			if r.next == len(r.g.paths) {
				return 0, io.EOF
			}
			f, err := r.s.fs.Open(r.g.paths[r.next])
			if err != nil {
				return 0, err
			}
			r.f = f
			r.next++
		}
		n, err := r.f.Read(p)
		if err == io.EOF {
			r.f.Close()
			r.f = nil
			if n == 0 {
				continue
			}
			err = nil
		}
		return n, err
	}
}

// Close closes the file being read and lets the snapshot's files go.
func (r *genReader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	if r.f != nil {
		r.f.Close()
	}
	r.s.releaseGen(r.g, false, true)
	return nil
}

// recvSnap is a received snapshot whose files are checked and wait, in
// Dir/snap, for raft to hand the snapshot back in a Ready (Store.received).
type recvSnap struct {
	index, term uint64
	paths       []string
	done        chan error // the outcome, once (buffered)
}

// finish removes the files left and reports the outcome.
func (s *Store) finishRecv(rs *recvSnap, err error) {
	for _, path := range rs.paths {
		s.fs.Remove(path)
	}
	rs.done <- err
}

// errSnapshotNotTaken: raft did not take a received snapshot (it has as
// much already, or the snapshot does not fit this node's regions).
var errSnapshotNotTaken = errors.New("raftstore: snapshot not taken (stale, superseded, or overlapping another region)")

// ReceiveSnapshot receives the snapshot msg carries, its files read from
// data (transport.SnapshotReceiver): it writes them to Dir/snap, checks
// them (layout above), steps msg into the region and waits until the
// snapshot is installed or refused. It is called outside the loop, and
// holds one buffer of the files in memory. A snapshot that fails a check,
// or that the database refuses, is refused with an error (logged and
// counted); the region stays as it was.
func (s *Store) ReceiveSnapshot(ctx context.Context, msg *clusterpb.RaftMessage, data io.Reader) error {
	snap := msg.GetMessage().GetSnapshot()
	refuse := func(err error) error {
		s.stats.snapRefused.Add(1)
		err = fmt.Errorf("raftstore: node %d: region %d: snapshot at index %d refused: %w", s.cfg.NodeID, msg.GetRegionId(), snap.GetMetadata().GetIndex(), err)
		s.cfg.Logger.Error("raftstore: snapshot refused", "region", msg.GetRegionId(), "err", err)
		return err
	}
	if err := s.checkMessage(msg); err != nil {
		return refuse(err)
	}
	if t := msg.GetMessage().GetType(); t != pb.MessageType_MsgSnap {
		return refuse(fmt.Errorf("a %v on the snapshot stream", t))
	}
	meta, err := decodeSnapshotMeta(snap)
	if err != nil {
		return refuse(err)
	}
	if _, err := snapshotBytes(meta, s.cfg.MaxSnapshotBytes); err != nil {
		return refuse(err)
	}
	paths, err := s.receiveFiles(ctx, meta, data)
	if err == nil {
		err = s.checkSnapshotTables(meta.GetRegion(), paths)
	}
	if err != nil {
		for _, path := range paths {
			s.fs.Remove(path)
		}
		return refuse(err)
	}
	rs := &recvSnap{index: snap.GetMetadata().GetIndex(), term: snap.GetMetadata().GetTerm(), paths: paths, done: make(chan error, 1)}
	err = s.call(func() error {
		if s.received[msg.GetRegionId()] != nil {
			// Another snapshot of the region was stepped in this round.
			s.finishRecv(rs, errSnapshotNotTaken)
			return nil
		}
		s.received[msg.GetRegionId()] = rs
		s.handleMessage(msg)
		return nil
	})
	if err != nil {
		for _, path := range paths {
			s.fs.Remove(path)
		}
		return err
	}
	select {
	case err := <-rs.done:
		return err // a refusal was logged and counted by the loop
	case <-s.done:
		return ErrStoreClosed
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// receiveFiles writes the snapshot's files from data to Dir/snap, checking
// each one's size and CRC and that data ends with the last. It returns the
// paths written (also on error, for removal).
func (s *Store) receiveFiles(ctx context.Context, meta *clusterpb.SnapshotMeta, data io.Reader) ([]string, error) {
	seq := s.fileSeq.Add(1)
	buf := make([]byte, 256<<10)
	h := crc32.New(crcTable)
	var paths []string
	for k, f := range meta.GetFiles() {
		if err := ctx.Err(); err != nil {
			return paths, context.Cause(ctx)
		}
		path := s.fs.PathJoin(s.snapDir, fmt.Sprintf("recv%d-r%d-%04d.sst", seq, meta.GetRegion().GetId(), k))
		paths = append(paths, path)
		if err := receiveFile(s.fs, path, f, data, h, buf); err != nil {
			return paths, fmt.Errorf("file %d (%s): %w", k, f.GetName(), err)
		}
	}
	if n, err := data.Read(buf[:1]); n > 0 || (err != nil && err != io.EOF) {
		if err == nil {
			err = errors.New("the stream holds more bytes than its metadata names")
		}
		return paths, err
	}
	return paths, nil
}

// receiveFile copies f.size bytes from data to a new file at path and
// checks their CRC-32C.
func receiveFile(fs strata.FS, path string, f *clusterpb.SnapshotFile, data io.Reader, h hash.Hash32, buf []byte) error {
	out, err := fs.Create(path)
	if err != nil {
		return err
	}
	h.Reset()
	n, err := io.CopyBuffer(io.MultiWriter(out, h), io.LimitReader(data, int64(f.GetSize())), buf)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if uint64(n) != f.GetSize() {
		return fmt.Errorf("the stream ended after %d of its %d bytes", n, f.GetSize())
	}
	if got := h.Sum32(); got != f.GetCrc32C() {
		return fmt.Errorf("CRC-32C %08x, the metadata says %08x", got, f.GetCrc32C())
	}
	return nil
}

// checkSnapshotTables reads every received table whole (checksums, key
// order) and checks that, in order, they cover exactly region r's data
// range: the first starts at its start, each ends before the next begins,
// the last ends (exclusively) at its end.
func (s *Store) checkSnapshotTables(r *clusterpb.Region, paths []string) error {
	start, end := dataKey(r.GetStartKey()), dataEnd(r.GetEndKey())
	var prev []byte
	for k, path := range paths {
		b, err := strata.CheckTable(path, s.dbOpts)
		if err != nil {
			return fmt.Errorf("table %d: %w", k, err)
		}
		switch {
		case b.Empty:
			return fmt.Errorf("table %d is empty", k)
		case k == 0 && !bytes.Equal(b.Smallest, start):
			return fmt.Errorf("table 0 starts at %q, not at the region's start %q", b.Smallest, start)
		case k > 0 && bytes.Compare(b.Smallest, prev) <= 0:
			return fmt.Errorf("table %d starts at %q, not after table %d's end %q", k, b.Smallest, k-1, prev)
		case bytes.Compare(b.Largest, end) > 0 || (bytes.Equal(b.Largest, end) && !b.LargestExclusive):
			return fmt.Errorf("table %d reaches %q, past the region's end %q", k, b.Largest, end)
		case k == len(paths)-1 && !bytes.Equal(b.Largest, end):
			return fmt.Errorf("the last table ends at %q, not at the region's end %q", b.Largest, end)
		}
		prev = b.Largest
	}
	return nil
}

// takeReceived returns the received files set aside for region regionID's
// snapshot at index and term, nil if there are none. Loop only.
func (s *Store) takeReceived(regionID, index, term uint64) *recvSnap {
	rs := s.received[regionID]
	if rs == nil || rs.index != index || rs.term != term {
		return nil
	}
	delete(s.received, regionID)
	return rs
}

// dropUnclaimed refuses the received snapshots raft did not take in the
// round after they were stepped. Loop only.
func (s *Store) dropUnclaimed() {
	for id, rs := range s.received {
		delete(s.received, id)
		s.finishRecv(rs, errSnapshotNotTaken)
	}
}

// applySnapshot installs a snapshot from a Ready (see the layout above)
// from the files received for it. On error the database is as before.
func (p *peer) applySnapshot(snap *pb.Snapshot) error {
	s := p.store
	idx, term := snap.GetMetadata().GetIndex(), snap.GetMetadata().GetTerm()
	fail := func(what string, err error) error {
		return fmt.Errorf("raftstore: node %d: region %d: installing snapshot %d: %s: %w", s.cfg.NodeID, p.regionID, idx, what, err)
	}
	rs := s.takeReceived(p.regionID, idx, term)
	if rs == nil {
		return fail("files", errors.New("no files were received for it"))
	}
	meta, err := decodeSnapshotMeta(snap)
	if err != nil {
		err = fail("metadata", err)
		s.finishRecv(rs, err)
		return err
	}
	err = p.ingestSnapshot(meta.GetRegion(), idx, term, rs.paths)
	s.finishRecv(rs, err)
	return err
}

// ingestSnapshot writes the local table and ingests it with the data
// tables at paths, in one DB.Ingest.
func (p *peer) ingestSnapshot(r *clusterpb.Region, idx, term uint64, paths []string) error {
	s := p.store
	fail := func(what string, err error) error {
		return fmt.Errorf("raftstore: node %d: region %d: installing snapshot %d: %s: %w", s.cfg.NodeID, p.regionID, idx, what, err)
	}
	s.snapSeq++
	localPath := s.fs.PathJoin(s.snapDir, fmt.Sprintf("r%d-i%d-%d-local.sst", p.regionID, idx, s.snapSeq))
	defer s.fs.Remove(localPath)
	apply := &clusterpb.RaftApplyState{AppliedIndex: idx, TruncatedIndex: idx, TruncatedTerm: term}
	applyData, err := proto.Marshal(apply)
	if err != nil {
		return fail("encoding", err)
	}
	stateData, err := proto.Marshal(&clusterpb.RegionLocalState{State: clusterpb.RegionLocalState_NORMAL, Region: r, PeerId: p.peerID})
	if err != nil {
		return fail("encoding", err)
	}
	lw, err := strata.NewTableWriter(localPath, s.dbOpts)
	if err != nil {
		return fail("local table", err)
	}
	err = errors.Join(
		lw.DeleteRange(logRangeStart(p.regionID), logRangeEnd(p.regionID)),
		lw.Add(applyStateKey(p.regionID), applyData),
		lw.Add(regionStateKey(p.regionID), stateData),
		lw.Close())
	if err != nil {
		return fail("local table", err)
	}
	start := time.Now()
	if err := s.db.Ingest(append([]string{localPath}, paths...), &strata.IngestOptions{Move: true}); err != nil {
		return fail("ingest", err)
	}
	s.cfg.Logger.Info("raftstore: snapshot installed", "region", p.regionID, "index", idx, "tables", len(paths),
		"ingest", time.Since(start).Round(time.Millisecond))
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
		pr.ch.send(proposalResult{err: ErrUnknownResult})
		delete(p.proposals, id)
	}
	return nil
}

// refuseSnapshot handles a snapshot raft handed back that could not be
// installed: it is logged and counted, and the replica restarts from its
// storage (raft had taken the snapshot in memory; the Ready that carried it
// is dropped whole, nothing of it persisted or sent).
func (s *Store) refuseSnapshot(p *peer, err error) error {
	s.stats.snapRefused.Add(1)
	s.cfg.Logger.Error("raftstore: snapshot refused, replica restarted from its storage", "region", p.regionID, "err", err)
	p.failAll(ErrUnknownResult)
	if g := s.regionGen[p.regionID]; g != nil {
		delete(s.regionGen, p.regionID)
		s.dropGen(g)
	}
	ps, lerr := loadPeerStorage(s.db, p.region())
	if lerr != nil {
		return lerr
	}
	delete(s.awake, p.regionID)
	_, lerr = s.addPeer(ps, p.peerID)
	return lerr
}

// ReportSnapshot tells region regionID's raft how sending a snapshot to
// its peer peerID ended (a transport's report: finished only once the
// receiver acknowledged it, that is installed it). It does not block. A
// finished snapshot restarts the window in which log truncation spares the
// entries after it (a large snapshot can take a while to arrive).
func (s *Store) ReportSnapshot(regionID, peerID uint64, status raft.SnapshotStatus) {
	op := func() {
		if p := s.peers[regionID]; p != nil {
			s.wake(p)
			p.rn.ReportSnapshot(peerID, status)
			if ss, ok := p.snapSent[peerID]; ok && status == raft.SnapshotFinish {
				ss.tick = s.ticks
				p.snapSent[peerID] = ss
			}
		}
	}
	if s.submit(op) == errBusy {
		// Never lost: raft waits for the report to send the peer more.
		go func() {
			select {
			case s.inbox <- op:
			case <-s.stop:
			}
		}()
	}
}

// ReportUnreachable tells region regionID's raft that its peer peerID
// could not be reached (a transport's report), so that the leader stops
// sending it appends at full pace. It does not block; a report that finds
// the store busy is dropped.
func (s *Store) ReportUnreachable(regionID, peerID uint64) {
	_ = s.submit(func() {
		if p := s.peers[regionID]; p != nil && !p.asleep {
			p.rn.ReportUnreachable(peerID)
		}
	})
}

// cleanSnapDir removes every file of Dir/snap: the tables of snapshots a
// crash interrupted (being built, received or installed; an installed
// snapshot's tables were moved into the database).
func (s *Store) cleanSnapDir() {
	names, err := s.fs.List(s.snapDir)
	if err != nil {
		return
	}
	for _, name := range names {
		s.fs.Remove(s.fs.PathJoin(s.snapDir, name))
	}
}
