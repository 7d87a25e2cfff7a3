package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/strata-db/strata/cluster/certs"
	"github.com/strata-db/strata/cluster/client"
	"github.com/strata-db/strata/cluster/clusterpb"
	"github.com/strata-db/strata/cluster/server"
	"github.com/strata-db/strata/dataio"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// clusterTLS names the certificate directory flags shared by the cluster
// commands: --tls-dir DIR holding ca.crt and NAME.crt/NAME.key as `strata
// cluster certs` writes them.
type clusterTLS struct {
	dir, name string
}

func (t *clusterTLS) add(c *cobra.Command, defName string) {
	c.Flags().StringVar(&t.dir, "tls-dir", "", "directory of certificates made by `strata cluster certs` (mutual TLS); empty: plaintext")
	c.Flags().StringVar(&t.name, "tls-name", defName, "the certificate in --tls-dir to present (NAME.crt, NAME.key)")
}

func (t *clusterTLS) files() *certs.Files {
	if t.dir == "" {
		return nil
	}
	return &certs.Files{CA: filepath.Join(t.dir, "ca.crt"), Cert: filepath.Join(t.dir, t.name+".crt"), Key: filepath.Join(t.dir, t.name+".key")}
}

func (t *clusterTLS) dialOptions() ([]grpc.DialOption, error) {
	f := t.files()
	if f == nil {
		return []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, nil
	}
	cfg, err := f.ClientConfig()
	if err != nil {
		return nil, err
	}
	return []grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(cfg))}, nil
}

// parseInitialCluster reads "1=host:port,2=host:port".
func parseInitialCluster(s string) (map[uint64]string, error) {
	out := map[uint64]string{}
	if s == "" {
		return out, nil
	}
	for _, part := range strings.Split(s, ",") {
		id, addr, ok := strings.Cut(strings.TrimSpace(part), "=")
		n, err := strconv.ParseUint(id, 10, 64)
		if !ok || err != nil || n == 0 || addr == "" {
			return nil, usageError{fmt.Errorf("--initial-cluster: %q is not ID=HOST:PORT with a non-zero ID", part)}
		}
		out[n] = addr
	}
	return out, nil
}

