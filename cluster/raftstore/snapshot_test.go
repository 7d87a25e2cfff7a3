package raftstore

import (
	"bytes"
	"context"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
	"testing"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/strata-db/strata"
	"github.com/strata-db/strata/cluster/clusterpb"
)

// testTable is one table of a hand-made snapshot: its pairs (user keys)
// and its tombstone (user keys; nil end: the end of the data space).
type testTable struct {
	pairs      [][2]string
	start, end string
	open       bool // end is the end of the data space
}

// makeSnapshot writes tables into fs and returns the MsgSnap of region r
// at index/term from peer 20 (node 2) to peer 10 (node 1), with the
// tables' bytes as they are streamed.
func makeSnapshot(t testing.TB, fs strata.FS, r *clusterpb.Region, index, term uint64, tables []testTable) (*clusterpb.RaftMessage, []byte) {
	t.Helper()
	meta := &clusterpb.SnapshotMeta{Region: r}
	var stream []byte
	for i, tt := range tables {
		path := fmt.Sprintf("/src-%d.sst", i)
		w, err := strata.NewTableWriter(path, &strata.Options{FS: fs})
		if err != nil {
			t.Fatal(err)
		}
		for _, kv := range tt.pairs {
			if err := w.Add(dataKey([]byte(kv[0])), []byte(kv[1])); err != nil {
				t.Fatal(err)
			}
		}
		end := dataKey([]byte(tt.end))
		if tt.open {
			end = dataEnd(nil)
		}
		if err := w.DeleteRange(dataKey([]byte(tt.start)), end); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		f, err := fs.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		stream = append(stream, data...)
		meta.Files = append(meta.Files, &clusterpb.SnapshotFile{Name: fmt.Sprintf("g1-r%d-%04d.sst", r.GetId(), i),
			Size: uint64(len(data)), Crc32C: crc32.Checksum(data, crcTable)})
	}
	data, err := proto.Marshal(meta)
	if err != nil {
		t.Fatal(err)
	}
	snap := &pb.Snapshot{Data: data, Metadata: &pb.SnapshotMetadata{ConfState: confState(r), Index: proto.Uint64(index), Term: proto.Uint64(term)}}
	msg := &clusterpb.RaftMessage{RegionId: r.GetId(), FromPeer: &clusterpb.Peer{Id: 20, NodeId: 2}, ToPeer: &clusterpb.Peer{Id: 10, NodeId: 1},
		Epoch: r.GetEpoch(), StartKey: r.GetStartKey(), EndKey: r.GetEndKey(),
		Message: &pb.Message{Type: pb.MessageType_MsgSnap.Enum(), From: proto.Uint64(20), To: proto.Uint64(10), Term: proto.Uint64(term), Snapshot: snap}}
	return msg, stream
}

