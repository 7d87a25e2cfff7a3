package clusterbench

import (
	"os"
	"testing"
)

// TestCPUReaders: this process's CPU time from /proc/PID/stat, the
// machine's from /proc/stat.
func TestCPUReaders(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	x := 0
	for i := range 50_000_000 { // some CPU time, so that it is not 0
		x += i
	}
	_ = x
	self, err := ProcCPU(os.Getpid())
	if err != nil || self <= 0 {
		t.Fatalf("ProcCPU(self) = %v, %v", self, err)
	}
	m, err := MachineCPU()
	if err != nil || m < self {
		t.Fatalf("MachineCPU() = %v, %v (self %v)", m, err, self)
	}
	if _, err := ProcCPU(1 << 30); err == nil {
		t.Error("ProcCPU of a missing process: no error")
	}
}
