package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/cluster/server"
)

// TestClusterCommands drives a three-node cluster (in this process) with the
// client and cluster commands.
func TestClusterCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three nodes")
	}
	var addrs []string
	initial := map[uint64]string{}
	for i := 1; i <= 3; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, l.Addr().String())
		initial[uint64(i)] = l.Addr().String()
		l.Close()
	}
	for i := 1; i <= 3; i++ {
		n, err := server.Start(server.Config{NodeID: uint64(i), ClusterID: 1, Dir: t.TempDir(), Listen: addrs[i-1],
			InitialCluster: initial, TickInterval: 50 * time.Millisecond, HeartbeatInterval: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer n.Close()
	}
	cl := "--cluster=" + strings.Join(addrs, ",")
	// The first write waits for the first election.
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := runStrata(t, "", "client", cl, "put", "hello", "world")
		if r.code == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("first put: %s", r)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := mustStrata(t, "", "client", cl, "get", "hello"); got != "world\n" {
		t.Fatalf("get: %q", got)
	}
	if r := runStrata(t, "", "client", cl, "get", "nope"); r.code != 1 || !strings.Contains(r.stderr, "not found") {
		t.Fatalf("get missing: %s", r)
	}
	for _, k := range []string{"a", "b", "c", "d"} {
		mustStrata(t, "", "client", cl, "put", k, "v"+k)
	}
	mustStrata(t, "", "client", cl, "delete", "d")
	if out := mustStrata(t, "", "cluster", "split", cl, "c"); !strings.Contains(out, `[c, \xff)`) {
		t.Fatalf("split: %q", out)
	}
	var scan string
	for time.Now().Before(deadline.Add(10 * time.Second)) {
		if r := runStrata(t, "", "client", cl, "scan"); r.code == 0 {
			scan = r.stdout
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if scan != "a\tva\nb\tvb\nc\tvc\nhello\tworld\n" {
		t.Fatalf("scan: %q", scan)
	}
	if out := mustStrata(t, "", "client", cl, "scan", "--reverse", "--limit", "2"); out != "hello\tworld\nc\tvc\n" {
		t.Fatalf("reverse scan: %q", out)
	}
	mustStrata(t, "", "client", cl, "cas", "a", "va", "va2")
	if r := runStrata(t, "", "client", cl, "cas", "a", "va", "va3"); r.code != 1 || !strings.Contains(r.stderr, "not OLD") {
		t.Fatalf("failed cas: %s", r)
	}
	mustStrata(t, "", "client", cl, "cas", "new", "-", "1")
	if r := runStrata(t, "", "client", cl, "put", `\xff`, "x"); r.code != 2 {
		t.Fatalf("system key: %s", r)
	}
	for time.Now().Before(deadline.Add(20 * time.Second)) {
		if out := mustStrata(t, "", "cluster", "regions", cl); strings.Count(out, "region ") == 2 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if out := mustStrata(t, "", "cluster", "regions", cl); strings.Count(out, "region ") != 2 || !strings.Contains(out, "epoch 1/2") {
		t.Fatalf("regions: %q", out)
	}
	status := mustStrata(t, "", "cluster", "status", cl)
	if strings.Count(status, "replicas") != 3 || !strings.Contains(status, "leader") {
		t.Fatalf("status: %q", status)
	}
	if out := mustStrata(t, "", "cluster", "add-node", cl, "--addr", "127.0.0.1:1", "4"); !strings.Contains(out, "admitted") {
		t.Fatalf("add-node: %q", out)
	}
	if out := mustStrata(t, "", "cluster", "remove-node", cl, "4"); !strings.Contains(out, "being removed") {
		t.Fatalf("remove-node: %q", out)
	}
	dir := filepath.Join(t.TempDir(), "certs")
	mustStrata(t, "", "cluster", "certs", "--dir", dir, "--nodes", "2")
	for _, f := range []string{"ca.crt", "ca.key", "node1.crt", "node2.key", "client.crt"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("certs: %v", err)
		}
	}
}
