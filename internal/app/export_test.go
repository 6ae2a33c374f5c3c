package app

// MigratedTables lists the SQLite tables vaultd migrate copies and those it leaves, with why (tests only).
func MigratedTables() (copied []string, skipped map[string]string) {
	for _, t := range migrateTables {
		copied = append(copied, t.source)
	}
	return copied, notMigrated
}
