//go:build unix

package vault_test

import (
	"syscall"
	"time"
)

// processCPU is the CPU time (user and system) the process has used so far, every goroutine counted: the
// benchmarks report it beside wall time, which the other work on a shared machine stretches.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
