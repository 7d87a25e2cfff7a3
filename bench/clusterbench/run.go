// Package clusterbench runs issue 26's cluster benchmark (go run . cluster):
// the same client load (puts of 100-byte values, linearizable gets, ranges
// of 100 keys; 1, 16 and 64 concurrent clients) against a three-node Strata
// cluster (three `strata server` processes) and a three-member etcd 3.4
// (Debian's etcd-server), interleaved; the idle cost of 1,000 regions on
// three nodes; and the time a new node takes to take over a dead node's
// replicas.
package clusterbench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/strata-db/strata/bench/suite"
	"github.com/strata-db/strata/cluster/clusterpb"
)

// Plan is what a run measures.
type Plan struct {
	Workloads []string `json:"workloads"`
	Clients   []int    `json:"clients"`
	Systems   []string `json:"systems"`
	Reps      int      `json:"reps"`
	Seconds   float64  `json:"seconds"`
	Warmup    float64  `json:"warmup_seconds"`
	Keys      int      `json:"keys"`
	ValueSize int      `json:"value_size"`
	RangeSize int      `json:"range_size"`
	// Regions is how many regions the Strata cluster's user key space is
	// split into before the loads (evenly over the key space).
	Regions int `json:"regions"`
	// IdleRegions, IdleSeconds: the idle-cost measurement (0: skipped).
	IdleRegions int     `json:"idle_regions"`
	IdleSeconds float64 `json:"idle_seconds"`
	// CatchupBytes: the catch-up measurement's data (0: skipped).
	CatchupBytes     int64 `json:"catchup_bytes"`
	CatchupValueSize int   `json:"catchup_value_size"`
}

// System is one system under test.
type System struct {
	Name    string   `json:"name"`
	Version string   `json:"version"`
	Notes   []string `json:"notes"`
}

// Header is a results file's first line.
type Header struct {
	Type    string        `json:"type"` // "cluster-run"
	Started time.Time     `json:"started"`
	Command string        `json:"command"`
	Commit  string        `json:"commit"`
	Machine suite.Machine `json:"machine"`
	Plan    Plan          `json:"plan"`
	Systems []System      `json:"systems"`
}

// Record is one later line: a measured load ("cluster-result"), a failed
// one ("cluster-failure"), the idle cost ("cluster-idle") or the catch-up
// ("cluster-catchup").
type Record struct {
	Type     string  `json:"type"`
	Rep      int     `json:"rep,omitempty"`
	System   string  `json:"system,omitempty"`
	Workload string  `json:"workload,omitempty"`
	Clients  int     `json:"clients,omitempty"`
	Outcome  Outcome `json:"outcome"`
	// OpsPerSec is Outcome.Ops / Outcome.Seconds.
	OpsPerSec float64 `json:"ops_per_sec,omitempty"`
	// ServerCPU is the CPU seconds the system's three server processes
	// used in the measured window (warm-up excluded), ServerCPUEach each
	// one's; OtherCPU the other system's (idle) processes'; BenchCPU the
	// load generator's (this process); MachineCPU every processor's busy
	// time, so MachineCPU − ServerCPU − OtherCPU − BenchCPU is what other
	// jobs on the machine took.
	ServerCPU     float64    `json:"server_cpu_s"`
	ServerCPUEach []float64  `json:"server_cpu_each_s,omitempty"`
	OtherCPU      float64    `json:"other_system_cpu_s"`
	BenchCPU      float64    `json:"bench_cpu_s"`
	MachineCPU    float64    `json:"machine_cpu_s"`
	LoadAvg       [3]float64 `json:"loadavg"`
	Error         string     `json:"error,omitempty"`
	Idle          *Idle      `json:"idle,omitempty"`
	Catchup       *Catchup   `json:"catchup,omitempty"`
}

// Idle is an idle-cost measurement of one system.
type Idle struct {
	System  string  `json:"system"`
	Regions int     `json:"regions"` // Strata: regions in the cluster (the meta region included)
	Seconds float64 `json:"seconds"`
	// CPUPercent is each server process's CPU time over the window as a
	// percentage of one core; Total their sum.
	CPUPercent   []float64 `json:"cpu_percent"`
	TotalPercent float64   `json:"total_percent"`
	// Hibernating is how many of the replicas reported hibernating at the
	// end, of Replicas.
	Hibernating int `json:"hibernating"`
	Replicas    int `json:"replicas"`
	// AwakeLeaders is how many of the awake replicas lead their region.
	AwakeLeaders int `json:"awake_leaders"`
	// SetupSeconds is how long the splits took.
	SetupSeconds   float64 `json:"setup_seconds"`
	MachinePercent float64 `json:"machine_percent"` // every processor's busy time, % of one core
}