func splitAddrs(s string) []string {
	var out []string
	for _, a := range strings.Split(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

func newServerCmd(e *env) *cobra.Command {
	var id, clusterID uint64
	var dir, listen, advertise, initial, join, metrics, cpuProfile string
	var insecureListen, verbose, leaseReads bool
	var tick, leaseDrift time.Duration
	var gcPercent int
	gcFloorMiB := defaultGCFloorMiB
	var tls clusterTLS
	c := &cobra.Command{
		Use:   "server --id N --dir DIR --listen ADDR (--initial-cluster 1=ADDR,2=ADDR,3=ADDR | --join ADDRS)",
		Short: "Run one node of a Strata cluster",
		Long: `server runs one node of a cluster (see docs/cluster.md) until interrupted
(SIGINT or SIGTERM): its regions' replicas live in one Strata database under
--dir, it talks to the other nodes and to clients with gRPC on --listen.

The cluster's first nodes are named by --initial-cluster (the same list on each);
on an empty --dir such a node bootstraps the first regions with them. A later
node joins with --join (addresses of running nodes).

With --tls-dir (from strata cluster certs) every connection is mutual TLS with
the certificate --tls-name (default nodeN). Without it the node speaks
plaintext and refuses to listen on a non-loopback address unless --insecure.`,
		Args: args(0, 0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ic, err := parseInitialCluster(initial)
			if err != nil {
				return err
			}
			if len(ic) == 0 && join == "" {
				return usageError{errors.New("give --initial-cluster (a first node) or --join (a later one)")}
			}
			if tls.name == "" {
				tls.name = fmt.Sprintf("node%d", id)
			}
			// GOGC in the environment wins over the flag's default.
			if cmd.Flags().Changed("gogc") || os.Getenv("GOGC") == "" {
				debug.SetGCPercent(gcPercent)
			}
			if gcFloorMiB < 0 {
				return usageError{fmt.Errorf("--gc-floor-mib %d: want at least 0", gcFloorMiB)}
			}
			setGCFloor(gcFloorMiB)
			stopProfile, err := startCPUProfile(cpuProfile)
			if err != nil {
				return err
			}
			defer stopProfile()
			level := slog.LevelInfo
			if verbose {
				level = slog.LevelDebug
			}
			n, err := server.Start(server.Config{NodeID: id, ClusterID: clusterID, Dir: dir, Listen: listen,
				Advertise: advertise, InitialCluster: ic, Join: splitAddrs(join), TLS: tls.files(),
				Insecure: insecureListen, MetricsListen: metrics, TickInterval: tick,
				LeaseReads: leaseReads, LeaseClockDrift: leaseDrift,
				Logger: slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))})
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "strata server: node %d serving on %s", id, n.Addr())
			if m := n.MetricsAddr(); m != "" {
				fmt.Fprintf(e.stdout, ", metrics on http://%s/metrics", m)
			}
			fmt.Fprintln(e.stdout)
			waitSignal()
			return n.Close()
		},
	}
	c.Flags().Uint64Var(&id, "id", 0, "this node's id (non-zero, never reused)")
	c.MarkFlagRequired("id")
	c.Flags().StringVar(&dir, "dir", "", "the node's directory (created if missing)")
	c.MarkFlagRequired("dir")
	c.Flags().StringVar(&listen, "listen", "127.0.0.1:20160", "gRPC address to listen on")
	c.Flags().StringVar(&advertise, "advertise", "", "address the others reach this node at (default: --listen)")
	c.Flags().StringVar(&initial, "initial-cluster", "", "the first nodes: ID=HOST:PORT,...")
	c.Flags().StringVar(&join, "join", "", "addresses of running nodes, for a node that joins")
	c.Flags().Uint64Var(&clusterID, "cluster-id", 1, "the cluster's id: messages of another cluster are refused")
	c.Flags().StringVar(&metrics, "metrics", "", "HTTP address for /metrics (Prometheus text format)")
	c.Flags().BoolVar(&insecureListen, "insecure", false, "allow plaintext on a non-loopback address")
	c.Flags().BoolVar(&verbose, "verbose", false, "log debug messages")
	c.Flags().IntVar(&gcPercent, "gogc", 100, "the Go collector's GOGC percentage (the GOGC environment variable wins over the default; -1: no collection); 200 halved the collector's share of a put's CPU in profiles, but its effect on the CPU per put was within this machine's noise, so the default is Go's")
	c.Flags().IntVar(&gcFloorMiB, "gc-floor-mib", defaultGCFloorMiB, "MiB the Go heap may grow beyond what is live before the collector runs (0: Go's default); a node's live heap is a few MiB (its memtables and block cache are outside it), so without a floor the collector runs every few MiB allocated")
	c.Flags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the server's run to this file when it stops on SIGINT/SIGTERM (go tool pprof)")
	c.Flags().DurationVar(&tick, "raft-tick", 100*time.Millisecond, "Raft's tick; elections time out after 10 ticks, leaders heartbeat every 2 (every node of a cluster should have the same)")
	c.Flags().BoolVar(&leaseReads, "lease-reads", false, "serve reads of mode lease under the leader's lease, without a quorum round (linearizable only while clocks drift apart by less than --lease-max-drift per lease; every node should agree; see docs/cluster.md)")
	c.Flags().DurationVar(&leaseDrift, "lease-max-drift", 0, "the clock drift lease reads tolerate over one lease (default one --raft-tick); the lease lasts 9 ticks minus it")
	tls.add(c, "")
	return c
}

// waitSignal blocks until SIGINT or SIGTERM.
func waitSignal() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sig)
	<-sig
}

func newClusterCmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:   "cluster",
		Short: "Start a local cluster, show and steer a running one, make certificates",
	}
	c.AddCommand(newClusterUpCmd(e), newClusterStatusCmd(e), newClusterRegionsCmd(e), newClusterSplitCmd(e), newClusterCertsCmd(e),
		newClusterNodeStateCmd(e, "add-node"), newClusterNodeStateCmd(e, "remove-node"))
	return c
}

