package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/cluster/certs"
	"github.com/strata-db/strata/cluster/client"
	"github.com/strata-db/strata/cluster/clusterpb"
	"github.com/strata-db/strata/cluster/pd"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// freeAddrs returns n loopback addresses with free ports, below the
// kernel's ephemeral range (ip_local_port_range) when it leaves room: tests
// restart a node on its address, and while the node is down a port in the
// ephemeral range may be handed to any outgoing connection on the machine
// (CI tests packages in parallel: "bind: address already in use").
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	const lowest = 10000
	ephemeral := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if v, err := strconv.Atoi(f[0]); err == nil {
				ephemeral = v
			}
		}
	}
	var out []string
	var ls []net.Listener
	for tries := 0; len(out) < n; tries++ {
		addr := "127.0.0.1:0"
		if ephemeral-lowest >= 1000 && tries < 1000 {
			addr = fmt.Sprintf("127.0.0.1:%d", lowest+rand.IntN(ephemeral-lowest))
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			if addr == "127.0.0.1:0" {
				t.Fatal(err)
			}
			continue // taken: draw another
		}
		ls = append(ls, l)
		out = append(out, l.Addr().String())
	}
	for _, l := range ls {
		l.Close()
	}
	return out
}

type testCluster struct {
	t       *testing.T
	dirs    []string
	addrs   []string
	initial map[uint64]string
	nodes   []*Node
	cfg     func(*Config) // adjusts every node's configuration
}

func startCluster(t *testing.T, n int) *testCluster {
	t.Helper()
	return startClusterWith(t, n, nil)
}

// startClusterWith starts n nodes whose configuration cfg adjusts.
func startClusterWith(t *testing.T, n int, cfg func(*Config)) *testCluster {
	t.Helper()
	c := &testCluster{t: t, addrs: freeAddrs(t, n), initial: map[uint64]string{}, cfg: cfg}
	for i := 0; i < n; i++ {
		c.dirs = append(c.dirs, t.TempDir())
		c.initial[uint64(i+1)] = c.addrs[i]
	}
	c.nodes = make([]*Node, n)
	for i := 0; i < n; i++ {
		c.start(i)
	}
	t.Cleanup(func() {
		for _, nd := range c.nodes {
			if nd != nil {
				nd.Close()
			}
		}
	})
	return c
}

func (c *testCluster) start(i int) {
	c.t.Helper()
	cfg := Config{NodeID: uint64(i + 1), ClusterID: 7, Dir: c.dirs[i], Listen: c.addrs[i],
		InitialCluster: c.initial, TickInterval: 50 * time.Millisecond, HeartbeatInterval: 100 * time.Millisecond,
		MetricsListen: "127.0.0.1:0"}
	if c.cfg != nil {
		c.cfg(&cfg)
	}
	nd, err := Start(cfg)
	if err != nil {
		c.t.Fatalf("starting node %d: %v", i+1, err)
	}
	c.nodes[i] = nd
}

func (c *testCluster) stop(i int) {
	c.t.Helper()
	if err := c.nodes[i].Close(); err != nil {
		c.t.Logf("closing node %d: %v", i+1, err)
	}
	c.nodes[i] = nil
}

func (c *testCluster) client() *client.Client {
	c.t.Helper()
	cl, err := client.New(client.Options{Addrs: c.addrs, AttemptTimeout: time.Second})
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { cl.Close() })
	return cl
}

func (c *testCluster) admin(i int) clusterpb.AdminClient {
	c.t.Helper()
	cc, err := grpc.NewClient(c.addrs[i], grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { cc.Close() })
	return clusterpb.NewAdminClient(cc)
}

// retry runs f until it succeeds or 20 s pass.
func retry(t *testing.T, what string, f func() error) {
	t.Helper()
	retryFor(t, what, 20*time.Second, f)
}

