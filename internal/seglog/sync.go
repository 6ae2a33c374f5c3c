package seglog

import (
	"os"
	"sync/atomic"
)

// syncFault, when set (by a test), is what datasync returns instead of syncing: a disk that fails.
var syncFault atomic.Pointer[error]

// datasync flushes f to stable storage (fdatasync), or fails with syncFault.
func datasync(f *os.File) error {
	if p := syncFault.Load(); p != nil {
		return *p
	}
	return fdatasync(f)
}