func newClusterUpCmd(e *env) *cobra.Command {
	var nodes, basePort int
	var dir string
	var tls, leaseReads bool
	c := &cobra.Command{
		Use:   "up --nodes 3 --dir DIR [--base-port 20160] [--tls]",
		Short: "Start a local cluster on 127.0.0.1 in this process (Ctrl-C stops it cleanly)",
		Long: `up starts --nodes nodes on 127.0.0.1 ports --base-port, --base-port+1, ...
in this process, each in DIR/nodeN, all of them initial nodes, and runs until
interrupted. Running it again on the same DIR restarts the same cluster. With
--tls it makes certificates in DIR/certs (once) and uses mutual TLS; clients
then need --tls-dir DIR/certs --tls-name client.`,
		Args: args(0, 0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if nodes < 1 {
				return usageError{errors.New("--nodes must be at least 1")}
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			ic := map[uint64]string{}
			var addrs []string
			for i := 1; i <= nodes; i++ {
				a := net.JoinHostPort("127.0.0.1", strconv.Itoa(basePort+i-1))
				ic[uint64(i)] = a
				addrs = append(addrs, a)
			}
			var files []certs.Files
			if tls {
				certDir := filepath.Join(dir, "certs")
				names := []string{"client"}
				for i := 1; i <= nodes; i++ {
					names = append(names, fmt.Sprintf("node%d", i))
				}
				if _, err := os.Stat(filepath.Join(certDir, "ca.crt")); err != nil {
					if _, err := certs.Generate(certDir, names, nil); err != nil {
						return err
					}
				}
				for i := 1; i <= nodes; i++ {
					t := clusterTLS{dir: certDir, name: fmt.Sprintf("node%d", i)}
					files = append(files, *t.files())
				}
			}
			var running []*server.Node
			defer func() {
				for _, n := range running {
					n.Close()
				}
			}()
			for i := 1; i <= nodes; i++ {
				cfg := server.Config{NodeID: uint64(i), ClusterID: 1, Dir: filepath.Join(dir, fmt.Sprintf("node%d", i)), LeaseReads: leaseReads,
					Listen: ic[uint64(i)], InitialCluster: ic,
					Logger: slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
				if tls {
					cfg.TLS = &files[i-1]
				}
				n, err := server.Start(cfg)
				if err != nil {
					return err
				}
				running = append(running, n)
			}
			flags := "--cluster " + strings.Join(addrs, ",")
			if tls {
				flags += " --tls-dir " + filepath.Join(dir, "certs") + " --tls-name client"
			}
			fmt.Fprintf(e.stdout, "strata cluster: %d nodes on %s\ntry: strata client %s put hello world\n     strata cluster status %s\nCtrl-C stops it.\n",
				nodes, strings.Join(addrs, " "), flags, flags)
			waitSignal()
			fmt.Fprintln(e.stdout, "stopping")
			return nil
		},
	}
	c.Flags().IntVar(&nodes, "nodes", 3, "number of nodes")
	c.Flags().StringVar(&dir, "dir", "", "directory for the nodes' data (DIR/nodeN)")
	c.MarkFlagRequired("dir")
	c.Flags().IntVar(&basePort, "base-port", 20160, "the first node's port")
	c.Flags().BoolVar(&tls, "tls", false, "mutual TLS with certificates made in DIR/certs")
	c.Flags().BoolVar(&leaseReads, "lease-reads", false, "serve reads of mode lease under the leaders' leases (see strata server --help)")
	return c
}

// clusterFlags are the flags of commands that talk to a running cluster.
type clusterFlags struct {
	addrs   string
	timeout time.Duration
	tls     clusterTLS
	mode    clusterpb.ReadMode // the client's reads
}

func (f *clusterFlags) add(c *cobra.Command) {
	c.Flags().StringVar(&f.addrs, "cluster", "127.0.0.1:20160", "addresses of some of the cluster's nodes, comma-separated")
	c.Flags().DurationVar(&f.timeout, "timeout", 10*time.Second, "give up after this long")
	f.tls.add(c, "client")
}

func (f *clusterFlags) client() (*client.Client, error) {
	dial, err := f.tls.dialOptions()
	if err != nil {
		return nil, err
	}
	return client.New(client.Options{Addrs: splitAddrs(f.addrs), DialOptions: dial, ReadMode: f.mode})
}

// admins returns an Admin client per address.
func (f *clusterFlags) admins() ([]clusterpb.AdminClient, func(), error) {
	dial, err := f.tls.dialOptions()
	if err != nil {
		return nil, nil, err
	}
	var out []clusterpb.AdminClient
	var conns []*grpc.ClientConn
	closeAll := func() {
		for _, cc := range conns {
			cc.Close()
		}
	}
	for _, a := range splitAddrs(f.addrs) {
		cc, err := grpc.NewClient(a, dial...)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		conns = append(conns, cc)
		out = append(out, clusterpb.NewAdminClient(cc))
	}
	return out, closeAll, nil
}

func newClusterStatusCmd(e *env) *cobra.Command {
	var f clusterFlags
	c := &cobra.Command{
		Use:   "status [--cluster ADDRS]",
		Short: "Show each node and the replicas it hosts",
		Args:  args(0, 0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			admins, done, err := f.admins()
			if err != nil {
				return err
			}
			defer done()
			ctx, cancel := context.WithTimeout(cmd.Context(), f.timeout)
			defer cancel()
			addrs := splitAddrs(f.addrs)
			var failed int
			for i, a := range admins {
				st, err := a.Status(ctx, &clusterpb.StatusRequest{})
				if err != nil {
					fmt.Fprintf(e.stdout, "%s: unreachable: %v\n", addrs[i], err)
					failed++
					continue
				}
				fmt.Fprintf(e.stdout, "node %d at %s (cluster %d): %d replicas\n", st.GetNode().GetId(), st.GetNode().GetAddress(), st.GetClusterId(), len(st.GetReplicas()))
				for _, r := range st.GetReplicas() {
					role := "follower"
					if r.GetIsLeader() {
						role = "leader"
					}
					if r.GetHibernating() {
						role += ", hibernating"
					}
					fmt.Fprintf(e.stdout, "  region %d %s peer %d %s term %d applied %d\n", r.GetRegion().GetId(), rangeText(r.GetRegion()), r.GetPeerId(), role, r.GetTerm(), r.GetApplied())
				}
			}
			if failed == len(admins) {
				return errors.New("no node answered")
			}
			return nil
		},
	}
	f.add(c)
	return c
}

// rangeText shows a region's key range.
func rangeText(r *clusterpb.Region) string {
	end := dataio.Escape(r.GetEndKey())
	if len(r.GetEndKey()) == 0 {
		end = "∞"
	}
	start := dataio.Escape(r.GetStartKey())
	if start == "" {
		start = `""`
	}
	return fmt.Sprintf("[%s, %s)", start, end)
}

func newClusterRegionsCmd(e *env) *cobra.Command {
	var f clusterFlags
	c := &cobra.Command{
		Use:   "regions [--cluster ADDRS]",
		Short: "List the regions of the user key space from the region map",
		Args:  args(0, 0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			dial, err := f.tls.dialOptions()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), f.timeout)
			defer cancel()
			var lastErr error
			for _, a := range splitAddrs(f.addrs) {
				cc, err := grpc.NewClient(a, dial...)
				if err != nil {
					return err
				}
				resp, err := clusterpb.NewPDClient(cc).ScanRegions(ctx, &clusterpb.ScanRegionsRequest{EndKey: client.SystemStart})
				cc.Close()
				if err == nil && resp.GetError() != "" {
					err = errors.New(resp.GetError())
				}
				if err != nil {
					lastErr = fmt.Errorf("%s: %w", a, err)
					continue
				}
				regs := resp.GetRegions()
				sort.Slice(regs, func(i, j int) bool {
					return string(regs[i].GetRegion().GetStartKey()) < string(regs[j].GetRegion().GetStartKey())
				})
				for _, r := range regs {
					var peers []string
					for _, p := range r.GetRegion().GetPeers() {
						s := fmt.Sprintf("%d@node%d", p.GetId(), p.GetNodeId())
						if p.GetRole() == clusterpb.PeerRole_LEARNER {
							s += "(learner)"
						}
						peers = append(peers, s)
					}
					ep := r.GetRegion().GetEpoch()
					fmt.Fprintf(e.stdout, "region %d %s epoch %d/%d peers %s\n", r.GetRegion().GetId(), rangeText(r.GetRegion()), ep.GetConfVer(), ep.GetVersion(), strings.Join(peers, " "))
				}
				return nil
			}
			return lastErr
		},
	}
	f.add(c)
	return c
}

