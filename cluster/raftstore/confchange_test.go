package raftstore

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"go.etcd.io/raft/v3/confchange"
	pb "go.etcd.io/raft/v3/raftpb"
	"go.etcd.io/raft/v3/tracker"
	"google.golang.org/protobuf/proto"

	"github.com/strata-db/strata/cluster/clusterpb"
)

// TestConfChanges checks, for single and joint changes, what validChanges
// accepts, the descriptor changedRegion and leftJoint give, and that the
// descriptor's raft configuration (confState) is exactly the one etcd
// raft's own confchange.Changer reaches from the same changes (entering,
// then leaving the joint configuration).
func TestConfChanges(t *testing.T) {
	// Region: voters 1, 2, 3 on nodes 1-3, learner 4 on node 4.
	base := &clusterpb.Region{Id: 7, Epoch: &clusterpb.RegionEpoch{ConfVer: 3, Version: 1}, Peers: []*clusterpb.Peer{
		{Id: 1, NodeId: 1}, {Id: 2, NodeId: 2}, {Id: 3, NodeId: 3}, {Id: 4, NodeId: 4, Role: clusterpb.PeerRole_LEARNER}}}
	ch := func(typ clusterpb.ChangePeer_Type, id, node uint64) *clusterpb.ChangePeer {
		return &clusterpb.ChangePeer{Type: typ, Peer: &clusterpb.Peer{Id: id, NodeId: node}}
	}
	const (
		voter   = clusterpb.ChangePeer_ADD_VOTER
		learner = clusterpb.ChangePeer_ADD_LEARNER
		remove  = clusterpb.ChangePeer_REMOVE
	)
	for _, tc := range []struct {
		name    string
		changes []*clusterpb.ChangePeer
		err     string // a substring of the refusal; "" if accepted
		joint   string // roles after entering (joint changes)
		after   string // roles once settled
	}{
		{name: "add learner", changes: []*clusterpb.ChangePeer{ch(learner, 5, 5)}, after: "1:VOTER 2:VOTER 3:VOTER 4:LEARNER 5:LEARNER"},
		{name: "promote", changes: []*clusterpb.ChangePeer{ch(voter, 4, 4)}, after: "1:VOTER 2:VOTER 3:VOTER 4:VOTER"},
		{name: "remove voter", changes: []*clusterpb.ChangePeer{ch(remove, 2, 2)}, after: "1:VOTER 3:VOTER 4:LEARNER"},
		{name: "promote and remove", changes: []*clusterpb.ChangePeer{ch(voter, 4, 4), ch(remove, 3, 3)},
			joint: "1:VOTER 2:VOTER 3:REMOVING_VOTER 4:INCOMING_VOTER", after: "1:VOTER 2:VOTER 4:VOTER"},
		{name: "add voter and remove voter", changes: []*clusterpb.ChangePeer{ch(voter, 5, 5), ch(remove, 1, 1)},
			joint: "1:REMOVING_VOTER 2:VOTER 3:VOTER 4:LEARNER 5:INCOMING_VOTER", after: "2:VOTER 3:VOTER 4:LEARNER 5:VOTER"},
		{name: "swap roles", changes: []*clusterpb.ChangePeer{ch(voter, 4, 4), ch(learner, 2, 2)},
			joint: "1:VOTER 2:DEMOTING_VOTER 3:VOTER 4:INCOMING_VOTER", after: "1:VOTER 2:LEARNER 3:VOTER 4:VOTER"},
		{name: "replace two, remove learner", changes: []*clusterpb.ChangePeer{ch(voter, 5, 5), ch(voter, 6, 6), ch(remove, 2, 2), ch(remove, 3, 3), ch(remove, 4, 4)},
			joint: "1:VOTER 2:REMOVING_VOTER 3:REMOVING_VOTER 5:INCOMING_VOTER 6:INCOMING_VOTER", after: "1:VOTER 5:VOTER 6:VOTER"},
		{name: "remove the last voters", changes: []*clusterpb.ChangePeer{ch(remove, 1, 1), ch(remove, 2, 2), ch(remove, 3, 3)}, err: "no voter would be left"},
		{name: "learners only", changes: []*clusterpb.ChangePeer{ch(learner, 5, 5), ch(remove, 4, 4)}, err: "leave the voters as they are"},
		{name: "same peer twice", changes: []*clusterpb.ChangePeer{ch(voter, 4, 4), ch(remove, 4, 4)}, err: "changed twice"},
		{name: "two peers on one node", changes: []*clusterpb.ChangePeer{ch(voter, 5, 5), ch(voter, 6, 5)}, err: "already holds"},
		{name: "demote alone", changes: []*clusterpb.ChangePeer{ch(learner, 2, 2)}, err: "exists already"},
		{name: "remove unknown", changes: []*clusterpb.ChangePeer{ch(remove, 9, 9)}, err: "not in the region"},
		{name: "none", err: "no change"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rerr := validChanges(base, tc.changes)
			if tc.err != "" {
				if rerr == nil || !strings.Contains(rerr.GetMessage(), tc.err) {
					t.Fatalf("validChanges = %v, want a refusal with %q", rerr, tc.err)
				}
				return
			}
			if rerr != nil {
				t.Fatalf("validChanges: %v", rerr.GetMessage())
			}
			// Raft's own view, from the same changes.
			cc := &pb.ConfChangeV2{}
			for _, c := range tc.changes {
				cc.Changes = append(cc.Changes, &pb.ConfChangeSingle{Type: ccType(c.GetType()).Enum(), NodeId: proto.Uint64(c.GetPeer().GetId())})
			}
			chg := confchange.Changer{Tracker: tracker.MakeProgressTracker(10, 0), LastIndex: 10}
			cfg, trk, err := confchange.Restore(chg, confState(base))
			if err != nil {
				t.Fatal(err)
			}
			chg.Tracker.Config, chg.Tracker.Progress = cfg, trk
			nr := changedRegion(base, tc.changes)
			if nr.GetEpoch().GetConfVer() != 4 {
				t.Errorf("conf_ver %d after the change, want 4", nr.GetEpoch().GetConfVer())
			}
			if auto, ok := cc.EnterJoint(); ok {
				if !auto {
					t.Fatal("a joint change that is not left automatically")
				}
				cfg, trk, err = chg.EnterJoint(true, cc.Changes...)
			} else {
				cfg, trk, err = chg.Simple(cc.Changes...)
			}
			if err != nil {
				t.Fatalf("raft refuses the change: %v", err)
			}
			chg.Tracker.Config, chg.Tracker.Progress = cfg, trk
			if err := confState(nr).Equivalent(chg.Tracker.ConfState()); err != nil {
				t.Fatalf("descriptor %s is not raft's configuration: %v", roles(nr), err)
			}
			if tc.joint != "" {
				if got := roles(nr); got != tc.joint || !isJoint(nr) {
					t.Fatalf("joint roles %s, want %s", got, tc.joint)
				}
				nr = leftJoint(nr)
				if nr.GetEpoch().GetConfVer() != 5 {
					t.Errorf("conf_ver %d after leaving, want 5", nr.GetEpoch().GetConfVer())
				}
				cfg, trk, err = chg.LeaveJoint()
				if err != nil {
					t.Fatal(err)
				}
				chg.Tracker.Config, chg.Tracker.Progress = cfg, trk
				if err := confState(nr).Equivalent(chg.Tracker.ConfState()); err != nil {
					t.Fatalf("descriptor %s after leaving is not raft's configuration: %v", roles(nr), err)
				}
			}
			if got := roles(nr); got != tc.after || isJoint(nr) {
				t.Fatalf("roles %s, want %s", got, tc.after)
			}
			if rerr := validChanges(nr, []*clusterpb.ChangePeer{ch(learner, 99, 99)}); rerr != nil {
				t.Fatalf("a change after it is refused: %v", rerr.GetMessage())
			}
		})
	}
}

func roles(r *clusterpb.Region) string {
	var out []string
	for _, p := range r.GetPeers() {
		out = append(out, fmt.Sprintf("%d:%s", p.GetId(), p.GetRole()))
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}
