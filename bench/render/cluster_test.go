package render

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/bench/clusterbench"
)

// TestSpliceCluster: the Cluster section goes before "## Every
// repetition", replaces itself when rendered again, and judges each row
// against etcd (2× for puts with 64 clients).
func TestSpliceCluster(t *testing.T) {
	dir := t.TempDir()
	page := "# Benchmarks\n\n## 3. Bulk load\n\ntext\n\n## Every repetition\n\nraw\n"
	if err := os.WriteFile(filepath.Join(dir, "benchmarks.md"), []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	d := &ClusterData{Header: clusterbench.Header{Type: "cluster-run", Started: time.Now(),
		Plan: clusterbench.Plan{Workloads: []string{"put", "get"}, Clients: []int{1, 64}, Systems: []string{"strata", "etcd"},
			Reps: 1, Seconds: 10, ValueSize: 100, RangeSize: 100, Regions: 8, IdleSeconds: 30}}}
	add := func(sys, w string, c int, ops float64) {
		d.Records = append(d.Records, clusterbench.Record{Type: "cluster-result", Rep: 1, System: sys, Workload: w, Clients: c,
			OpsPerSec: ops, Outcome: clusterbench.Outcome{Ops: int(ops * 10), Seconds: 10, P50: 1000, P99: 5000}, ServerCPU: 5, MachineCPU: 15})
	}
	add("strata", "put", 1, 400)
	add("etcd", "put", 1, 350)
	add("strata", "put", 64, 3000) // 1.5×: below the 2× target
	add("etcd", "put", 64, 2000)
	add("strata", "get", 1, 900)
	add("etcd", "get", 1, 1000)
	add("strata", "get", 64, 6000)
	add("etcd", "get", 64, 4000)
	d.Records = append(d.Records, clusterbench.Record{Type: "cluster-idle", Idle: &clusterbench.Idle{System: "strata", Regions: 1001,
		Seconds: 30, CPUPercent: []float64{1, 2, 3}, TotalPercent: 6, Replicas: 3003, Hibernating: 3000}})
	for i := 0; i < 2; i++ {
		if err := SpliceCluster(dir, d, "notes here", "results/cluster.jsonl", "results/cluster-notes.md"); err != nil {
			t.Fatal(err)
		}
	}
	out, err := os.ReadFile(filepath.Join(dir, "benchmarks.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, want := range []string{
		"| put (100 B values), 1 client: ≥ 1× etcd | 400 ops/s | 350 ops/s | 1.14× | **met** |",
		"| put (100 B values), 64 clients: ≥ 2× etcd | 3.0k ops/s | 2.0k ops/s | 1.50× | **missed** |",
		"| get (linearizable), 1 client: ≥ 1× etcd | 900 ops/s | 1.0k ops/s | 0.90× | **missed** |",
		"| strata | 1,001 | 6.00 |",
		"notes here",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("the page lacks %q:\n%s", want, s)
		}
	}
	if strings.Count(s, clusterBegin) != 1 || strings.Index(s, clusterBegin) > strings.Index(s, "## Every repetition") {
		t.Errorf("want one Cluster section before the raw tables:\n%s", s)
	}
}
