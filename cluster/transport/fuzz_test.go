package transport

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/proto" // the "proto" codec gRPC decodes requests with
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/strata-db/strata/cluster/clusterpb"
)

// The fuzz targets feed bytes through the server's decode path: gRPC's
// proto codec decodes them into the request type, exactly as for a request
// off the network, and the generated service handler calls the server's
// methods (checks, then a handler). A panic anywhere fails the target; the
// handlers check that only well-formed, in-limit requests reach them.

// fuzzCodec is gRPC's registered protobuf codec.
var fuzzCodec = encoding.GetCodecV2("proto")

// fuzzServer is a server whose handlers check what they are given.
func fuzzServer() *Server {
	cfg := ServerConfig{ClusterID: 7, NodeID: 2, Raft: checkingRaft{}, Snapshots: checkingSnaps{}, KV: checkingKV{}, PD: fakePD{},
		MaxKeySize: 64, MaxValueSize: 256}
	cfg.withDefaults()
	return &Server{cfg: cfg, snapSem: make(chan struct{}, 1), reqSem: make(chan struct{}, cfg.MaxInflightRequests)}
}

type checkingRaft struct{}

func (checkingRaft) Step(m *clusterpb.RaftMessage) error {
	if m.ClusterId != 7 || m.Message == nil || m.FromPeer == nil || m.ToPeer.GetNodeId() != 2 {
		panic(fmt.Sprintf("Step got a message the server should have refused: %v", m))
	}
	return nil
}

type checkingSnaps struct{}

func (checkingSnaps) ReceiveSnapshot(ctx context.Context, m *clusterpb.RaftMessage, data io.Reader) error {
	if m.ClusterId != 7 || m.Message.GetType() != raftpb.MessageType_MsgSnap {
		panic(fmt.Sprintf("ReceiveSnapshot got a message the server should have refused: %v", m))
	}
	_, err := io.Copy(io.Discard, data)
	return err
}

type checkingKV struct{ fakeKV }

func checkLen(b []byte, limit int) {
	if len(b) > limit {
		panic(fmt.Sprintf("a %d-byte key or value passed the %d-byte limit", len(b), limit))
	}
}

func (k checkingKV) Get(ctx context.Context, req *clusterpb.GetRequest) (*clusterpb.GetResponse, error) {
	checkLen(req.Key, 64)
	return k.fakeKV.Get(ctx, req)
}

func (k checkingKV) Scan(ctx context.Context, req *clusterpb.ScanRequest) (*clusterpb.ScanResponse, error) {
	checkLen(req.StartKey, 64)
	checkLen(req.EndKey, 64)
	return k.fakeKV.Scan(ctx, req)
}

func (k checkingKV) Write(ctx context.Context, req *clusterpb.WriteRequest) (*clusterpb.WriteResponse, error) {
	for _, m := range req.Mutations {
		checkLen(m.Key, 64)
		checkLen(m.EndKey, 64)
		checkLen(m.Value, 256)
	}
	for _, c := range req.Conditions {
		checkLen(c.GetKey(), 64)
		checkLen(c.GetValue(), 256)
	}
	return k.fakeKV.Write(ctx, req)
}

// fuzzStream is a grpc.ServerStream whose incoming messages are frames of
// the fuzz input: each a 2-byte big-endian length and that many bytes.
type fuzzStream struct {
	data []byte
}

func (s *fuzzStream) SetHeader(metadata.MD) error  { return nil }
func (s *fuzzStream) SendHeader(metadata.MD) error { return nil }
func (s *fuzzStream) SetTrailer(metadata.MD)       {}
func (s *fuzzStream) Context() context.Context     { return context.Background() }
func (s *fuzzStream) SendMsg(m any) error          { return nil }

func (s *fuzzStream) RecvMsg(m any) error {
	if len(s.data) < 2 {
		return io.EOF
	}
	n := int(binary.BigEndian.Uint16(s.data))
	s.data = s.data[2:]
	n = min(n, len(s.data))
	frame := s.data[:n]
	s.data = s.data[n:]
	return fuzzCodec.Unmarshal(mem.BufferSlice{mem.SliceBuffer(frame)}, m)
}

// frames joins messages into fuzzStream's framing.
func frames(msgs ...[]byte) []byte {
	var b []byte
	for _, m := range msgs {
		b = binary.BigEndian.AppendUint16(b, uint16(len(m)))
		b = append(b, m...)
	}
	return b
}

