package vault

// SetPageSize makes batch decisions read n subjects at a time until restore is called, so that a test can
// cross many page boundaries with few subjects.
func SetPageSize(n int) (restore func()) {
	old := pageSize
	pageSize = n
	return func() { pageSize = old }
}

// SetSelectionGroup logs decision entries n to a group commit until restore is called.
func SetSelectionGroup(n int) (restore func()) {
	old := selectionGroup
	selectionGroup = n
	return func() { selectionGroup = old }
}
