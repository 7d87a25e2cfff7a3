//go:build unix

package sim

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time (user and system) the process has used,
// every goroutine (all three stores, the network, the clients) included.
func processCPU() (d time.Duration, ok bool) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