func newClusterSplitCmd(e *env) *cobra.Command {
	var f clusterFlags
	var hex bool
	c := &cobra.Command{
		Use:   "split [--cluster ADDRS] KEY",
		Short: "Split the region holding KEY at KEY",
		Args:  args(1, 1, "KEY"),
		RunE: func(cmd *cobra.Command, a []string) error {
			key, err := parseKey(a[0], hex, "key")
			if err != nil {
				return err
			}
			admins, done, err := f.admins()
			if err != nil {
				return err
			}
			defer done()
			ctx, cancel := context.WithTimeout(cmd.Context(), f.timeout)
			defer cancel()
			var msgs []string
			// The split runs where the region's leader is: try every node.
			for _, ad := range admins {
				resp, err := ad.Split(ctx, &clusterpb.SplitRegionRequest{SplitKey: key})
				if err == nil && resp.GetError() == "" {
					fmt.Fprintf(e.stdout, "region %d %s and region %d %s\n", resp.GetLeft().GetId(), rangeText(resp.GetLeft()), resp.GetRight().GetId(), rangeText(resp.GetRight()))
					return nil
				}
				if err != nil {
					msgs = append(msgs, err.Error())
				} else {
					msgs = append(msgs, resp.GetError())
				}
			}
			return fmt.Errorf("split at %q failed: %s", key, strings.Join(msgs, "; "))
		},
	}
	f.add(c)
	c.Flags().BoolVar(&hex, "hex", false, "KEY is hex")
	return c
}