// Catchup is the catch-up measurement.
type Catchup struct {
	LoadedBytes  int64          `json:"loaded_bytes"` // user keys+values written
	LoadSeconds  float64        `json:"load_seconds"`
	ValueSize    int            `json:"value_size"`
	Regions      int            `json:"regions"`
	DownAfter    float64        `json:"down_after_seconds"` // the scheduler's DownAfter (included in Seconds)
	Seconds      float64        `json:"seconds"`            // from the kill to every region voting on the new node
	JoinSeconds  float64        `json:"join_seconds"`       // from the new node's start to the kill
	Done         bool           `json:"done"`               // false: the timeout ran out first
	NewNodeBytes int64          `json:"new_node_bytes"`     // the new node's directory at the end
	Progress     []CatchupPoint `json:"progress,omitempty"`
	Note         string         `json:"note,omitempty"`
}

// CatchupPoint is how many regions had a voter on the new node (and none
// on the dead one) at a time after the kill.
type CatchupPoint struct {
	Seconds float64 `json:"s"`
	Voters  int     `json:"voters"`
	Clean   int     `json:"clean"`
}

// Options configure a run.
type Options struct {
	Plan      Plan
	StrataBin string // the strata command, built from this repository
	// BaseBin, for the system "strata-base", is another strata command
	// (an older commit's, built by the caller) run the same way, to
	// compare two versions interleaved on one loaded machine.
	BaseBin string
	// StrataArgs are extra arguments of the system strata's servers (the
	// loads only).
	StrataArgs []string
	EtcdBin    string // etcd 3.4
	Work       string // data directories and logs
	Profiles   bool   // Strata servers write CPU profiles to Work/profiles, the load generator client.cpu.prof
	Command    string
	Commit     string
	Out        io.Writer
	Log        io.Writer
	CatchupMax time.Duration
}

// Execute runs the plan and writes the header and records to o.Out.
func Execute(ctx context.Context, o Options) error {
	p := o.Plan
	enc := json.NewEncoder(o.Out)
	h := Header{Type: "cluster-run", Started: time.Now().UTC(), Command: o.Command, Commit: o.Commit,
		Machine: suite.DescribeMachine(o.Work), Plan: p}
	for _, s := range p.Systems {
		switch s {
		case "strata":
			h.Systems = append(h.Systems, System{Name: "strata", Version: o.Commit, Notes: []string{
				"three `strata server` processes (default settings: 100 ms Raft tick, synced Raft log writes), plaintext gRPC on loopback",
				fmt.Sprintf("user key space split into %d regions before the loads; client: cluster/client (one Client shared by the goroutines; requests go to the region's leader; gets linearizable by ReadIndex)", p.Regions)}})
		case "strata-base":
			h.Systems = append(h.Systems, System{Name: s, Version: o.BaseBin, Notes: []string{"the strata command " + o.BaseBin + ", run as strata is"}})
		case "etcd":
			out, _ := exec.Command(o.EtcdBin, "--version").Output()
			v, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimSpace(string(out)), "etcd Version: "), "\n")
			h.Systems = append(h.Systems, System{Name: "etcd", Version: v, Notes: []string{
				"Debian's etcd-server, three members on loopback (defaults: WAL fsynced per commit, 100 ms heartbeat, --quota-backend-bytes 8 GiB)",
				"client: go.etcd.io/etcd/client/v3 v3.7.3 (one Client over the three endpoints shared by the goroutines; gets linearizable, the default)"}})
		default:
			return fmt.Errorf("unknown system %q", s)
		}
	}
	if err := enc.Encode(h); err != nil {
		return err
	}
	logf := func(format string, args ...any) {
		fmt.Fprintf(o.Log, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
	}
	profileDir := ""
	if o.Profiles {
		profileDir = filepath.Join(o.Work, "profiles")
		if err := os.MkdirAll(profileDir, 0o755); err != nil {
			return err
		}
	}
	if len(p.Workloads) > 0 && len(p.Clients) > 0 && p.Reps > 0 {
		if err := runLoads(ctx, o, enc, logf, profileDir); err != nil {
			return err
		}
	}
	if p.IdleRegions > 0 {
		if err := runIdle(ctx, o, enc, logf); err != nil {
			logf("idle: %v", err)
			if err := enc.Encode(Record{Type: "cluster-failure", Workload: "idle", Error: err.Error()}); err != nil {
				return err
			}
		}
	}
	if p.CatchupBytes > 0 {
		if err := runCatchup(ctx, o, enc, logf); err != nil {
			logf("catch-up: %v", err)
			if err := enc.Encode(Record{Type: "cluster-failure", Workload: "catchup", Error: err.Error()}); err != nil {
				return err
			}
		}
	}
	return nil
}