func mustMarshal(m proto.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

// raftSeeds are inputs of FuzzRaftStream: byte 0 chooses Raft/Send (even)
// or Raft/Snapshot (odd), the rest is the stream's frames.
func raftSeeds() [][]byte {
	ok := appMsg(1, 2, 5, 10)
	ok.ClusterId = 7
	foreign := appMsg(1, 2, 5, 10)
	foreign.ClusterId = 8
	noPeer := appMsg(1, 2, 5, 10)
	noPeer.ClusterId, noPeer.ToPeer = 7, nil
	snap := snapMsg(1)
	snap.ClusterId = 7
	batch := func(ms ...*clusterpb.RaftMessage) []byte {
		return mustMarshal(&clusterpb.RaftMessageBatch{Msgs: ms})
	}
	return [][]byte{
		append([]byte{0}, frames(batch(ok), batch(ok, ok))...),
		append([]byte{0}, frames(batch(foreign))...),
		append([]byte{0}, frames(batch(noPeer))...),
		append([]byte{0}, frames([]byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f})...),
		append([]byte{1}, frames(mustMarshal(&clusterpb.SnapshotChunk{Message: snap, Data: []byte("abc")}),
			mustMarshal(&clusterpb.SnapshotChunk{Data: []byte("defg")}))...),
		append([]byte{1}, frames(mustMarshal(&clusterpb.SnapshotChunk{Message: ok}))...),
		append([]byte{1}, frames(mustMarshal(&clusterpb.SnapshotChunk{Message: snap}), mustMarshal(&clusterpb.SnapshotChunk{Message: snap}))...),
	}
}

// kvSeeds are inputs of FuzzKVRequest: byte 0 chooses the method (Get,
// Scan, Write, GetRegion, ScanRegions), the rest is the request.
func kvSeeds() [][]byte {
	return [][]byte{
		append([]byte{0}, mustMarshal(&clusterpb.GetRequest{Key: []byte("k"), Context: &clusterpb.RequestContext{RegionId: 3}})...),
		append([]byte{0}, mustMarshal(&clusterpb.GetRequest{Key: make([]byte, 65)})...),
		append([]byte{1}, mustMarshal(&clusterpb.ScanRequest{StartKey: []byte("a"), EndKey: []byte("z"), Limit: 10, Reverse: true})...),
		append([]byte{2}, mustMarshal(&clusterpb.WriteRequest{
			Conditions: []*clusterpb.Condition{{Key: []byte("k"), Exists: true, Value: []byte("v")}},
			Mutations: []*clusterpb.Mutation{{Op: clusterpb.Mutation_PUT, Key: []byte("k"), Value: []byte("w")},
				{Op: clusterpb.Mutation_DELETE_RANGE, Key: []byte("a"), EndKey: []byte("b")}}})...),
		append([]byte{2}, mustMarshal(&clusterpb.WriteRequest{Mutations: []*clusterpb.Mutation{{Key: []byte("k"), Value: make([]byte, 300)}}})...),
		append([]byte{2}, 0x1a, 0x00), // a mutation that is present but empty
		append([]byte{3}, mustMarshal(&clusterpb.GetRegionRequest{Key: []byte("k"), Prev: true})...),
		append([]byte{4}, mustMarshal(&clusterpb.ScanRegionsRequest{StartKey: []byte("a"), Limit: 3})...),
	}
}

func FuzzRaftStream(f *testing.F) {
	for _, s := range raftSeeds() {
		f.Add(s)
	}
	srv := fuzzServer()
	svc := raftService{s: srv}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		desc := clusterpb.Raft_ServiceDesc.Streams[data[0]%2]
		desc.Handler(svc, &fuzzStream{data: data[1:]}) // an error is a refusal: fine
	})
}

func FuzzKVRequest(f *testing.F) {
	for _, s := range kvSeeds() {
		f.Add(s)
	}
	srv := fuzzServer()
	kv, pd := kvService{s: srv}, pdService{s: srv}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		dec := func(m any) error {
			return fuzzCodec.Unmarshal(mem.BufferSlice{mem.SliceBuffer(data[1:])}, m)
		}
		ctx := context.Background()
		switch i := int(data[0] % 5); {
		case i < 3:
			clusterpb.KV_ServiceDesc.Methods[i].Handler(kv, ctx, dec, nil)
		default:
			clusterpb.PD_ServiceDesc.Methods[i-3].Handler(pd, ctx, dec, nil)
		}
	})
}

