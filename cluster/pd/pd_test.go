package pd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-db/strata/cluster/client"
	"github.com/strata-db/strata/cluster/clusterpb"
	"google.golang.org/protobuf/proto"
)

// modelKV is a KV in memory with the cluster's semantics (conditional
// batches applied atomically).
type modelKV struct {
	mu   sync.Mutex
	data map[string][]byte
}

func newModelKV() *modelKV { return &modelKV{data: map[string][]byte{}} }

func (m *modelKV) Get(_ context.Context, key []byte) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.data[string(key)]
	if !ok {
		return nil, client.ErrNotFound
	}
	return v, nil
}

func (m *modelKV) Scan(_ context.Context, start, end []byte, o client.ScanOptions) ([]client.KV, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var keys []string
	for k := range m.data {
		if k >= string(start) && (end == nil || k < string(end)) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	if o.Reverse {
		for i, j := 0, len(keys)-1; i < j; i, j = i+1, j-1 {
			keys[i], keys[j] = keys[j], keys[i]
		}
	}
	if o.Limit > 0 && len(keys) > o.Limit {
		keys = keys[:o.Limit]
	}
	out := make([]client.KV, len(keys))
	for i, k := range keys {
		out[i] = client.KV{Key: []byte(k), Value: m.data[k]}
	}
	return out, nil
}

func (m *modelKV) Write(_ context.Context, b *client.Batch) (client.WriteResult, error) {
	conds, muts := b.Conditions(), b.Mutations()
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, c := range conds {
		v, ok := m.data[string(c.GetKey())]
		if ok != c.GetExists() || (ok && !bytes.Equal(v, c.GetValue())) {
			return client.WriteResult{FailedCondition: i, Current: v, Exists: ok}, nil
		}
	}
	for _, mu := range muts {
		switch mu.GetOp() {
		case clusterpb.Mutation_PUT:
			m.data[string(mu.GetKey())] = mu.GetValue()
		case clusterpb.Mutation_DELETE:
			delete(m.data, string(mu.GetKey()))
		default:
			return client.WriteResult{}, fmt.Errorf("model: op %v", mu.GetOp())
		}
	}
	return client.WriteResult{Succeeded: true}, nil
}

func region(id uint64, start, end string, ver uint64) *clusterpb.Region {
	return &clusterpb.Region{Id: id, StartKey: []byte(start), EndKey: []byte(end),
		Epoch: &clusterpb.RegionEpoch{ConfVer: 1, Version: ver}}
}

func TestMetaRegionMap(t *testing.T) {
	ctx := context.Background()
	m := NewMeta(newModelKV())
	if _, err := m.GetRegion(ctx, []byte("a"), false); !errors.Is(err, ErrRegionUnknown) {
		t.Fatalf("empty map: %v", err)
	}
	if n, err := m.PutRegions(ctx, region(1, "", "\xff", 1), region(2, "\xff", "", 1)); err != nil || n != 2 {
		t.Fatalf("bootstrap: %d %v", n, err)
	}
	get := func(key string, prev bool) string {
		r, err := m.GetRegion(ctx, []byte(key), prev)
		if err != nil {
			return err.Error()
		}
		return fmt.Sprintf("%d:%d", r.Id, r.Epoch.Version)
	}
	if got := get("k", false); got != "1:1" {
		t.Fatalf("get k = %s", got)
	}
	// Split region 1 at "m": the right side is reported first, then the
	// left; then a late report of the old descriptor is ignored.
	if n, err := m.PutRegions(ctx, region(3, "m", "\xff", 2)); err != nil || n != 0 {
		// The right side overlaps region 1 (version 1) and is newer: it
		// replaces nothing that starts inside it, but the old region 1
		// entry overlaps and is older, so it goes.
		if err != nil {
			t.Fatal(err)
		}
	}
	if n, err := m.PutRegions(ctx, region(1, "", "m", 2), region(3, "m", "\xff", 2)); err != nil {
		t.Fatalf("split report: %d %v", n, err)
	}
	if n, err := m.PutRegions(ctx, region(1, "", "\xff", 1)); err != nil || n != 0 {
		t.Fatalf("late report stored %d (%v)", n, err)
	}
	for _, c := range []struct {
		key  string
		prev bool
		want string
	}{
		{"", false, "1:2"}, {"a", false, "1:2"}, {"m", false, "3:2"}, {"z", false, "3:2"},
		{"\xff", false, "2:1"}, {"\xff\x01", false, "2:1"},
		{"m", true, "1:2"}, {"n", true, "3:2"}, {"", true, "2:1"}, {"\xff", true, "3:2"},
	} {
		if got := get(c.key, c.prev); got != c.want {
			t.Errorf("GetRegion(%q, prev=%v) = %s, want %s", c.key, c.prev, got, c.want)
		}
	}
	rs, err := m.ScanRegions(ctx, []byte("b"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var ids []uint64
	for _, r := range rs {
		ids = append(ids, r.Id)
	}
	if fmt.Sprint(ids) != "[1 3 2]" {
		t.Fatalf("scan regions from b: %v", ids)
	}
	if rs, _ := m.ScanRegions(ctx, []byte("b"), []byte("c"), 0); len(rs) != 1 || rs[0].Id != 1 {
		t.Fatalf("scan regions [b,c): %v", rs)
	}
}

// TestMetaConcurrentReports has many reporters racing splits of one key
// space: the map always ends with the newest descriptor of each range and no
// overlaps.
func TestMetaConcurrentReports(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	ctx := context.Background()
	m := NewMeta(newModelKV())
	// The final layout: [""-"c") v3, ["c"-"f") v3, ["f"-"\xff") v2, and
	// the history of descriptors that led to it.
	history := []*clusterpb.Region{
		region(1, "", "\xff", 1),
		region(1, "", "f", 2), region(2, "f", "\xff", 2),
		region(1, "", "c", 3), region(3, "c", "f", 3),
	}
	rng := rand.New(rand.NewPCG(seed, 1))
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		order := rng.Perm(len(history))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, i := range order {
				if _, err := m.PutRegions(ctx, history[i]); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	rs, err := m.ScanRegions(ctx, nil, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rs {
		got = append(got, fmt.Sprintf("%d[%q,%q)v%d", r.Id, r.StartKey, r.EndKey, r.Epoch.Version))
	}
	want := `1["",c)v3 3[c,f)v3 2[f,"\xff")v2`
	want = strings.ReplaceAll(want, `""`, `""`)
	if g := strings.Join(got, " "); g != `1["","c")v3 3["c","f")v3 2["f","\xff")v2` {
		t.Fatalf("map after concurrent reports (seed %d): %s", seed, g)
	}
}

func TestMetaNodesAndIDs(t *testing.T) {
	ctx := context.Background()
	m := NewMeta(newModelKV())
	for i := uint64(1); i <= 3; i++ {
		if err := m.PutNode(ctx, &clusterpb.Node{Id: i, Address: fmt.Sprintf("127.0.0.1:%d", 7000+i)}); err != nil {
			t.Fatal(err)
		}
	}
	ns, err := m.Nodes(ctx)
	if err != nil || len(ns) != 3 || ns[2].Address != "127.0.0.1:7003" {
		t.Fatalf("nodes: %v %v", ns, err)
	}
	if err := m.SetIDFloor(ctx, 100); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[uint64]bool{}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				first, err := m.AllocIDs(ctx, 3)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for id := first; id < first+3; id++ {
					if seen[id] || id < 100 {
						t.Errorf("id %d allocated twice or below the floor", id)
					}
					seen[id] = true
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := m.SetIDFloor(ctx, 50); err != nil { // never lowers
		t.Fatal(err)
	}
	if first, _ := m.AllocIDs(ctx, 1); first != 100+8*20*3 {
		t.Fatalf("next id %d", first)
	}
}

// --- the scheduler ---

func nodesUp(now time.Time, ids ...uint64) []NodeState {
	var out []NodeState
	for _, id := range ids {
		out = append(out, NodeState{Node: &clusterpb.Node{Id: id}, LastHeartbeat: now})
	}
	return out
}

func rs(id uint64, leader uint64, peers ...string) RegionState {
	r := &clusterpb.Region{Id: id, Epoch: &clusterpb.RegionEpoch{}}
	st := RegionState{Region: r, Leader: leader}
	for _, p := range peers {
		// "11@1" voter peer 11 on node 1; "L14@4" learner; "P14@4" pending learner
		var pid, node uint64
		role := clusterpb.PeerRole_VOTER
		pending := false
		switch p[0] {
		case 'L':
			role, p = clusterpb.PeerRole_LEARNER, p[1:]
		case 'P':
			role, p, pending = clusterpb.PeerRole_LEARNER, p[1:], true
		}
		fmt.Sscanf(p, "%d@%d", &pid, &node)
		r.Peers = append(r.Peers, &clusterpb.Peer{Id: pid, NodeId: node, Role: role})
		if pending {
			st.Pending = append(st.Pending, pid)
		}
	}
	return st
}

// jointRS marks st's peer out as REMOVING_VOTER and in as INCOMING_VOTER.
func jointRS(st RegionState, out, in uint64) RegionState {
	peerByID(st.Region, out).Role = clusterpb.PeerRole_REMOVING_VOTER
	peerByID(st.Region, in).Role = clusterpb.PeerRole_INCOMING_VOTER
	return st
}

func TestSchedule(t *testing.T) {
	now := time.Unix(1000, 0)
	cfg := DefaultConfig()
	down := func(ns []NodeState, id uint64) []NodeState {
		for i := range ns {
			if ns[i].Node.Id == id {
				ns[i].LastHeartbeat = now.Add(-time.Minute)
			}
		}
		return ns
	}
	// fresh: the nodes as a PD leader that took over a second ago sees
	// them (their heartbeats not moved since: unsure).
	fresh := func(ns []NodeState) []NodeState {
		for i := range ns {
			ns[i].Watched = now.Add(-time.Second)
			ns[i].LastHeartbeat = ns[i].Watched
		}
		return ns
	}
	beat := func(ns []NodeState, ids ...uint64) []NodeState {
		for i := range ns {
			if slices.Contains(ids, ns[i].Node.Id) {
				ns[i].LastHeartbeat = now
			}
		}
		return ns
	}
	reported := func(st RegionState, down, pending []uint64) RegionState {
		st.Down, st.Pending = down, append(st.Pending, pending...)
		return st
	}
	unknownSilence := func(st RegionState) RegionState {
		st.SilenceUnknown = true
		return st
	}
	cases := []struct {
		name    string
		nodes   []NodeState
		regions []RegionState
		want    string
	}{
		// A new PD leader counts a dead node up for DownAfter: the
		// voter to replace comes from the leader's report, never a
		// healthy one by load.
		{"new PD: the voter the leader does not hear is replaced", fresh(nodesUp(now, 1, 2, 3, 4)),
			[]RegionState{reported(rs(1, 11, "11@1", "12@2", "13@3", "L14@4"), []uint64{13}, nil)},
			"region 1: replace-voter peer 14 on node 4 for peer 13 on node 3 (caught up; peer 13 on node 3 not heard from by its leader)"},
		{"new PD: a lagging voter is replaced", fresh(nodesUp(now, 1, 2, 3, 4)),
			[]RegionState{reported(rs(1, 11, "11@1", "12@2", "13@3", "L14@4"), nil, []uint64{13})},
			"region 1: replace-voter peer 14 on node 4 for peer 13 on node 3 (caught up; peer 13 on node 3 lagging its leader)"},
		{"new PD: no report, no replacement", fresh(nodesUp(now, 1, 2, 3, 4)),
			[]RegionState{rs(1, 11, "11@1", "12@2", "13@3", "L14@4")}, ""},
		{"new PD: no report, no surplus removal", fresh(nodesUp(now, 1, 2, 3, 4)),
			[]RegionState{rs(1, 11, "11@1", "12@2", "13@3", "14@4")}, ""},
		{"new PD: heard nodes are sure", beat(fresh(nodesUp(now, 1, 2, 3, 4)), 1, 2, 3, 4),
			[]RegionState{rs(1, 11, "11@1", "12@2", "13@3", "14@4")}, "region 1: remove-peer peer 12 on node 2 (surplus voter)"},
		{"new PD: an unsure node gets no replica", beat(fresh(nodesUp(now, 1, 2, 3)), 1, 3),
			[]RegionState{rs(1, 11, "11@1")}, "region 1: add-learner peer 1000 on node 3 (too few replicas)"},
		{"new PD: no balancing", fresh(nodesUp(now, 1, 2, 3)),
			[]RegionState{rs(1, 11, "11@1", "12@2", "13@3"), rs(2, 21, "21@1", "22@2", "23@3"),
				rs(3, 31, "31@1", "32@2", "33@3"), rs(4, 41, "41@1", "42@2", "43@3")}, ""},
		{"surplus: the voter the leader does not hear goes first", nodesUp(now, 1, 2, 3, 4),
			[]RegionState{reported(rs(1, 11, "11@1", "12@2", "13@3", "14@4"), []uint64{13}, nil)},
			"region 1: remove-peer peer 13 on node 3 (peer 13 on node 3 not heard from by its leader)"},
		{"surplus: a leader just elected or woken cannot vouch", nodesUp(now, 1, 2, 3, 4),
			[]RegionState{unknownSilence(rs(1, 11, "11@1", "12@2", "13@3", "L14@4"))}, ""},
		{"surplus: a dead voter goes even when the leader cannot vouch", down(nodesUp(now, 1, 2, 3, 4), 3),
			[]RegionState{unknownSilence(rs(1, 11, "11@1", "12@2", "13@3", "L14@4"))},
			"region 1: replace-voter peer 14 on node 4 for peer 13 on node 3 (caught up; node 3 down or removed)"},
		{"no leadership to a silent voter", nodesUp(now, 1, 2, 3),
			[]RegionState{reported(rs(1, 11, "11@1", "12@2", "13@3"), []uint64{12}, nil), rs(2, 21, "21@1", "22@2", "23@3"),
				rs(3, 31, "31@1", "32@2", "33@3"), rs(4, 41, "41@1", "42@2", "43@3")},
			"region 2: transfer-leader peer 22 on node 2 (balance leaders: node 1 has 4, node 2 has 0)"},
		{"balance regions: leadership off the busiest node first", nodesUp(now, 1, 2, 3, 4),
			[]RegionState{rs(1, 11, "11@1", "12@2", "13@3"), rs(2, 21, "21@1", "22@2", "23@3"),
				rs(3, 31, "31@1", "32@2", "33@3"), rs(4, 41, "41@1", "42@2", "43@3"), rs(5, 51, "51@1", "52@2", "53@3")},
			"region 1: transfer-leader peer 12 on node 2 (balance leaders: node 1 has 5, node 2 has 0); " +
				"region 2: transfer-leader peer 22 on node 2 (balance regions: node 1 has 5 and leads the regions to move)"},
		{"surplus: the dead leader's stale report is ignored", down(nodesUp(now, 1, 2, 3, 4), 3),
			[]RegionState{reported(rs(1, 13, "11@1", "12@2", "13@3", "L14@4"), []uint64{12}, nil)},
			"region 1: promote-learner peer 14 on node 4 (caught up)"},
		{"healthy", nodesUp(now, 1, 2, 3),
			[]RegionState{rs(1, 11, "11@1", "12@2", "13@3")}, ""},
		{"under-replicated", nodesUp(now, 1, 2, 3),
			[]RegionState{rs(1, 11, "11@1")}, "region 1: add-learner peer 1000 on node 2 (too few replicas)"},
		{"dead node replaced", down(nodesUp(now, 1, 2, 3, 4), 3),
			[]RegionState{rs(1, 11, "11@1", "12@2", "13@3")}, "region 1: add-learner peer 1000 on node 4 (replace the replica on node 3)"},
		{"pending learner waits", down(nodesUp(now, 1, 2, 3, 4), 3),
			[]RegionState{rs(1, 11, "11@1", "12@2", "13@3", "P14@4")}, ""},
		{"caught-up learner replaces the dead voter", down(nodesUp(now, 1, 2, 3, 4), 3),
			[]RegionState{rs(1, 11, "11@1", "12@2", "13@3", "L14@4")}, "region 1: replace-voter peer 14 on node 4 for peer 13 on node 3 (caught up; node 3 down or removed)"},
		{"caught-up learner replaces a surplus voter", nodesUp(now, 1, 2, 3, 4),
			[]RegionState{rs(1, 11, "11@1", "12@2", "13@3", "L14@4")}, "region 1: replace-voter peer 14 on node 4 for peer 12 on node 2 (caught up; surplus voter)"},
		{"caught-up learner promoted alone when the dead voter leads", down(nodesUp(now, 1, 2, 3, 4), 3),
			[]RegionState{rs(1, 13, "11@1", "12@2", "13@3", "L14@4")}, "region 1: promote-learner peer 14 on node 4 (caught up)"},
		{"joint region waits", down(nodesUp(now, 1, 2, 3, 4), 3),
			[]RegionState{jointRS(rs(1, 11, "11@1", "12@2", "13@3", "14@4"), 13, 14)}, ""},
		{"dead voter removed once replaced", down(nodesUp(now, 1, 2, 3, 4), 3),
			[]RegionState{rs(1, 11, "11@1", "12@2", "13@3", "14@4")}, "region 1: remove-peer peer 13 on node 3 (node 3 down or removed)"},
		{"learner on a dead node dropped", down(nodesUp(now, 1, 2, 3, 4), 4),
			[]RegionState{rs(1, 11, "11@1", "12@2", "P14@4")}, "region 1: remove-peer peer 14 on node 4 (learner on a down node)"},
		{"no node to move to", down(nodesUp(now, 1, 2, 3), 3),
			[]RegionState{rs(1, 11, "11@1", "12@2", "13@3")}, ""},
		{"dead leader not removed", down(nodesUp(now, 1, 2, 3, 4), 1),
			[]RegionState{rs(1, 11, "11@1", "12@2", "13@3", "14@4")}, ""},
		{"leaders balanced", nodesUp(now, 1, 2, 3),
			[]RegionState{rs(1, 11, "11@1", "12@2", "13@3"), rs(2, 21, "21@1", "22@2", "23@3"),
				rs(3, 31, "31@1", "32@2", "33@3"), rs(4, 41, "41@1", "42@2", "43@3")},
			"region 1: transfer-leader peer 12 on node 2 (balance leaders: node 1 has 4, node 2 has 0)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			next := uint64(1000)
			ops := Schedule(now, c.nodes, c.regions, cfg, func() uint64 { next++; return next - 1 })
			var got []string
			for _, op := range ops {
				got = append(got, op.String())
			}
			if g := strings.Join(got, "; "); g != c.want {
				t.Fatalf("got  %s\nwant %s", g, c.want)
			}
		})
	}
}

// TestScheduleConverges runs rounds of the scheduler against a simulated
// cluster (operators applied at once, learners caught up one round later)
// from random starts with nodes dying, and checks it reaches three healthy
// voters per region on distinct live nodes, with balanced load, and stops.
func TestScheduleConverges(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	now := time.Unix(1000, 0)
	cfg := DefaultConfig()
	for trial := 0; trial < 50; trial++ {
		nNodes := 3 + rng.IntN(5)
		var nodes []NodeState
		for i := 1; i <= nNodes; i++ {
			nodes = append(nodes, NodeState{Node: &clusterpb.Node{Id: uint64(i)}, LastHeartbeat: now})
		}
		next := uint64(10000)
		alloc := func() uint64 { next++; return next }
		var regions []RegionState
		for r := 1; r <= 1+rng.IntN(20); r++ {
			st := RegionState{Region: &clusterpb.Region{Id: uint64(r), Epoch: &clusterpb.RegionEpoch{}}}
			for _, n := range rng.Perm(3) { // start on nodes 1-3 only: unbalanced
				st.Region.Peers = append(st.Region.Peers, &clusterpb.Peer{Id: alloc(), NodeId: uint64(n + 1)})
			}
			st.Leader = st.Region.Peers[0].Id
			regions = append(regions, st)
		}
		// Some nodes beyond the third die (at most nNodes-3 so that three
		// live nodes remain).
		dead := map[uint64]bool{}
		for i := 0; i < rng.IntN(nNodes-2); i++ {
			id := uint64(1 + rng.IntN(nNodes))
			if len(dead) < nNodes-3 {
				dead[id] = true
				nodes[id-1].LastHeartbeat = now.Add(-time.Hour)
			}
		}
		rounds := 0
		for ; rounds < 1000; rounds++ {
			// Learners added last round have caught up by now.
			for i := range regions {
				regions[i].Pending = nil
			}
			ops := Schedule(now, nodes, regions, cfg, alloc)
			if len(ops) == 0 {
				break
			}
			for _, op := range ops {
				st := &regions[op.RegionID-1]
				switch op.Kind {
				case AddLearner:
					st.Region.Peers = append(st.Region.Peers, proto.Clone(op.Peer).(*clusterpb.Peer))
					st.Pending = append(st.Pending, op.Peer.Id)
				case PromoteLearner:
					peerByID(st.Region, op.Peer.Id).Role = clusterpb.PeerRole_VOTER
				case ReplaceVoter:
					if op.Remove.Id == st.Leader || peerByID(st.Region, op.Peer.Id).Role != clusterpb.PeerRole_LEARNER {
						t.Fatalf("seed %d: region %d: %v replaces the leader or promotes a voter", seed, op.RegionID, op)
					}
					peerByID(st.Region, op.Peer.Id).Role = clusterpb.PeerRole_VOTER
					st.Region.Peers = slicesDelete(st.Region.Peers, op.Remove.Id)
				case RemovePeer:
					if op.Peer.Id == st.Leader {
						t.Fatalf("seed %d: removed region %d's leader", seed, op.RegionID)
					}
					st.Region.Peers = slicesDelete(st.Region.Peers, op.Peer.Id)
				case TransferLeader:
					st.Leader = op.Peer.Id
				}
			}
			// A leader on a dead node is replaced by an election.
			for i := range regions {
				if lp := peerByID(regions[i].Region, regions[i].Leader); lp == nil || dead[lp.NodeId] {
					for _, p := range regions[i].Region.Peers {
						if !dead[p.NodeId] && p.Role == clusterpb.PeerRole_VOTER {
							regions[i].Leader = p.Id
							break
						}
					}
				}
			}
		}
		if rounds == 1000 {
			t.Fatalf("seed %d trial %d: no convergence", seed, trial)
		}
		count := map[uint64]int{}
		for _, st := range regions {
			onNode := map[uint64]bool{}
			voters := 0
			for _, p := range st.Region.Peers {
				if dead[p.NodeId] || onNode[p.NodeId] || p.Role != clusterpb.PeerRole_VOTER {
					t.Fatalf("seed %d trial %d: region %v ends with a bad peer %v", seed, trial, st.Region, p)
				}
				onNode[p.NodeId] = true
				voters++
				count[p.NodeId]++
			}
			if voters != 3 {
				t.Fatalf("seed %d trial %d: region %d has %d voters", seed, trial, st.Region.Id, voters)
			}
		}
		lo, hi := 1<<30, 0
		for id := uint64(1); id <= uint64(nNodes); id++ {
			if dead[id] {
				continue
			}
			lo, hi = min(lo, count[id]), max(hi, count[id])
		}
		if hi-lo > cfg.RegionSpread {
			t.Fatalf("seed %d trial %d: replicas per node from %d to %d", seed, trial, lo, hi)
		}
	}
}

func slicesDelete(ps []*clusterpb.Peer, id uint64) []*clusterpb.Peer {
	out := ps[:0]
	for _, p := range ps {
		if p.Id != id {
			out = append(out, p)
		}
	}
	return out
}
