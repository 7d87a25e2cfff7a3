package sqlbench

import (
	"os"
	"testing"
)

func TestParseRun(t *testing.T) {
	data, err := os.ReadFile("testdata/run-oltp_read_write.txt")
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseRun(string(data))
	if err != nil {
		t.Fatal(err)
	}
	want := Stats{Transactions: 827, TPS: 411.41, Queries: 16540, QPS: 8228.27, Seconds: 2.0096,
		LatMinMs: 1.57, LatAvgMs: 4.85, LatMaxMs: 92.78, LatP95Ms: 11.04}
	if s != want {
		t.Fatalf("got %+v\nwant %+v", s, want)
	}
	if _, err := ParseRun("FATAL: no connection"); err == nil {
		t.Fatal("a report without statistics parsed")
	}
}
