//go:build !unix

package testenv

import "time"

// ProcessCPU returns the CPU time the process has used; ok is false where
// it cannot, as here.
func ProcessCPU() (d time.Duration, ok bool) { return 0, false }
