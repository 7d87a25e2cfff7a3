package render

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/bench/suite"
	"github.com/strata-db/strata/tools/dbbench"
)

// TestSpliceTxn: the Transactions section goes before "## Every
// repetition", replaces itself when rendered again, and judges the
// targets from the records and the Go benchmark's CPU time.
func TestSpliceTxn(t *testing.T) {
	dir := t.TempDir()
	page := "# Benchmarks\n\n## 3. Bulk load\n\ntext\n\n## Every repetition\n\nraw\n"
	if err := os.WriteFile(filepath.Join(dir, "benchmarks.md"), []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	d := &TxnData{Header: suite.TxnHeader{Type: "txn-run", Started: time.Now(), Plan: suite.NewTxnPlan(true, 1, 1),
		Engines: []*suite.Engine{{Name: "strata"}, {Name: "strata-pessimistic"}, {Name: "badger"}}}}
	add := func(w, e string, ops float64, maxRetries int) {
		d.Records = append(d.Records, suite.TxnRecord{Type: "result", Workload: w, Engine: e, Rep: 1,
			Result: dbbench.Result{Name: w, OpsPerSec: ops}, Txn: dbbench.TxnStats{Committed: 100, MaxRetries: maxRetries}})
	}
	for _, e := range []string{"strata", "strata-pessimistic", "badger"} {
		add("rmw-1", e, map[string]float64{"strata": 30000, "strata-pessimistic": 25000, "badger": 10000}[e], 0)
		add("contended-8", e, map[string]float64{"strata": 9000, "strata-pessimistic": 9500, "badger": 10000}[e], 4)
		add("batch-64-sync", e, 50000, 0)
	}
	g, err := LoadGoBench(strings.NewReader("$ go test -bench TxnVsBatch\n" +
		"BenchmarkTxnVsBatch/writes=2/batch-2   100  9000 ns/op  12.0 MB/s  4000 cpu-ns/op  24 B/op  0 allocs/op\n" +
		"BenchmarkTxnVsBatch/writes=2/txn-2     100  9500 ns/op  12.0 MB/s  6000 cpu-ns/op  900 B/op  8 allocs/op\n"))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := SpliceTxn(dir, d, g, "notes here", TxnSources{Results: "r", GoBench: "g", Notes: "n"}); err != nil {
			t.Fatal(err)
		}
	}
	out, _ := os.ReadFile(filepath.Join(dir, "benchmarks.md"))
	s := string(out)
	if strings.Count(s, "## Transactions") != 1 || strings.Index(s, "## Transactions") > strings.Index(s, "## Every repetition") ||
		!strings.Contains(s, "text\n") || !strings.Contains(s, "raw\n") || !strings.Contains(s, "notes here") {
		t.Fatalf("page:\n%s", s)
	}
	for _, want := range []string{
		"Strata is 3.00× | **met**",        // rmw-1: 30k against Badger's 10k
		"Strata is 0.90× | **missed**",     // contended: 9k against 10k
		"+50% CPU (+6% wall) | **missed**", // 6000 against 4000 CPU ns
		"50k writes/s",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("no %q in:\n%s", want, s)
		}
	}
}