// retryFor runs f until it succeeds or d passes.
func retryFor(t *testing.T, what string, d time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestThreeNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three nodes")
	}
	c := startCluster(t, 3)
	cl := c.client()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	retry(t, "first write", func() error { return cl.Put(ctx, []byte("a"), []byte("1")) })
	for i := 0; i < 100; i++ {
		k := fmt.Sprintf("k%03d", i)
		// A put is idempotent: one whose outcome is unknown (a leader
		// change under a loaded machine) is simply sent again.
		retry(t, "put "+k, func() error { return cl.Put(ctx, []byte(k), []byte("v"+k)) })
	}
	// Split the user region through whichever node leads it.
	var split *clusterpb.SplitRegionResponse
	retry(t, "split", func() error {
		for i := range c.nodes {
			resp, err := c.admin(i).Split(ctx, &clusterpb.SplitRegionRequest{SplitKey: []byte("k050")})
			if err == nil && resp.GetError() == "" {
				split = resp
				return nil
			}
		}
		return errors.New("no node split")
	})
	if string(split.GetRight().GetStartKey()) != "k050" {
		t.Fatalf("split: %v", split)
	}
	// Both sides serve, routed by the region map once it has the split.
	retry(t, "scan across the split", func() error {
		kvs, err := cl.Scan(ctx, []byte("k"), nil, client.ScanOptions{})
		if err != nil {
			return err
		}
		if len(kvs) != 100 {
			return fmt.Errorf("%d pairs", len(kvs))
		}
		return nil
	})
	// A node dies: writes go on (two of three replicas), and it catches up
	// when it returns.
	c.stop(2)
	for i := 0; i < 50; i++ {
		k := fmt.Sprintf("m%03d", i)
		retry(t, "put with a node down", func() error { return cl.Put(ctx, []byte(k), []byte("x")) })
	}
	retry(t, "cas", func() error {
		ok, err := cl.CompareAndSwap(ctx, []byte("a"), []byte("1"), []byte("2"))
		if errors.Is(err, client.ErrUnknownResult) {
			if v, gerr := cl.Get(ctx, []byte("a")); gerr == nil && string(v) == "2" {
				return nil // it applied
			}
		}
		if err == nil && !ok {
			return errors.New("cas refused")
		}
		return err
	})
	c.start(2)
	retry(t, "restarted node catches up", func() error {
		st, err := c.nodes[2].Store().Regions()
		if err != nil {
			return err
		}
		leaderApplied := map[uint64]uint64{}
		for i := 0; i < 2; i++ {
			s, _ := c.nodes[i].Store().Regions()
			for _, r := range s {
				if r.IsLeader {
					leaderApplied[r.Region.GetId()] = r.Applied
				}
			}
		}
		for _, r := range st {
			if a, ok := leaderApplied[r.Region.GetId()]; ok && r.Applied < a {
				return fmt.Errorf("region %d applied %d < leader's %d", r.Region.GetId(), r.Applied, a)
			}
		}
		if len(st) < 3 {
			return fmt.Errorf("%d replicas", len(st))
		}
		return nil
	})
	if v, err := cl.Get(ctx, []byte("a")); err != nil || string(v) != "2" {
		t.Fatalf("get a: %q %v", v, err)
	}
	// Status and metrics.
	st, err := c.admin(0).Status(ctx, &clusterpb.StatusRequest{})
	if err != nil || len(st.GetReplicas()) != 3 || len(st.GetNodes()) != 3 {
		t.Fatalf("status: %v %v", st, err)
	}
	resp, err := http.Get("http://" + c.nodes[0].MetricsAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"# TYPE strata_regions gauge", "strata_regions 3", "strata_raft_splits_total 1"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
}

