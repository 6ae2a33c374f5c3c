// Package profiling owns the pure core of the tag engine: the tag definitions and their vocabulary (with the
// GB/T 35273 §7.4 deny list), per-subject feature extraction from decrypted events, the population models
// fitted in a full run (RFM quintile edges, BG/NBD and Gamma-Gamma, K-Means segments, season shares,
// population medians), the per-subject tags computed from features and the frozen population, and the
// aggregate insights (RFM segments, cluster centroids, association rules, key purchase factors).
//
// The package knows nothing of storage, HTTP, consent records or encryption. The vault decrypts a subject's
// data, decides which input categories the subject's legal basis allows for the purpose being computed, and
// hands over a [Subject] holding only data of those categories together with the [Subject.Allowed] set.
// This package never reads data of a category outside Allowed (it checks every event and field again) and
// [Compute] returns only tags whose declared inputs are all in Allowed and whose key and value the
// vocabulary allows. It never reads contact or sensitive fields (name, phone, email, address_line,
// id_number, bank_account): only birth_date, province and city.
//
// Everything is deterministic given its inputs (randomness comes from a seed in [Options]); nothing here
// performs I/O, and the only package-level state is the immutable embedded vocabulary and city table.
package profiling