func newClusterCertsCmd(e *env) *cobra.Command {
	var dir, hosts string
	var nodes int
	c := &cobra.Command{
		Use:   "certs --dir DIR [--nodes 3] [--hosts HOST,...]",
		Short: "Make a local CA and node and client certificates for mutual TLS",
		Long: `certs makes (or, if DIR/ca.crt exists, reuses) a certificate authority in DIR
and signs certificates node1..nodeN and client with it, for 127.0.0.1, ::1,
localhost and --hosts. For tests and demos: production may use any CA.`,
		Args: args(0, 0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			names := []string{"client"}
			for i := 1; i <= nodes; i++ {
				names = append(names, fmt.Sprintf("node%d", i))
			}
			if _, err := certs.Generate(dir, names, splitAddrs(hosts)); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "certificates for %s in %s (CA: %s)\n", strings.Join(names, ", "), dir, filepath.Join(dir, "ca.crt"))
			return nil
		},
	}
	c.Flags().StringVar(&dir, "dir", "", "directory for the certificates")
	c.MarkFlagRequired("dir")
	c.Flags().IntVar(&nodes, "nodes", 3, "node certificates to make")
	c.Flags().StringVar(&hosts, "hosts", "", "extra host names or IP addresses the certificates name")
	return c
}

func newClientCmd(e *env) *cobra.Command {
	var f clusterFlags
	var limit int
	var reverse, hex bool
	var readMode string
	c := &cobra.Command{
		Use:   "client [--cluster ADDRS] get KEY | put KEY VALUE | delete KEY | scan [START [END]] | cas KEY OLD NEW",
		Short: "Read and write a cluster's keys",
		Long: `client talks to a cluster through its Go client (region cache, retries).
cas sets KEY to NEW if its value is OLD; an OLD of - means the key must be
absent. A write whose outcome cannot be known (a timeout after it reached the
leader) fails with "outcome is unknown" and exit status 3: it may have applied.
Keys from 0xFF up belong to the cluster and are refused.`,
		Args: args(1, 4, "an operation and its arguments"),
		RunE: func(cmd *cobra.Command, a []string) error {
			op, rest := a[0], a[1:]
			need := map[string]int{"get": 1, "put": 2, "delete": 1, "cas": 3}
			if n, ok := need[op]; ok && len(rest) != n {
				return usageError{fmt.Errorf("%s needs %d arguments", op, n)}
			} else if !ok && op != "scan" {
				return usageError{fmt.Errorf("unknown operation %q (get, put, delete, scan, cas)", op)}
			}
			var keys [][]byte
			for i, s := range rest {
				k, err := parseKey(s, hex, "argument")
				if err != nil {
					return err
				}
				if i == 0 && len(k) > 0 && k[0] == 0xff {
					return usageError{fmt.Errorf("key %q is in the system key space (0xFF and up)", s)}
				}
				keys = append(keys, k)
			}
			m, ok := clusterpb.ReadMode_value[strings.ToUpper(readMode)]
			if !ok {
				return usageError{fmt.Errorf("--read-mode %q: want linearizable, lease or stale", readMode)}
			}
			f.mode = clusterpb.ReadMode(m)
			cl, err := f.client()
			if err != nil {
				return err
			}
			defer cl.Close()
			ctx, cancel := context.WithTimeout(cmd.Context(), f.timeout)
			defer cancel()
			show := func(b []byte) string {
				if hex {
					return fmt.Sprintf("%x", b)
				}
				return dataio.Escape(b)
			}
			switch op {
			case "get":
				v, err := cl.Get(ctx, keys[0])
				if errors.Is(err, client.ErrNotFound) {
					return errNotFound
				}
				if err != nil {
					return err
				}
				fmt.Fprintln(e.stdout, show(v))
			case "put":
				err = cl.Put(ctx, keys[0], keys[1])
			case "delete":
				err = cl.Delete(ctx, keys[0])
			case "cas":
				old := keys[1]
				if rest[1] == "-" {
					old = nil
				}
				var ok bool
				ok, err = cl.CompareAndSwap(ctx, keys[0], old, keys[2])
				if err == nil && !ok {
					return errors.New("cas: the current value is not OLD; nothing written")
				}
			case "scan":
				var start, end []byte
				if len(keys) > 0 {
					start = keys[0]
				}
				if len(keys) > 1 {
					end = keys[1]
				}
				kvs, err := cl.Scan(ctx, start, end, client.ScanOptions{Limit: limit, Reverse: reverse})
				if err != nil {
					return err
				}
				for _, kv := range kvs {
					fmt.Fprintf(e.stdout, "%s\t%s\n", show(kv.Key), show(kv.Value))
				}
			}
			if errors.Is(err, client.ErrUnknownResult) {
				return &exitError{code: 3, msg: "strata client: " + err.Error()}
			}
			return err
		},
	}
	f.add(c)
	c.Flags().IntVar(&limit, "limit", 0, "scan: at most this many pairs (0: all)")
	c.Flags().BoolVar(&reverse, "reverse", false, "scan: from the end backward")
	c.Flags().BoolVar(&hex, "hex", false, "keys and values are hex, in and out")
	c.Flags().StringVar(&readMode, "read-mode", "linearizable", "get and scan: linearizable (ReadIndex), lease (the leader's lease where the servers have --lease-reads) or stale (any replica)")
	return c
}

