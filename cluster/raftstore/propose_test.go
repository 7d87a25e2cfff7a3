package raftstore

import (
	"fmt"
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

func TestDropSubsumedAppends(t *testing.T) {
	app := func(to, term, index, logTerm, commit uint64, entries int) *pb.Message {
		m := &pb.Message{Type: pb.MessageType_MsgApp.Enum(), To: proto.Uint64(to), Term: proto.Uint64(term),
			Index: proto.Uint64(index), LogTerm: proto.Uint64(logTerm), Commit: proto.Uint64(commit)}
		for i := range entries {
			m.Entries = append(m.Entries, &pb.Entry{Index: proto.Uint64(index + 1 + uint64(i)), Term: proto.Uint64(term)})
		}
		return m
	}
	hb := &pb.Message{Type: pb.MessageType_MsgHeartbeat.Enum(), To: proto.Uint64(2), Term: proto.Uint64(7)}
	tests := []struct {
		name string
		in   []*pb.Message
		keep []int // indexes of in that stay
	}{
		{"commit notice then entries to the same follower", []*pb.Message{app(2, 7, 10, 7, 9, 0), app(2, 7, 10, 7, 9, 3)}, []int{1}},
		{"two followers", []*pb.Message{app(2, 7, 10, 7, 9, 0), app(3, 7, 10, 7, 9, 0), app(2, 7, 10, 7, 9, 1), app(3, 7, 10, 7, 9, 1)}, []int{2, 3}},
		{"entries first: the notice after them stays", []*pb.Message{app(2, 7, 10, 7, 9, 3), app(2, 7, 13, 7, 10, 0)}, []int{0, 1}},
		{"other follower's entries", []*pb.Message{app(2, 7, 10, 7, 9, 0), app(3, 7, 10, 7, 9, 2)}, []int{0, 1}},
		{"later commit lower", []*pb.Message{app(2, 7, 10, 7, 9, 0), app(2, 7, 10, 7, 8, 2)}, []int{0, 1}},
		{"other previous index", []*pb.Message{app(2, 7, 10, 7, 9, 0), app(2, 7, 11, 7, 9, 2)}, []int{0, 1}},
		{"other previous term", []*pb.Message{app(2, 7, 10, 6, 9, 0), app(2, 7, 10, 7, 9, 2)}, []int{0, 1}},
		{"other term", []*pb.Message{app(2, 7, 10, 7, 9, 0), app(2, 8, 10, 7, 9, 2)}, []int{0, 1}},
		{"later empty too", []*pb.Message{app(2, 7, 10, 7, 9, 0), app(2, 7, 10, 7, 10, 0)}, []int{0, 1}},
		{"other types stay", []*pb.Message{hb, app(2, 7, 10, 7, 9, 0), hb, app(2, 7, 10, 7, 10, 1)}, []int{0, 2, 3}},
		{"nothing", nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var want []*pb.Message
			for _, i := range tc.keep {
				want = append(want, tc.in[i])
			}
			got := dropSubsumedAppends(append([]*pb.Message(nil), tc.in...))
			if fmt.Sprint(got) != fmt.Sprint(want) || len(got) != len(want) {
				t.Fatalf("got %v\nwant %v", got, want)
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("message %d: got %v, want %v", i, got[i], want[i])
				}
			}
		})
	}
}