// batchFuzzStream is a fuzzStream for KV/BatchCommands that counts the
// requests it handed the server and keeps the answers it was sent.
type batchFuzzStream struct {
	fuzzStream
	mu      sync.Mutex
	asked   map[uint64]int // request id → requests with it decoded
	answers map[uint64]int // request id → answers
}

func (s *batchFuzzStream) RecvMsg(m any) error {
	if err := s.fuzzStream.RecvMsg(m); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, it := range m.(*clusterpb.BatchRequest).GetRequests() {
		s.asked[it.GetId()]++
	}
	return nil
}

func (s *batchFuzzStream) SendMsg(m any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range m.(*clusterpb.BatchResponse).GetResponses() {
		s.answers[a.GetId()]++
		if (a.GetErrorCode() == 0) == (a.GetResp() == nil) {
			panic(fmt.Sprintf("an answer with neither or both of an error and a response: %v", a))
		}
	}
	return nil
}

// batchSeeds are inputs of FuzzBatchStream: the stream's frames, each a
// BatchRequest.
func batchSeeds() [][]byte {
	get := &clusterpb.BatchRequestItem{Id: 1, Cmd: &clusterpb.BatchRequestItem_Get{Get: &clusterpb.GetRequest{Key: []byte("k")}}}
	scan := &clusterpb.BatchRequestItem{Id: 2, TimeoutMicros: 1000, Cmd: &clusterpb.BatchRequestItem_Scan{Scan: &clusterpb.ScanRequest{StartKey: []byte("a")}}}
	write := &clusterpb.BatchRequestItem{Id: 3, Cmd: &clusterpb.BatchRequestItem_Write{Write: &clusterpb.WriteRequest{
		Mutations: []*clusterpb.Mutation{{Key: []byte("k"), Value: []byte("v")}}}}}
	huge := &clusterpb.BatchRequestItem{Id: 4, Cmd: &clusterpb.BatchRequestItem_Get{Get: &clusterpb.GetRequest{Key: make([]byte, 100)}}}
	empty := &clusterpb.BatchRequestItem{Id: 5}
	batch := func(its ...*clusterpb.BatchRequestItem) []byte {
		return mustMarshal(&clusterpb.BatchRequest{Requests: its})
	}
	return [][]byte{
		frames(batch(get, scan, write)),
		frames(batch(get), batch(write, write), batch(huge, empty)),
		frames(batch(scan), []byte{0x0a, 0x05, 0x08}), // then a truncated item
	}
}

// FuzzBatchStream feeds the KV/BatchCommands handler arbitrary streams of
// BatchRequests: no panic, and every request decoded is answered exactly
// once (by its id), with an error or a response.
func FuzzBatchStream(f *testing.F) {
	for _, s := range batchSeeds() {
		f.Add(s)
	}
	srv := fuzzServer()
	kv := kvService{s: srv}
	f.Fuzz(func(t *testing.T, data []byte) {
		st := &batchFuzzStream{fuzzStream: fuzzStream{data: data}, asked: map[uint64]int{}, answers: map[uint64]int{}}
		clusterpb.KV_ServiceDesc.Streams[0].Handler(kv, st) // an error is a refusal: fine
		st.mu.Lock()
		defer st.mu.Unlock()
		if !maps.Equal(st.asked, st.answers) {
			t.Fatalf("requests by id %v, answers by id %v", st.asked, st.answers)
		}
	})
}

// TestWriteFuzzSeeds rewrites the seed corpus under testdata/fuzz from
// raftSeeds and kvSeeds when STRATA_WRITE_FUZZ_SEEDS=1, and otherwise checks
// that the files there match them (so the corpus stays what the code says).
func TestWriteFuzzSeeds(t *testing.T) {
	write := os.Getenv("STRATA_WRITE_FUZZ_SEEDS") == "1"
	for name, seeds := range map[string][][]byte{"FuzzRaftStream": raftSeeds(), "FuzzKVRequest": kvSeeds(), "FuzzBatchStream": batchSeeds()} {
		dir := filepath.Join("testdata", "fuzz", name)
		for i, s := range seeds {
			path := filepath.Join(dir, fmt.Sprintf("seed-%02d", i))
			want := []byte("go test fuzz v1\n[]byte(" + strconv.Quote(string(s)) + ")\n")
			if write {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, want, 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with STRATA_WRITE_FUZZ_SEEDS=1 to write the corpus)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from its seed in the code (run with STRATA_WRITE_FUZZ_SEEDS=1)", path)
			}
		}
	}
}
