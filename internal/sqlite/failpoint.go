//go:build !failpoints

package sqlite

// failpoint marks a place where a crash test built with -tags failpoints may stop the process; in every
// other build it is nothing.
func failpoint(string) {}