type target struct {
	c  *Cluster
	kv KV
}

func startSystem(ctx context.Context, o Options, name, dir, profileDir string) (*target, error) {
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var c *Cluster
	var err error
	var kv KV
	switch name {
	case "strata":
		if c, err = StartStrata(o.StrataBin, dir, 3, profileDir, o.StrataArgs...); err != nil {
			return nil, err
		}
		kv, err = NewStrataKV(c.Addrs())
	case "strata-base":
		if profileDir != "" {
			profileDir = filepath.Join(profileDir, "base")
			if err := os.MkdirAll(profileDir, 0o755); err != nil {
				return nil, err
			}
		}
		if c, err = StartStrata(o.BaseBin, dir, 3, profileDir); err != nil {
			return nil, err
		}
		kv, err = NewStrataKV(c.Addrs())
	case "etcd":
		if c, err = StartEtcd(o.EtcdBin, dir, 3); err != nil {
			return nil, err
		}
		kv, err = NewEtcdKV(c.Addrs())
	}
	if err != nil {
		c.Stop()
		return nil, err
	}
	if err := c.waitReady(ctx, 2*time.Minute, func(ctx context.Context) error {
		return kv.Put(ctx, []byte("ready"), []byte("1"))
	}); err != nil {
		kv.Close()
		c.Stop()
		return nil, err
	}
	return &target{c, kv}, nil
}

func (t *target) stop() {
	if t == nil {
		return
	}
	t.kv.Close()
	t.c.Stop()
}

// splitEvenly splits the Strata cluster's user key space at n-1 keys
// spread evenly over keys [0, keys), through Admin.Split on whichever node
// leads the region.
func splitEvenly(ctx context.Context, addrs []string, n, keys int) error {
	if n <= 1 {
		return nil
	}
	admins, done, err := dialAdmins(addrs)
	if err != nil {
		return err
	}
	defer done()
	var splitKeys [][]byte
	for i := 1; i < n; i++ {
		key := Key(i * keys / n)
		if err := split(ctx, admins, key); err != nil {
			return err
		}
		splitKeys = append(splitKeys, key)
	}
	return waitRegionMap(ctx, addrs[0], splitKeys)
}