// openTestStore opens a store (node 1) on fs, hosting no region yet.
func openTestStore(t testing.TB, fs strata.FS, cfg func(*Config)) *Store {
	t.Helper()
	c := Config{NodeID: 1, Dir: "/s", DBOptions: &strata.Options{FS: fs}, Transport: nopTransport{}, TickInterval: 5 * time.Millisecond}
	if cfg != nil {
		cfg(&c)
	}
	s, err := Open(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Regions(); err != nil {
		t.Fatal(err)
	}
	return s
}

// region2 is the region ["m", ∞) with peers 10 (node 1), 20 and 30.
func region2() *clusterpb.Region {
	return &clusterpb.Region{Id: 2, StartKey: []byte("m"), Epoch: &clusterpb.RegionEpoch{ConfVer: 1, Version: 1},
		Peers: []*clusterpb.Peer{{Id: 10, NodeId: 1}, {Id: 20, NodeId: 2}, {Id: 30, NodeId: 3}}}
}

// goodTables cover region2 in two tables (the layout snapshot.go builds).
func goodTables() []testTable {
	return []testTable{
		{pairs: [][2]string{{"m1", "a"}, {"m2", "b"}}, start: "m", end: "m2"},
		{pairs: [][2]string{{"n1", "c"}, {"x", "d"}}, start: "m2\x00", open: true},
	}
}

// TestReceiveSnapshotRefusals feeds a store snapshots that must be refused
// before they reach raft: each is refused with an error saying why and
// counted, and the store goes on; a good snapshot then installs.
func TestReceiveSnapshotRefusals(t *testing.T) {
	fs := strata.NewMemFS()
	s := openTestStore(t, fs, func(c *Config) { c.MaxSnapshotBytes = 1 << 20 })
	r := region2()
	flip := func(b []byte, at int) []byte { b = bytes.Clone(b); b[at] ^= 0x40; return b }
	cases := []struct {
		name   string
		tables []testTable
		edit   func(msg *clusterpb.RaftMessage, stream []byte) []byte
		want   string
	}{
		{"crc mismatch", goodTables(), func(_ *clusterpb.RaftMessage, b []byte) []byte { return flip(b, 10) }, "CRC-32C"},
		{"corrupt and crc matching", goodTables(), func(m *clusterpb.RaftMessage, b []byte) []byte {
			b = flip(b, 10)
			editMeta(t, m, func(meta *clusterpb.SnapshotMeta) {
				meta.Files[0].Crc32C = crc32.Checksum(b[:meta.Files[0].GetSize()], crcTable)
			})
			return b
		}, "table 0"},
		{"stream short", goodTables(), func(_ *clusterpb.RaftMessage, b []byte) []byte { return b[:len(b)-1] }, "stream ended"},
		{"stream long", goodTables(), func(_ *clusterpb.RaftMessage, b []byte) []byte { return append(bytes.Clone(b), 0) }, "more bytes"},
		{"key before the region", []testTable{{pairs: [][2]string{{"a", "x"}}, start: "a", open: true}}, nil, "not at the region's start"},
		{"key after the region's end", []testTable{{pairs: [][2]string{{"m1", "x"}}, start: "m", end: "z"}}, func(m *clusterpb.RaftMessage, b []byte) []byte {
			// Region ["m", "q"): the table reaches "z".
			editMeta(t, m, func(meta *clusterpb.SnapshotMeta) { meta.Region.EndKey = []byte("q") })
			m.EndKey = []byte("q")
			return b
		}, "past the region's end"},
		{"tables out of order", []testTable{goodTables()[1], goodTables()[0]}, nil, "not at the region's start"},
		{"range not covered", []testTable{goodTables()[0]}, nil, "not at the region's end"},
		{"over MaxSnapshotBytes", goodTables(), func(m *clusterpb.RaftMessage, b []byte) []byte {
			editMeta(t, m, func(meta *clusterpb.SnapshotMeta) { meta.Files[1].Size = 2 << 20 })
			return b
		}, "over the limit"},
		{"too many files", goodTables(), func(m *clusterpb.RaftMessage, b []byte) []byte {
			editMeta(t, m, func(meta *clusterpb.SnapshotMeta) {
				for range maxSnapshotFiles {
					meta.Files = append(meta.Files, &clusterpb.SnapshotFile{Name: "x", Size: 1})
				}
			})
			return b
		}, "files (1 to"},
		{"inline pairs", goodTables(), func(m *clusterpb.RaftMessage, b []byte) []byte {
			editMeta(t, m, func(meta *clusterpb.SnapshotMeta) { meta.Pairs = []*clusterpb.KvPair{{Key: []byte("m1")}} })
			return b
		}, "inline"},
	}
	refused := uint64(0)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			msg, stream := makeSnapshot(t, fs, r, 10, 6, tc.tables)
			if tc.edit != nil {
				stream = tc.edit(msg, stream)
			}
			err := s.ReceiveSnapshot(context.Background(), msg, bytes.NewReader(stream))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ReceiveSnapshot = %v, want an error with %q", err, tc.want)
			}
			t.Logf("refused: %v", err)
			if s.Err() != nil {
				t.Fatalf("store stopped: %v", s.Err())
			}
			if got := s.Stats().SnapshotsRefused; got != refused+1 {
				t.Fatalf("refusal not counted once (SnapshotsRefused %d, was %d)", got, refused)
			}
			refused++
			if names := stagingFiles(t, s); len(names) > 0 {
				t.Fatalf("staging files left: %v", names)
			}
		})
	}
	// A snapshot through Step is refused: it must come with its files.
	msg, stream := makeSnapshot(t, fs, r, 10, 6, goodTables())
	if err := s.Step(proto.Clone(msg).(*clusterpb.RaftMessage)); err == nil {
		t.Fatal("Step took a MsgSnap")
	}
	if err := s.ReceiveSnapshot(context.Background(), msg, bytes.NewReader(stream)); err != nil {
		t.Fatalf("a good snapshot: %v", err)
	}
	sts, err := s.Regions()
	if err != nil {
		t.Fatal(err)
	}
	var got *RegionStatus
	for i := range sts {
		if sts[i].Region.GetId() == 2 {
			got = &sts[i]
		}
	}
	if got == nil || !got.Initialized || got.Applied != 10 {
		t.Fatalf("region 2 after the snapshot: %+v", got)
	}
	for _, k := range []string{"m1", "m2", "n1", "x"} {
		if _, err := s.DB().Get(dataKey([]byte(k))); err != nil {
			t.Fatalf("key %s after the snapshot: %v", k, err)
		}
	}
	if st := s.Stats(); st.SnapshotsApplied != 1 {
		t.Fatalf("stats %+v", st)
	}
	if names := stagingFiles(t, s); len(names) > 0 {
		t.Fatalf("staging files left: %v", names)
	}
}

