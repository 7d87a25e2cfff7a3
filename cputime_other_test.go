//go:build !unix

package strata

import "time"

func processCPU() (time.Duration, bool) { return 0, false }