// waitRegionMap waits until the placement driver's region map (filled by
// the leaders' heartbeats) has a region starting at each split key. Until
// then a client may be told a region that does not hold its key, which
// cluster/client caches and then refuses a one-key put as a cross-region
// batch (ErrCrossRegion).
func waitRegionMap(ctx context.Context, addr string, splitKeys [][]byte) error {
	pd, done, err := dialPD(addr)
	if err != nil {
		return err
	}
	defer done()
	deadline := time.Now().Add(2 * time.Minute)
	for _, k := range splitKeys {
		for {
			rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			resp, err := pd.GetRegion(rctx, &clusterpb.GetRegionRequest{Key: k})
			cancel()
			if err == nil && bytes.Equal(resp.GetRegion().GetStartKey(), k) {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("the region map has no region starting at %s after 2 minutes (%v)", k, err)
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	return nil
}

func dialAdmins(addrs []string) ([]clusterpb.AdminClient, func(), error) {
	var conns []*grpc.ClientConn
	var admins []clusterpb.AdminClient
	done := func() {
		for _, c := range conns {
			c.Close()
		}
	}
	for _, a := range addrs {
		cc, err := grpc.NewClient(a, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			done()
			return nil, nil, err
		}
		conns = append(conns, cc)
		admins = append(admins, clusterpb.NewAdminClient(cc))
	}
	return admins, done, nil
}

// split splits the region holding key at key, trying every node (the
// leader does it) for up to a minute.
// dialPD connects to the placement driver service of the node at addr.
func dialPD(addr string) (clusterpb.PDClient, func(), error) {
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, nil, err
	}
	return clusterpb.NewPDClient(cc), func() { cc.Close() }, nil
}

func split(ctx context.Context, admins []clusterpb.AdminClient, key []byte) error {
	deadline := time.Now().Add(time.Minute)
	var msgs []string
	for time.Now().Before(deadline) {
		for _, ad := range admins {
			rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			resp, err := ad.Split(rctx, &clusterpb.SplitRegionRequest{SplitKey: key})
			cancel()
			if err == nil && resp.GetError() == "" && resp.GetRegionError() == nil {
				return nil
			}
			msg := ""
			switch {
			case err != nil:
				msg = err.Error()
			case resp.GetError() != "":
				msg = resp.GetError()
			default:
				msg = resp.GetRegionError().String()
			}
			if strings.Contains(msg, "already") { // a retried split that did apply
				return nil
			}
			msgs = append(msgs[max(0, len(msgs)-5):], msg)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("split at %s: %s", key, strings.Join(msgs, "; "))
}

func runLoads(ctx context.Context, o Options, enc *json.Encoder, logf func(string, ...any), profileDir string) error {
	p := o.Plan
	targets := map[string]*target{}
	defer func() {
		for _, t := range targets {
			t.stop()
		}
	}()
	for _, s := range p.Systems {
		logf("starting %s", s)
		t, err := startSystem(ctx, o, s, filepath.Join(o.Work, s), profileDir)
		if err != nil {
			return fmt.Errorf("starting %s: %w", s, err)
		}
		targets[s] = t
		if strings.HasPrefix(s, "strata") {
			logf("%s: splitting the key space into %d regions", s, p.Regions)
			if err := splitEvenly(ctx, t.c.Addrs(), p.Regions, p.Keys); err != nil {
				return err
			}
		}
		logf("%s: preloading %d keys", s, p.Keys)
		start := time.Now()
		if _, err := Preload(ctx, t.kv, p.Keys, p.ValueSize, 64, false); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
		logf("%s: preloaded in %.1fs", s, time.Since(start).Seconds())
	}
	if profileDir != "" {
		// The load generator's own profile (the client libraries' CPU),
		// over the loads only: run one system for a clean one.
		f, err := os.Create(filepath.Join(profileDir, "client.cpu.prof"))
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return err
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	var allPIDs []int
	for _, t := range targets {
		allPIDs = append(allPIDs, t.c.PIDs()...)
	}
	for rep := 1; rep <= p.Reps; rep++ {
		turn := 0
		for _, w := range p.Workloads {
			for _, clients := range p.Clients {
				// The systems take turns, the first rotating from one cell to the next.
				for k := range p.Systems {
					s := p.Systems[(k+turn+rep-1)%len(p.Systems)]
					t := targets[s]
					l := Load{Workload: w, Clients: clients, Duration: time.Duration(p.Seconds * float64(time.Second)),
						Warmup: time.Duration(p.Warmup * float64(time.Second)), Keys: p.Keys, ValueSize: p.ValueSize,
						RangeSize: p.RangeSize, Seed: uint64(rep*1000 + clients)}
					rec := measure(ctx, t, l, allPIDs)
					rec.Rep, rec.System = rep, s
					if rec.Error != "" {
						logf("rep %d %s %s×%d: %s", rep, s, w, clients, rec.Error)
					} else {
						logf("rep %d %s %s×%d: %.0f ops/s p50 %.0fµs p99 %.0fµs cpu %.1fs (other jobs %.1fs) errors %d",
							rep, s, w, clients, rec.OpsPerSec, rec.Outcome.P50, rec.Outcome.P99, rec.ServerCPU,
							rec.MachineCPU-rec.ServerCPU-rec.OtherCPU-rec.BenchCPU, rec.Outcome.Errors)
					}
					if err := enc.Encode(rec); err != nil {
						return err
					}
					if ctx.Err() != nil {
						return ctx.Err()
					}
				}
				turn++
			}
		}
	}
	return nil
}

// measure runs one load and attributes the CPU of its measured window.
func measure(ctx context.Context, t *target, l Load, allPIDs []int) Record {
	rec := Record{Type: "cluster-result", Workload: l.Workload, Clients: l.Clients}
	mine := t.c.PIDs()
	var others []int
	for _, pid := range allPIDs {
		if !slices.Contains(mine, pid) {
			others = append(others, pid)
		}
	}
	type result struct {
		out Outcome
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := Run(ctx, t.kv, l)
		done <- result{out, err}
	}()
	time.Sleep(l.Warmup)
	before := takeCPU(allPIDs)
	r := <-done
	after := takeCPU(allPIDs)
	out, err := r.out, r.err
	rec.LoadAvg = LoadAvg()
	rec.Outcome = out
	if err != nil {
		rec.Type, rec.Error = "cluster-failure", err.Error()
		return rec
	}
	if out.Ops == 0 || out.Errors > out.Ops/100 {
		rec.Type = "cluster-failure"
		rec.Error = fmt.Sprintf("%d ops, %d errors (first: %s)", out.Ops, out.Errors, out.FirstErr)
	}
	rec.OpsPerSec = float64(out.Ops) / out.Seconds
	rec.ServerCPU, rec.ServerCPUEach = after.sumSince(before, mine)
	rec.OtherCPU, _ = after.sumSince(before, others)
	rec.BenchCPU = after.self - before.self
	rec.MachineCPU = after.machine - before.machine
	return rec
}
