// Package cluster owns the K-Means++ customer segmentation of the tag engine (tag `segment.cluster`):
// z-score standardisation with frozen parameters, k-means++ seeding with Lloyd iterations (accelerated with
// Hamerly's bounds, exact), restarts, mean silhouette (exact and sampled), the choice of k by silhouette,
// and the adjusted Rand index for comparing partitions.
//
// It is pure computation over plain float64 slices: no I/O, no globals, and every result is a deterministic
// function of its inputs and the *rand.Rand it is given. Work is split across goroutines in fixed-size chunks
// whose partial sums are combined in chunk order, so results do not depend on GOMAXPROCS or Options.Workers.
package cluster