// newClusterNodeStateCmd is add-node (record a node UP with its address, so
// that the placement driver may place replicas on it) and remove-node (mark
// it REMOVING: its replicas are moved off, then it is REMOVED).
func newClusterNodeStateCmd(e *env, name string) *cobra.Command {
	var f clusterFlags
	var addr string
	c := &cobra.Command{
		Use:   name + " [--cluster ADDRS] ID",
		Short: "Admit a node (then start it with strata server --join)",
		Args:  args(1, 1, "ID"),
		RunE: func(cmd *cobra.Command, a []string) error {
			id, err := strconv.ParseUint(a[0], 10, 64)
			if err != nil || id == 0 {
				return usageError{fmt.Errorf("node id %q: want a positive number", a[0])}
			}
			state := clusterpb.Node_UP
			if name == "remove-node" {
				state = clusterpb.Node_REMOVING
			} else if addr == "" {
				return usageError{errors.New("add-node needs --addr (the node's gRPC address)")}
			}
			admins, done, err := f.admins()
			if err != nil {
				return err
			}
			defer done()
			ctx, cancel := context.WithTimeout(cmd.Context(), f.timeout)
			defer cancel()
			var msgs []string
			for _, ad := range admins {
				resp, err := ad.SetNodeState(ctx, &clusterpb.SetNodeStateRequest{NodeId: id, State: state, Address: addr})
				if err == nil && resp.GetError() == "" {
					if state == clusterpb.Node_REMOVING {
						fmt.Fprintf(e.stdout, "node %d is being removed: its replicas move to other nodes (strata cluster status shows them)\n", id)
					} else {
						fmt.Fprintf(e.stdout, "node %d at %s admitted: start it with strata server --id %d --listen %s --join %s\n", id, addr, id, addr, f.addrs)
					}
					return nil
				}
				if err != nil {
					msgs = append(msgs, err.Error())
				} else {
					msgs = append(msgs, resp.GetError())
				}
			}
			return fmt.Errorf("%s %d failed: %s", name, id, strings.Join(msgs, "; "))
		},
	}
	if name == "remove-node" {
		c.Short = "Move a node's replicas to other nodes, then mark it removed"
	}
	f.add(c)
	c.Flags().StringVar(&addr, "addr", "", "add-node: the node's gRPC address")
	return c
}
