package server

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/strata-db/strata/cluster/client"
	"github.com/strata-db/strata/cluster/clusterpb"
	"github.com/strata-db/strata/internal/testenv"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// The register model porcupine checks the multi-process histories against:
// one register per key (partitioned by key), with get, put and
// compare-and-swap. A write whose outcome is unknown gets an infinite return
// time, so it may take effect at any point after its call, or never.

type regOp int

const (
	regGet regOp = iota
	regPut
	regCAS
)

type regInput struct {
	op    regOp
	key   string
	value string // put, cas: the new value
	old   string // cas: the expected value ("" with !oldExists: absent)
	oldOK bool   // cas: the key must exist with old
}

type regOutput struct {
	value   string
	found   bool
	ok      bool // cas: swapped
	unknown bool
}

type regState struct {
	value  string
	exists bool
}

var registerModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range history {
			k := op.Input.(regInput).key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		var out [][]porcupine.Operation
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() any { return regState{} },
	Step: func(state, input, output any) (bool, any) {
		s, in, out := state.(regState), input.(regInput), output.(regOutput)
		switch in.op {
		case regGet:
			return out.found == s.exists && (!s.exists || out.value == s.value), s
		case regPut:
			return true, regState{value: in.value, exists: true}
		}
		holds := s.exists == in.oldOK && (!s.exists || s.value == in.old)
		if !out.unknown && out.ok != holds {
			return false, s
		}
		if holds {
			return true, regState{value: in.value, exists: true}
		}
		return true, s
	},
	Equal: func(a, b any) bool { return a.(regState) == b.(regState) },
	DescribeOperation: func(input, output any) string {
		in, out := input.(regInput), output.(regOutput)
		switch in.op {
		case regGet:
			return fmt.Sprintf("get(%s) -> %q %v", in.key, out.value, out.found)
		case regPut:
			return fmt.Sprintf("put(%s, %s) unknown=%v", in.key, in.value, out.unknown)
		}
		return fmt.Sprintf("cas(%s, %q/%v -> %s) -> %v unknown=%v", in.key, in.old, in.oldOK, in.value, out.ok, out.unknown)
	},
}

// history records a concurrent history for porcupine.
type history struct {
	start                time.Time
	mu                   sync.Mutex
	ops                  []porcupine.Operation
	known, unknown, fail int
}

func (h *history) now() int64 { return int64(time.Since(h.start)) }

// add records an operation: a known outcome, a write whose outcome is
// unknown (infinite return), or a failure that proves the operation took no
// effect (left out).
func (h *history) add(clientID int, in regInput, call int64, out regOutput, err error) {
	ret := h.now()
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case err == nil:
		h.known++
	case errors.Is(err, client.ErrUnknownResult) && in.op != regGet:
		h.unknown++
		out.unknown = true
		ret = math.MaxInt64
	default:
		h.fail++
		return
	}
	h.ops = append(h.ops, porcupine.Operation{ClientId: clientID, Input: in, Call: call, Output: out, Return: ret})
}

// buildStrata builds the strata command into dir (once per test binary).
var buildOnce struct {
	sync.Once
	path string
	err  error
}

func buildStrata(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "strata-bin-")
		if err != nil {
			buildOnce.err = err
			return
		}
		buildOnce.path = filepath.Join(dir, "strata")
		out, err := exec.Command("go", "build", "-o", buildOnce.path, "../../cmd/strata").CombinedOutput()
		if err != nil {
			buildOnce.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildOnce.err != nil {
		t.Fatal(buildOnce.err)
	}
	return buildOnce.path
}

// procCluster runs `strata server` processes on loopback.
type procCluster struct {
	t       *testing.T
	bin     string
	dirs    []string
	addrs   []string
	initial string
	procs   []*exec.Cmd
	logs    []*os.File
	stopped []bool
	// With network namespaces: node i runs in namespace netns[i] at
	// 10.x.y.(11+i), joined to a bridge in the test's namespace by a veth
	// pair whose outer end is veths[i]; a partition takes that end down.
	netns []string
	veths []string
	cut   []bool
}

