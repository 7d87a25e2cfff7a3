package sqlbench

import (
	"os"
	"runtime"
	"testing"
)

// processCPU reads this process's CPU time, which grows as it works.
func TestProcessCPU(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc is Linux's")
	}
	a, ok := processCPU(os.Getpid())
	if !ok {
		t.Fatal("no CPU time for this process")
	}
	x := 0
	for i := range 200_000_000 {
		x += i ^ (x >> 3)
	}
	b, ok := processCPU(os.Getpid())
	if !ok || b <= a {
		t.Fatalf("CPU time %v then %v (ok %v, %d)", a, b, ok, x)
	}
	if _, ok := processCPU(-1); ok {
		t.Error("a CPU time for pid -1")
	}
}