// TestReplaceDeadNode has a fourth node join a three-node cluster, kills one
// of the first three for good, and checks that the placement driver rebuilds
// its replicas on the new node (learner, promotion, removal of the dead
// peer) while the data stays readable.
func TestReplaceDeadNode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four nodes")
	}
	c := startCluster(t, 3)
	for i, nd := range c.nodes {
		// A short DownAfter for the test (restarted with it).
		nd.Close()
		c.nodes[i] = nil
	}
	addrs := append(c.addrs, freeAddrs(t, 1)...)
	dirs := append(c.dirs, t.TempDir())
	start := func(i int) *Node {
		cfg := Config{NodeID: uint64(i + 1), ClusterID: 7, Dir: dirs[i], Listen: addrs[i],
			TickInterval: 50 * time.Millisecond, HeartbeatInterval: 100 * time.Millisecond,
			ScheduleInterval: 200 * time.Millisecond, Logger: testLogger(t)}
		cfg.Schedule = pdTestConfig()
		if i < 3 {
			cfg.InitialCluster = c.initial
		} else {
			cfg.Join = addrs[:3]
		}
		nd, err := Start(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return nd
	}
	nodes := make([]*Node, 4)
	for i := range nodes {
		nodes[i] = start(i)
	}
	defer func() {
		for _, nd := range nodes {
			if nd != nil {
				nd.Close()
			}
		}
	}()
	cl := c.client()
	ctx := context.Background()
	for i := 0; i < 50; i++ {
		k := fmt.Sprintf("k%03d", i)
		retry(t, "put "+k, func() error { return cl.Put(ctx, []byte(k), []byte("v")) })
	}
	// Node 3 dies for good.
	nodes[2].Close()
	nodes[2] = nil
	// Generous: on a loaded machine (CI under -race) elections and the
	// scheduler's rounds stretch.
	retryFor(t, "replicas rebuilt on node 4", 90*time.Second, func() error {
		st, err := nodes[3].Store().Regions()
		if err != nil {
			t.Fatalf("node 4: %v (%v)", err, nodes[3].Store().Err())
		}
		voters := 0
		for _, s := range st {
			for _, p := range s.Region.GetPeers() {
				if p.GetNodeId() == 3 {
					return fmt.Errorf("region %d still has a peer on node 3", s.Region.GetId())
				}
				if p.GetNodeId() == 4 && p.GetRole() == clusterpb.PeerRole_VOTER {
					voters++
				}
			}
		}
		if voters < 2 {
			return fmt.Errorf("node 4 votes in %d regions", voters)
		}
		return nil
	})
	kvs, err := cl.Scan(ctx, []byte("k"), nil, client.ScanOptions{})
	if err != nil || len(kvs) != 50 {
		t.Fatalf("scan after the move: %d pairs, %v", len(kvs), err)
	}
}

func pdTestConfig() pd.Config {
	cfg := pd.DefaultConfig()
	cfg.DownAfter = 2 * time.Second
	return cfg
}

