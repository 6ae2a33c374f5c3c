package seglog

import (
	"os"
	"syscall"
)

// datasync flushes f's data (and the metadata needed to read it back) to stable storage: fdatasync(2).
func datasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }
