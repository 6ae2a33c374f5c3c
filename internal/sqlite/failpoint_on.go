//go:build failpoints

package sqlite

import (
	"os"
	"syscall"
)

// failpoint kills the process with SIGKILL at the named place when VAULTD_FAILPOINT names it: crash tests
// build the binary with -tags failpoints to stop it exactly there (cmd/vaultd/crash_test.go).
func failpoint(name string) {
	if os.Getenv("VAULTD_FAILPOINT") == name {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
}
