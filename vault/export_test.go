package vault

// SetPageSize makes batch decisions read n subjects at a time until restore is called, so that a test can
// cross many page boundaries with few subjects.
func SetPageSize(n int) (restore func()) {
	old := pageSize
	pageSize = n
	return func() { pageSize = old }
}
