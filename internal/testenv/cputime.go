package testenv

import (
	"testing"
	"time"
)

// CPUMeter reports the process's CPU time per operation ("cpu-ns/op")
// beside a benchmark's wall time: on a shared machine, wall time also
// counts the waits for a core, and CPU time is the steadier figure to
// compare cases by (it still counts the runtime's background work, the
// collector's, and the process's other goroutines).
type CPUMeter time.Duration

// StartCPU starts a CPUMeter at the process's CPU time so far.
func StartCPU() CPUMeter {
	d, _ := ProcessCPU()
	return CPUMeter(d)
}

// Report adds the CPU time used since StartCPU, divided by b.N, to b's
// results as cpu-ns/op; nothing where the CPU time cannot be read.
func (c CPUMeter) Report(b *testing.B) {
	now, ok := ProcessCPU()
	if used := now - time.Duration(c); ok && used > 0 && b.N > 0 {
		b.ReportMetric(float64(used.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}