// editMeta changes the SnapshotMeta a MsgSnap carries.
func editMeta(t *testing.T, msg *clusterpb.RaftMessage, fn func(*clusterpb.SnapshotMeta)) {
	t.Helper()
	snap := msg.GetMessage().GetSnapshot()
	meta := &clusterpb.SnapshotMeta{}
	if err := proto.Unmarshal(snap.GetData(), meta); err != nil {
		t.Fatal(err)
	}
	fn(meta)
	if len(meta.GetRegion().GetEndKey()) > 0 {
		snap.Metadata.ConfState = confState(meta.GetRegion())
	}
	data, err := proto.Marshal(meta)
	if err != nil {
		t.Fatal(err)
	}
	snap.Data = data
}

// stagingFiles lists Dir/snap.
func stagingFiles(t testing.TB, s *Store) []string {
	t.Helper()
	names, err := s.fs.List(s.snapDir)
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// TestStagingCleanedAtStart: files a crash left in Dir/snap (a snapshot
// half received, half built) are removed when the store opens.
func TestStagingCleanedAtStart(t *testing.T) {
	fs := strata.NewMemFS()
	s := openTestStore(t, fs, nil)
	for _, name := range []string{"recv3-r2-0000.sst", "g7-r2-0001.sst", "r2-i10-1-local.sst"} {
		f, err := fs.Create(fs.PathJoin(s.snapDir, name))
		if err != nil {
			t.Fatal(err)
		}
		f.Write([]byte("half a table"))
		f.Close()
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTestStore(t, fs, nil)
	if names := stagingFiles(t, s); len(names) > 0 {
		t.Fatalf("staging files left after a restart: %v", names)
	}
}

// TestReportSnapshotUnknownRegion: reports for a region the store does not
// host are ignored.
func TestReportSnapshotUnknownRegion(t *testing.T) {
	s := openTestStore(t, strata.NewMemFS(), nil)
	s.ReportSnapshot(99, 1, raft.SnapshotFinish)
	s.ReportUnreachable(99, 1)
	if _, err := s.Regions(); err != nil {
		t.Fatal(err)
	}
}
