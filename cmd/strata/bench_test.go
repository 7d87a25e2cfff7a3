package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-db/strata/tools/dbbench"
)

func TestBench(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	out := mustStrata(t, "", "bench", "--benchmarks=fillrandom,readrandom,readmissing", "--num=2000",
		"--db="+dir, "--histogram", "--cache_size=1048576")
	results, err := dbbench.Parse(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 3 {
		t.Fatalf("%d report lines in\n%s", len(results), out)
	}
	for i, name := range []string{"fillrandom", "readrandom", "readmissing"} {
		r := results[i]
		if r.Name != name || r.Ops != 2000 || r.OpsPerSec <= 0 || r.Percentiles["P99.9"] <= 0 {
			t.Errorf("line %d: %+v", i, r)
		}
	}
	if r := results[1]; r.Reads != 2000 || r.Found == 0 || r.Found == 2000 {
		// fillrandom draws keys with repeats: some, not all, are found.
		t.Errorf("readrandom found %d of %d", r.Found, r.Reads)
	}
	if r := results[2]; r.Found != 0 || r.Reads != 2000 {
		t.Errorf("readmissing found %d of %d", r.Found, r.Reads)
	}
	// The database stays for --use_existing_db.
	out = mustStrata(t, "", "bench", "--benchmarks=fillseq,readseq", "--use_existing_db", "--num=2000", "--db="+dir)
	if !strings.Contains(out, "fillseq      : skipped (--use_existing_db is true)") || !strings.Contains(out, "readseq") {
		t.Errorf("use_existing_db output:\n%s", out)
	}
}

func TestBenchErrors(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	wantError(t, strataExec(t, "", "bench", "--benchmarks=fillseq,bogus", "--db="+dir), 1, `unknown benchmark "bogus"`)
	wantError(t, strataExec(t, "", "bench", "--num=many", "--db="+dir), 2, "--num")
	wantError(t, strataExec(t, "", "bench", "--benchmarks=readrandom", "--use_existing_db", "--db="+dir), 1, dir)
}