func startProcCluster(t *testing.T, n int, namespaces bool) *procCluster {
	t.Helper()
	c := &procCluster{t: t, bin: buildStrata(t), procs: make([]*exec.Cmd, n),
		logs: make([]*os.File, n), stopped: make([]bool, n), cut: make([]bool, n)}
	if namespaces {
		c.addrs = setupNamespaces(t, c, n)
	} else {
		c.addrs = freeAddrs(t, n)
	}
	var parts []string
	for i := 0; i < n; i++ {
		c.dirs = append(c.dirs, t.TempDir())
		parts = append(parts, fmt.Sprintf("%d=%s", i+1, c.addrs[i]))
	}
	c.initial = strings.Join(parts, ",")
	for i := 0; i < n; i++ {
		c.start(i)
	}
	t.Cleanup(func() {
		for i, p := range c.procs {
			if p != nil {
				syscall.Kill(p.Process.Pid, syscall.SIGCONT)
				p.Process.Kill()
				p.Wait()
			}
			if c.logs[i] != nil {
				c.logs[i].Close()
			}
		}
		if t.Failed() {
			for i := range c.dirs {
				if b, err := os.ReadFile(filepath.Join(c.dirs[i], "server.log")); err == nil {
					t.Logf("node %d's log (tail):\n%s", i+1, tail(string(b), 3000))
				}
			}
		}
	})
	return c
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func (c *procCluster) start(i int) {
	c.t.Helper()
	if c.logs[i] == nil {
		f, err := os.OpenFile(filepath.Join(c.dirs[i], "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			c.t.Fatal(err)
		}
		c.logs[i] = f
	}
	args := []string{"server", "--id", strconv.Itoa(i + 1), "--dir", filepath.Join(c.dirs[i], "data"),
		"--listen", c.addrs[i], "--initial-cluster", c.initial, "--raft-tick", "50ms"}
	cmd := exec.Command(c.bin, args...)
	if c.netns != nil {
		// ip netns exec execs the server in the namespace: same pid, so
		// signals reach it. Its address is not a loopback one: --insecure.
		cmd = exec.Command("ip", append([]string{"netns", "exec", c.netns[i], c.bin}, append(args, "--insecure")...)...)
	}
	cmd.Stdout, cmd.Stderr = c.logs[i], c.logs[i]
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	c.procs[i] = cmd
	c.stopped[i] = false
}

// kill SIGKILLs node i and reaps it.
func (c *procCluster) kill(i int) {
	p := c.procs[i]
	if c.stopped[i] {
		syscall.Kill(p.Process.Pid, syscall.SIGCONT)
	}
	p.Process.Kill()
	p.Wait()
	c.procs[i] = nil
}

func (c *procCluster) pause(i int) {
	syscall.Kill(c.procs[i].Process.Pid, syscall.SIGSTOP)
	c.stopped[i] = true
}

func (c *procCluster) resume(i int) {
	syscall.Kill(c.procs[i].Process.Pid, syscall.SIGCONT)
	c.stopped[i] = false
}

// partition cuts node i off from every other node and from the clients (its
// veth's outer end goes down); heal brings it back.
func (c *procCluster) partition(i int) {
	if out, err := exec.Command("ip", "link", "set", c.veths[i], "down").CombinedOutput(); err != nil {
		c.t.Fatalf("partition: %v %s", err, out)
	}
	c.cut[i] = true
}

func (c *procCluster) heal(i int) {
	if out, err := exec.Command("ip", "link", "set", c.veths[i], "up").CombinedOutput(); err != nil {
		c.t.Fatalf("heal: %v %s", err, out)
	}
	c.cut[i] = false
}

// setupNamespaces makes a bridge and, per node, a network namespace joined
// to it by a veth pair, and returns the nodes' addresses. Everything is
// removed when the test ends. It needs root and ip(8): the test skips
// without them, except in CI.
func setupNamespaces(t *testing.T, c *procCluster, n int) []string {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.Require(t, "root (for network namespaces)", errors.New("not root"))
	}
	if _, err := exec.LookPath("ip"); err != nil {
		testenv.Require(t, "ip(8)", err)
	}
	tag := os.Getpid() % 10000
	subnet := fmt.Sprintf("10.%d.%d", 100+tag%100, tag/100)
	bridge := fmt.Sprintf("sbr%d", tag)
	run := func(args ...string) error {
		out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	t.Cleanup(func() {
		for _, ns := range c.netns {
			run("ip", "netns", "del", ns)
		}
		run("ip", "link", "del", bridge)
	})
	steps := [][]string{
		{"ip", "link", "add", bridge, "type", "bridge"},
		{"ip", "addr", "add", subnet + ".1/24", "dev", bridge},
		{"ip", "link", "set", bridge, "up"},
	}
	var addrs []string
	for i := 0; i < n; i++ {
		ns, veth := fmt.Sprintf("strata-%d-n%d", tag, i+1), fmt.Sprintf("sv%d-%d", tag, i+1)
		ip := fmt.Sprintf("%s.%d", subnet, 11+i)
		c.netns = append(c.netns, ns)
		c.veths = append(c.veths, veth)
		steps = append(steps,
			[]string{"ip", "netns", "add", ns},
			[]string{"ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns},
			[]string{"ip", "link", "set", veth, "master", bridge},
			[]string{"ip", "link", "set", veth, "up"},
			[]string{"ip", "netns", "exec", ns, "ip", "addr", "add", ip + "/24", "dev", "eth0"},
			[]string{"ip", "netns", "exec", ns, "ip", "link", "set", "eth0", "up"},
			[]string{"ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"},
		)
		addrs = append(addrs, ip+":20160")
	}
	for _, st := range steps {
		if err := run(st...); err != nil {
			testenv.Require(t, "network namespaces", err)
		}
	}
	return addrs
}

// TestProcessesNemesis runs three `strata server` processes on loopback and
// clients doing gets, puts and compare-and-swaps on a few keys while a
// nemesis SIGKILLs (and restarts) or SIGSTOPs (and continues) one node at a
// time, then checks the history for linearizability with porcupine, that
// the cluster serves again after the faults, and that every acknowledged
// write is still there.
func TestProcessesNemesis(t *testing.T) {
	if testing.Short() {
		t.Skip("builds strata and runs three server processes with faults for ~30 s")
	}
	processNemesis(t, false)
}

// TestProcessesNemesisPartitions is TestProcessesNemesis with each node in
// a network namespace of its own, so that the nemesis can also partition a
// node from the others and from the clients (as root; CI runs it).
func TestProcessesNemesisPartitions(t *testing.T) {
	if testing.Short() {
		t.Skip("builds strata and runs three server processes in network namespaces with faults for ~30 s")
	}
	processNemesis(t, true)
}

func processNemesis(t *testing.T, namespaces bool) {
	seed := rand.Uint64()
	if s := os.Getenv("STRATA_CLUSTER_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (STRATA_CLUSTER_SEED to replay the nemesis schedule)", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	c := startProcCluster(t, 3, namespaces)
	newClient := func() *client.Client {
		cl, err := client.New(client.Options{Addrs: c.addrs, AttemptTimeout: 500 * time.Millisecond, MaxAttempts: 30})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cl.Close() })
		return cl
	}
	warm := newClient()
	retry(t, "first write", func() error { return warm.Put(context.Background(), []byte("warm"), []byte("1")) })
	// Split so that the keys live in two regions.
	retry(t, "split", func() error {
		for i := range c.addrs {
			if err := splitAt(c.addrs[i], "key2"); err == nil {
				return nil
			}
		}
		return errors.New("no node split")
	})

	h := &history{start: time.Now()}
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	const keys = 4
	for id := 0; id < 4; id++ {
		wg.Add(1)
		cl := newClient()
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, uint64(id+1)))
			for n := 0; ctx.Err() == nil; n++ {
				key := fmt.Sprintf("key%d", r.IntN(keys))
				val := fmt.Sprintf("c%d-%d", id, n)
				octx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				call := h.now()
				switch r.IntN(3) {
				case 0:
					v, err := cl.Get(octx, []byte(key))
					out := regOutput{value: string(v), found: err == nil}
					if errors.Is(err, client.ErrNotFound) {
						err = nil
					}
					h.add(id, regInput{op: regGet, key: key}, call, out, err)
				case 1:
					err := cl.Put(octx, []byte(key), []byte(val))
					h.add(id, regInput{op: regPut, key: key, value: val}, call, regOutput{}, err)
				default:
					// CAS from the value this client last read, or from absent.
					old, err := cl.Get(octx, []byte(key))
					in := regInput{op: regCAS, key: key, value: val, old: string(old), oldOK: err == nil}
					if err != nil && !errors.Is(err, client.ErrNotFound) {
						cancel()
						continue
					}
					var oldArg []byte
					if in.oldOK {
						oldArg = old
					}
					call = h.now()
					ok, err := cl.CompareAndSwap(octx, []byte(key), oldArg, []byte(val))
					h.add(id, in, call, regOutput{ok: ok}, err)
				}
				cancel()
			}
		}()
	}

	// The nemesis: one fault at a time, each healed before the next.
	faults := 0
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(time.Duration(500+rng.IntN(1000)) * time.Millisecond)
		i := rng.IntN(len(c.addrs))
		down := time.Duration(500+rng.IntN(2000)) * time.Millisecond
		kinds := 2
		if namespaces {
			kinds = 3
		}
		switch rng.IntN(kinds) {
		case 0:
			t.Logf("nemesis: SIGKILL node %d for %v", i+1, down)
			c.kill(i)
			time.Sleep(down)
			c.start(i)
		case 2:
			t.Logf("nemesis: partition node %d for %v", i+1, down)
			c.partition(i)
			time.Sleep(down)
			c.heal(i)
		default:
			t.Logf("nemesis: SIGSTOP node %d for %v", i+1, down)
			c.pause(i)
			time.Sleep(down)
			c.resume(i)
		}
		faults++
	}
	// Healed: the cluster must serve again within a few election timeouts.
	healed := time.Now()
	retry(t, "serving after the faults", func() error {
		return warm.Put(context.Background(), []byte("after"), []byte("1"))
	})
	t.Logf("serving %v after the last fault healed", time.Since(healed).Round(time.Millisecond))
	time.Sleep(time.Second)
	stop()
	wg.Wait()
	// Final reads of every key join the history (they must see the last
	// acknowledged writes).
	for k := 0; k < keys; k++ {
		key := fmt.Sprintf("key%d", k)
		call := h.now()
		var v []byte
		var err error
		retry(t, "final read", func() error {
			v, err = warm.Get(context.Background(), []byte(key))
			if errors.Is(err, client.ErrNotFound) {
				return nil
			}
			return err
		})
		h.add(99, regInput{op: regGet, key: key}, call, regOutput{value: string(v), found: err == nil}, nil)
	}
	t.Logf("%d faults; history: %d operations with known outcome, %d unknown, %d failed (left out)", faults, h.known, h.unknown, h.fail)
	if h.known < 50 {
		t.Fatalf("only %d operations completed: the cluster hardly served", h.known)
	}
	res, info := porcupine.CheckOperationsVerbose(registerModel, h.ops, time.Minute)
	switch res {
	case porcupine.Illegal:
		path := filepath.Join(t.TempDir(), "history.html")
		if f, err := os.Create(path); err == nil {
			porcupine.Visualize(registerModel, info, f)
			f.Close()
		}
		t.Fatalf("history is not linearizable (seed %d; visualization in %s)", seed, path)
	case porcupine.Unknown:
		t.Logf("linearizability check timed out: inconclusive")
	}
}

// splitAt asks the node at addr to split at key.
func splitAt(addr, key string) error {
	cc, err := dialAdmin(addr)
	if err != nil {
		return err
	}
	defer cc.close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := cc.Split(ctx, splitRequest(key))
	if err != nil {
		return err
	}
	if resp.GetError() != "" {
		return errors.New(resp.GetError())
	}
	return nil
}

// adminConn is an Admin client with its connection.
type adminConn struct {
	clusterpb.AdminClient
	cc *grpc.ClientConn
}

func (a adminConn) close() { a.cc.Close() }

func dialAdmin(addr string) (adminConn, error) {
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return adminConn{}, err
	}
	return adminConn{AdminClient: clusterpb.NewAdminClient(cc), cc: cc}, nil
}

func splitRequest(key string) *clusterpb.SplitRegionRequest {
	return &clusterpb.SplitRegionRequest{SplitKey: []byte(key)}
}

// TestMain removes the strata binary the multi-process tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	if buildOnce.path != "" {
		os.RemoveAll(filepath.Dir(buildOnce.path))
	}
	os.Exit(code)
}
