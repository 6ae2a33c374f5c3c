package postgres

// Crash stops the integrator as a killed process would: no last checkpoint, the lease left to expire.
func (l *Log) Crash() {
	close(l.quit)
	<-l.done
}