// testLogger sends a node's messages to the test's log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// TestTLSCluster runs three nodes with mutual TLS: a client with the CA's
// client certificate is served; one without a certificate, or with another
// CA's, is refused.
func TestTLSCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three nodes")
	}
	dir := t.TempDir()
	files, err := certs.Generate(filepath.Join(dir, "ca"), []string{"node1", "node2", "node3", "client"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	other, err := certs.Generate(filepath.Join(dir, "other"), []string{"client"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	addrs := freeAddrs(t, 3)
	initial := map[uint64]string{1: addrs[0], 2: addrs[1], 3: addrs[2]}
	for i := 0; i < 3; i++ {
		f := files[i]
		nd, err := Start(Config{NodeID: uint64(i + 1), ClusterID: 7, Dir: t.TempDir(), Listen: addrs[i],
			InitialCluster: initial, TLS: &f, TickInterval: 50 * time.Millisecond, HeartbeatInterval: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer nd.Close()
	}
	clientWith := func(f *certs.Files) *client.Client {
		var opts []grpc.DialOption
		if f != nil {
			cfg, err := f.ClientConfig()
			if err != nil {
				t.Fatal(err)
			}
			opts = append(opts, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
		}
		cl, err := client.New(client.Options{Addrs: addrs, DialOptions: opts, AttemptTimeout: time.Second, MaxAttempts: 3})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cl.Close() })
		return cl
	}
	ctx := context.Background()
	good := clientWith(&files[3])
	retry(t, "put over mutual TLS", func() error { return good.Put(ctx, []byte("k"), []byte("v")) })
	if v, err := good.Get(ctx, []byte("k")); err != nil || string(v) != "v" {
		t.Fatalf("get over TLS: %q %v", v, err)
	}
	if _, err := clientWith(nil).Get(ctx, []byte("k")); err == nil {
		t.Fatal("a plaintext client was served by a TLS cluster")
	}
	if _, err := clientWith(&other[0]).Get(ctx, []byte("k")); err == nil {
		t.Fatal("a client with another CA's certificate was served")
	}
}

// TestLeaderBalance splits the user region into several; the split regions'
// leaders start where their parent's was, and the scheduler spreads them
// (transfer-leader) until the nodes differ by at most LeaderSpread.
func TestLeaderBalance(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three nodes")
	}
	addrs := freeAddrs(t, 3)
	initial := map[uint64]string{1: addrs[0], 2: addrs[1], 3: addrs[2]}
	var nodes []*Node
	for i := 0; i < 3; i++ {
		nd, err := Start(Config{NodeID: uint64(i + 1), ClusterID: 7, Dir: t.TempDir(), Listen: addrs[i],
			InitialCluster: initial, TickInterval: 50 * time.Millisecond, HeartbeatInterval: 100 * time.Millisecond,
			ScheduleInterval: 200 * time.Millisecond, Schedule: pdTestConfig(), Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		defer nd.Close()
		nodes = append(nodes, nd)
	}
	cl, err := client.New(client.Options{Addrs: addrs, AttemptTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	retry(t, "first write", func() error { return cl.Put(ctx, []byte("a"), []byte("1")) })
	for _, k := range []string{"b", "c", "d", "e", "f", "g", "h"} {
		retry(t, "split at "+k, func() error {
			for i := range addrs {
				if err := splitAt(addrs[i], k); err == nil {
					return nil
				}
			}
			return errors.New("no node split")
		})
	}
	retryFor(t, "leaders balanced", 90*time.Second, func() error {
		var counts []int
		total := 0
		for _, nd := range nodes {
			st, err := nd.Store().Regions()
			if err != nil {
				return err
			}
			n := 0
			for _, s := range st {
				if s.IsLeader {
					n++
				}
			}
			counts = append(counts, n)
			total += n
		}
		lo, hi := slices.Min(counts), slices.Max(counts)
		if total < 9 || hi-lo > pdTestConfig().LeaderSpread {
			return fmt.Errorf("leaders per node %v", counts)
		}
		return nil
	})
}

// TestHibernationOverGRPC: idle regions go to sleep on every node when the
// nodes talk through the real transport (the hibernation notice carries no
// raft message, and the transport dropped such messages once: followers
// then never slept and kept waking their leaders with elections).
func TestHibernationOverGRPC(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three nodes")
	}
	addrs := freeAddrs(t, 3)
	initial := map[uint64]string{1: addrs[0], 2: addrs[1], 3: addrs[2]}
	var nodes []*Node
	for i := 0; i < 3; i++ {
		nd, err := Start(Config{NodeID: uint64(i + 1), ClusterID: 7, Dir: t.TempDir(), Listen: addrs[i],
			InitialCluster: initial, TickInterval: 20 * time.Millisecond, HeartbeatInterval: 100 * time.Millisecond,
			ScheduleInterval: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		defer nd.Close()
		nodes = append(nodes, nd)
	}
	cl, err := client.New(client.Options{Addrs: addrs, AttemptTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	retry(t, "first write", func() error { return cl.Put(context.Background(), []byte("a"), []byte("1")) })
	// The meta region stays awake: the nodes' heartbeats are writes to it.
	retryFor(t, "every user region's replica hibernating", 60*time.Second, func() error {
		asleep, total := 0, 0
		for _, nd := range nodes {
			st, err := nd.Store().Regions()
			if err != nil {
				return err
			}
			for _, s := range st {
				if s.Region.GetId() == metaRegionID {
					continue
				}
				total++
				if s.Hibernating {
					asleep++
				}
			}
		}
		if asleep < total {
			return fmt.Errorf("%d of %d replicas hibernating", asleep, total)
		}
		return nil
	})
}
